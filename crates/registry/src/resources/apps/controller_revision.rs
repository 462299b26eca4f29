//! ControllerRevision (apps/v1): the rules of `controllerrevisions`.
//!
//! Upstream (`ValidateControllerRevision`, `ValidateControllerRevisionUpdate` in
//! `pkg/apis/apps/validation`): a revision is a snapshot the StatefulSet and DaemonSet
//! controllers roll back to, so its data is required and never changes.

use super::shared::{IMMUTABLE_MSG, nonnegative};
use crate::strategy::TypedStrategy;
use k8s_openapi::api::apps::v1::ControllerRevision;
use rkube_machinery::{ErrorList, FieldError, FieldPath, Value};

/// The rules of ControllerRevision objects.
pub struct ControllerRevisionStrategy;

impl TypedStrategy for ControllerRevisionStrategy {
    type Object = ControllerRevision;

    fn validate(&self, obj: &ControllerRevision) -> ErrorList {
        let mut errs = ErrorList::new();
        if obj.data.is_none() {
            errs.push(FieldError::required(
                FieldPath::new("data"),
                "data is mandatory",
            ));
        }
        nonnegative(&mut errs, FieldPath::new("revision"), obj.revision);
        errs
    }

    fn validate_update(&self, new: &ControllerRevision, old: &ControllerRevision) -> ErrorList {
        let mut errs = self.validate(new);
        if new.data != old.data {
            let raw = new
                .data
                .as_ref()
                .map(|d| d.0.to_string())
                .unwrap_or_default();
            errs.push(FieldError::invalid(
                FieldPath::new("data"),
                Value::Raw(raw),
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

    fn revision(v: serde_json::Value) -> ControllerRevision {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn data_is_required_and_immutable() {
        let missing = revision(json!({"metadata": {"name": "r"}, "revision": -1}));
        let msgs: Vec<String> = ControllerRevisionStrategy
            .validate(&missing)
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            msgs,
            vec![
                "data: Required value: data is mandatory",
                "revision: Invalid value: -1: must be greater than or equal to 0"
            ]
        );
        let old = revision(json!({"metadata": {"name": "r"}, "revision": 1, "data": {"a": 1}}));
        assert!(
            ControllerRevisionStrategy
                .validate_update(&old, &old)
                .is_empty()
        );
        let new = revision(json!({"metadata": {"name": "r"}, "revision": 1, "data": {"a": 2}}));
        let msgs: Vec<String> = ControllerRevisionStrategy
            .validate_update(&new, &old)
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(msgs.len(), 1);
        assert!(
            msgs[0].starts_with("data: Invalid value: ") && msgs[0].ends_with("field is immutable"),
            "{msgs:?}"
        );
    }
}
