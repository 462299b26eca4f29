//! PriorityClass (scheduling.k8s.io/v1): the rules of `priorityclasses`.
//!
//! Upstream: `SetDefaults_PriorityClass` (preempt lower priorities unless told otherwise),
//! `ValidatePriorityClass` and `ValidatePriorityClassUpdate` (`pkg/apis/scheduling/validation`):
//! user classes stay at or below one billion, the `system-` prefix belongs to the two
//! built-in classes, and value and preemption policy never change.

use crate::resources::apps::shared::{IMMUTABLE_MSG, str_value};
use crate::strategy::TypedStrategy;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use rkube_machinery::{ErrorList, FieldError, FieldPath};

/// The highest priority a user-defined class may have.
pub const HIGHEST_USER_DEFINABLE_PRIORITY: i32 = 1_000_000_000;

/// The built-in classes: name, value, global default.
const SYSTEM_CLASSES: [(&str, i32, bool); 2] = [
    ("system-node-critical", 2_000_001_000, false),
    ("system-cluster-critical", 2_000_000_000, false),
];

/// The rules of PriorityClass objects.
pub struct PriorityClassStrategy;

impl TypedStrategy for PriorityClassStrategy {
    type Object = PriorityClass;

    fn default(&self, obj: &mut PriorityClass) {
        obj.preemption_policy
            .get_or_insert_with(|| "PreemptLowerPriority".into());
    }

    fn validate(&self, obj: &PriorityClass) -> ErrorList {
        let mut errs = ErrorList::new();
        let name = obj.metadata.name.as_deref().unwrap_or("");
        if name.starts_with("system-") {
            if let Err(e) = check_system_class(name, obj.value, obj.global_default.unwrap_or(false))
            {
                let detail = format!(
                    "priority class names with 'system-' prefix are reserved for system use only. error: {e}"
                );
                errs.push(FieldError::forbidden(
                    FieldPath::new("metadata").child("name"),
                    detail,
                ));
            }
        } else if obj.value > HIGHEST_USER_DEFINABLE_PRIORITY {
            let detail = format!(
                "maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}"
            );
            errs.push(FieldError::forbidden(FieldPath::new("value"), detail));
        }
        let supported = ["Never", "PreemptLowerPriority"];
        if let Some(policy) = obj
            .preemption_policy
            .as_deref()
            .filter(|p| !supported.contains(p))
        {
            errs.push(FieldError::not_supported(
                FieldPath::new("preemptionPolicy"),
                policy,
                &supported,
            ));
        }
        errs
    }

    fn validate_update(&self, new: &PriorityClass, old: &PriorityClass) -> ErrorList {
        let mut errs = ErrorList::new();
        if new.value != old.value {
            errs.push(FieldError::forbidden(
                FieldPath::new("value"),
                "may not be changed in an update.",
            ));
        }
        if new.preemption_policy != old.preemption_policy {
            errs.push(FieldError::invalid(
                FieldPath::new("preemptionPolicy"),
                str_value(new.preemption_policy.as_ref()),
                IMMUTABLE_MSG,
            ));
        }
        errs
    }
}

/// `IsKnownSystemPriorityClass`.
fn check_system_class(name: &str, value: i32, global_default: bool) -> Result<(), String> {
    let Some((_, want_value, want_default)) = SYSTEM_CLASSES.iter().find(|(n, _, _)| *n == name)
    else {
        return Err(format!("{name} is not a known system priority class"));
    };
    if value != *want_value {
        return Err(format!(
            "value of {name} PriorityClass must be {want_value}"
        ));
    }
    if global_default != *want_default {
        return Err(format!(
            "globalDefault of {name} PriorityClass must be {want_default}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn class(v: serde_json::Value) -> PriorityClass {
        let mut pc: PriorityClass = serde_json::from_value(v).unwrap();
        PriorityClassStrategy.default(&mut pc);
        pc
    }

    fn messages(errs: ErrorList) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn upstream_messages() {
        let high = class(json!({"metadata": {"name": "high"}, "value": 1_000_000_001}));
        assert_eq!(
            high.preemption_policy.as_deref(),
            Some("PreemptLowerPriority")
        );
        assert_eq!(
            messages(PriorityClassStrategy.validate(&high)),
            vec![
                "value: Forbidden: maximum allowed value of a user defined priority is 1000000000"
            ]
        );
        let fake = class(json!({"metadata": {"name": "system-mine"}, "value": 1}));
        assert_eq!(
            messages(PriorityClassStrategy.validate(&fake)),
            vec![
                "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class"
            ]
        );
        let builtin =
            class(json!({"metadata": {"name": "system-node-critical"}, "value": 2_000_001_000}));
        assert!(PriorityClassStrategy.validate(&builtin).is_empty());
        let changed =
            class(json!({"metadata": {"name": "high"}, "value": 5, "preemptionPolicy": "Never"}));
        assert_eq!(
            messages(PriorityClassStrategy.validate_update(&changed, &high)),
            vec![
                "value: Forbidden: may not be changed in an update.",
                r#"preemptionPolicy: Invalid value: "Never": field is immutable"#
            ]
        );
    }
}
