//! Event (v1): the rules of core `events` (upstream's legacy event validation): the involved
//! object's namespace must match the event's, and events with an `eventTime` (the new style)
//! need a reporting controller, instance, action and reason. The field selectors are those
//! `kubectl get events --field-selector` and `kubectl describe` use.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::core::v1::Event;
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath};

/// The rules of Event objects.
pub struct EventStrategy;

impl TypedStrategy for EventStrategy {
    type Object = Event;
    const FIELDS: &'static [&'static str] = &[
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ];

    fn validate(&self, e: &Event) -> ErrorList {
        let mut errs = ErrorList::new();
        let ns = e.metadata.namespace.as_deref().unwrap_or("");
        let involved_ns = e.involved_object.namespace.as_deref().unwrap_or("");
        let mismatch = if e.event_time.is_none() {
            if involved_ns.is_empty() {
                !ns.is_empty() && ns != "default"
            } else {
                ns != involved_ns
            }
        } else {
            involved_ns.is_empty() && ns != "default" && ns != "kube-system"
        };
        if mismatch {
            errs.push(FieldError::invalid(
                FieldPath::new("involvedObject").child("namespace"),
                involved_ns,
                "does not match event.namespace",
            ));
        }
        if e.event_time.is_some() {
            errs.extend(validate_new_style(e));
        }
        errs
    }

    fn field_values(&self, e: &Event) -> Vec<(&'static str, String)> {
        let o = &e.involved_object;
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        vec![
            ("involvedObject.kind", s(&o.kind)),
            ("involvedObject.namespace", s(&o.namespace)),
            ("involvedObject.name", s(&o.name)),
            ("involvedObject.uid", s(&o.uid)),
            ("involvedObject.apiVersion", s(&o.api_version)),
            ("involvedObject.resourceVersion", s(&o.resource_version)),
            ("involvedObject.fieldPath", s(&o.field_path)),
            ("reason", s(&e.reason)),
            ("reportingComponent", s(&e.reporting_component)),
            (
                "source",
                e.source
                    .as_ref()
                    .and_then(|x| x.component.clone())
                    .unwrap_or_default(),
            ),
            ("type", s(&e.type_)),
        ]
    }
}

fn validate_new_style(e: &Event) -> ErrorList {
    let mut errs = ErrorList::new();
    let controller = e.reporting_component.as_deref().unwrap_or("");
    if controller.is_empty() {
        errs.push(FieldError::required(
            FieldPath::new("reportingComponent"),
            "",
        ));
    }
    errs.extend(v::validate_qualified_name(
        controller,
        &FieldPath::new("reportingComponent"),
    ));
    let limits = [
        ("reportingInstance", &e.reporting_instance, 128),
        ("action", &e.action, 128),
        ("reason", &e.reason, 128),
    ];
    for (field, value, max) in limits {
        let value = value.as_deref().unwrap_or("");
        if value.is_empty() {
            errs.push(FieldError::required(FieldPath::new(field), ""));
        }
        if value.len() > max {
            errs.push(FieldError::invalid(
                FieldPath::new(field),
                "",
                format!("can have at most {max} characters"),
            ));
        }
    }
    if e.message.as_deref().unwrap_or("").len() > 1024 {
        errs.push(FieldError::invalid(
            FieldPath::new("message"),
            "",
            "can have at most 1024 characters",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use crate::resources::core::testing::create_error;
    use serde_json::json;

    #[test]
    fn namespace_must_match() {
        let e = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
            "involvedObject": {"kind": "Pod", "name": "p", "namespace": "other"}});
        assert_eq!(
            create_error("events", e),
            "involvedObject.namespace: Invalid value: \"other\": does not match event.namespace"
        );
    }
}
