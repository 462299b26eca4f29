//! PodDisruptionBudget (policy/v1): the rules of `poddisruptionbudgets`.
//!
//! Upstream (`ValidatePodDisruptionBudgetSpec`, `pkg/apis/policy/validation`): one of
//! `minAvailable` and `maxUnavailable`, each a count or a percentage of at most 100%, a valid
//! selector and a known unhealthy-pod eviction policy.

use crate::resources::apps::shared::{
    validate_label_selector, validate_not_more_than_100_percent, validate_positive_int_or_percent,
};
use crate::strategy::{Generation, TypedStrategy};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use rkube_machinery::{ErrorList, FieldError, FieldPath, Value};

/// The rules of PodDisruptionBudget objects.
pub struct PodDisruptionBudgetStrategy;

impl TypedStrategy for PodDisruptionBudgetStrategy {
    type Object = PodDisruptionBudget;
    const GENERATION: Generation = Generation::Spec;

    fn validate(&self, obj: &PodDisruptionBudget) -> ErrorList {
        validate_pdb_spec(
            &obj.spec.clone().unwrap_or_default(),
            &FieldPath::new("spec"),
        )
    }
}

/// `ValidatePodDisruptionBudgetSpec`.
pub fn validate_pdb_spec(spec: &PodDisruptionBudgetSpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if spec.min_available.is_some() && spec.max_unavailable.is_some() {
        // Upstream prints the whole internal spec, pointers included; only the shape is kept.
        let shown = Value::Raw("policy.PodDisruptionBudgetSpec{...}".into());
        errs.push(FieldError::invalid(
            path.clone(),
            shown,
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    for (name, value) in [
        ("minAvailable", &spec.min_available),
        ("maxUnavailable", &spec.max_unavailable),
    ] {
        if let Some(value) = value {
            errs.extend(validate_positive_int_or_percent(value, &path.child(name)));
            errs.extend(validate_not_more_than_100_percent(value, &path.child(name)));
        }
    }
    if let Some(selector) = &spec.selector {
        errs.extend(validate_label_selector(selector, &path.child("selector")));
    }
    let supported = ["AlwaysAllow", "IfHealthyBudget"];
    if let Some(policy) = spec
        .unhealthy_pod_eviction_policy
        .as_deref()
        .filter(|p| !supported.contains(p))
    {
        errs.push(FieldError::not_supported(
            path.child("unhealthyPodEvictionPolicy"),
            policy,
            &supported,
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn messages(spec: serde_json::Value) -> Vec<String> {
        let pdb: PodDisruptionBudget = serde_json::from_value(
            json!({"metadata": {"name": "p", "namespace": "default"}, "spec": spec}),
        )
        .unwrap();
        PodDisruptionBudgetStrategy
            .validate(&pdb)
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn upstream_messages() {
        assert!(
            messages(json!({"minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}}}))
                .is_empty()
        );
        assert_eq!(
            messages(json!({"minAvailable": 1, "maxUnavailable": 1})),
            vec![
                "spec: Invalid value: policy.PodDisruptionBudgetSpec{...}: minAvailable and maxUnavailable cannot be both set"
            ]
        );
        assert_eq!(
            messages(json!({"maxUnavailable": "150%"})),
            vec!["spec.maxUnavailable: Invalid value: 150%: must not be greater than 100%"]
        );
        assert_eq!(
            messages(json!({"minAvailable": 1, "unhealthyPodEvictionPolicy": "Never"})),
            vec![
                r#"spec.unhealthyPodEvictionPolicy: Unsupported value: "Never": supported values: "AlwaysAllow", "IfHealthyBudget""#
            ]
        );
    }
}
