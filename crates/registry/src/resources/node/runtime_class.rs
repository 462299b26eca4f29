//! RuntimeClass (node.k8s.io/v1): the rules of `runtimeclasses`.
//!
//! Upstream (`ValidateRuntimeClass`, `pkg/apis/node/validation`): the handler names a CRI
//! runtime handler, must be a DNS label, and never changes.

use crate::resources::apps::shared::IMMUTABLE_MSG;
use crate::strategy::TypedStrategy;
use k8s_openapi::api::node::v1::RuntimeClass;
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath};

/// The rules of RuntimeClass objects.
pub struct RuntimeClassStrategy;

impl TypedStrategy for RuntimeClassStrategy {
    type Object = RuntimeClass;

    fn validate(&self, obj: &RuntimeClass) -> ErrorList {
        let mut errs = ErrorList::new();
        if obj.handler.is_empty() {
            errs.push(FieldError::required(FieldPath::new("handler"), ""));
        }
        for m in v::is_dns1123_label(&obj.handler)
            .into_iter()
            .filter(|_| !obj.handler.is_empty())
        {
            errs.push(FieldError::invalid(
                FieldPath::new("handler"),
                obj.handler.as_str(),
                m,
            ));
        }
        errs
    }

    fn validate_update(&self, new: &RuntimeClass, old: &RuntimeClass) -> ErrorList {
        let mut errs = self.validate(new);
        if new.handler != old.handler {
            errs.push(FieldError::invalid(
                FieldPath::new("handler"),
                new.handler.as_str(),
                IMMUTABLE_MSG,
            ));
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn class(handler: &str) -> RuntimeClass {
        serde_json::from_value(json!({"metadata": {"name": "gvisor"}, "handler": handler})).unwrap()
    }

    #[test]
    fn handler_rules() {
        assert_eq!(
            RuntimeClassStrategy
                .validate(&class(""))
                .aggregate_message(),
            "handler: Required value"
        );
        assert_eq!(
            RuntimeClassStrategy
                .validate_update(&class("kata"), &class("runsc"))
                .aggregate_message(),
            r#"handler: Invalid value: "kata": field is immutable"#
        );
    }
}
