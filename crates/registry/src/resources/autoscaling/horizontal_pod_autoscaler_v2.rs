//! HorizontalPodAutoscaler (autoscaling/v2): the rules of `horizontalpodautoscalers`.
//!
//! Upstream: `SetDefaults_HorizontalPodAutoscaler` (`pkg/apis/autoscaling/v2/defaults.go`:
//! one replica at least, 80% CPU when no metric is given, and a behavior whose missing parts
//! are filled with the controller's built-in scaling rules) and the HPA validation.

use super::common::{validate_replica_bounds, validate_target_ref};
use crate::strategy::{Generation, TypedStrategy};
use k8s_openapi::api::autoscaling::v2::{
    HPAScalingPolicy, HPAScalingRules, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec,
    MetricSpec, MetricTarget, ResourceMetricSource,
};
use rkube_machinery::{ErrorList, FieldError, FieldPath};

/// The longest scaling policy period upstream allows (30 minutes).
const MAX_PERIOD_SECONDS: i32 = 1800;
/// The longest stabilization window upstream allows (one hour).
const MAX_STABILIZATION_WINDOW_SECONDS: i32 = 3600;

/// The rules of HorizontalPodAutoscaler objects.
pub struct HorizontalPodAutoscalerStrategy;

impl TypedStrategy for HorizontalPodAutoscalerStrategy {
    type Object = HorizontalPodAutoscaler;
    const GENERATION: Generation = Generation::Spec;

    fn default(&self, obj: &mut HorizontalPodAutoscaler) {
        default_hpa_spec(obj.spec.get_or_insert_with(Default::default));
    }

    fn validate(&self, obj: &HorizontalPodAutoscaler) -> ErrorList {
        validate_hpa_spec(
            &obj.spec.clone().unwrap_or_default(),
            &FieldPath::new("spec"),
        )
    }
}

/// A scaling policy.
fn policy(kind: &str, value: i32, period_seconds: i32) -> HPAScalingPolicy {
    HPAScalingPolicy {
        type_: kind.into(),
        value,
        period_seconds,
    }
}

/// Scale up by at most 4 pods or 100% per 15 s, whichever is more, without stabilization.
fn default_scale_up() -> HPAScalingRules {
    HPAScalingRules {
        stabilization_window_seconds: Some(0),
        select_policy: Some("Max".into()),
        policies: Some(vec![policy("Pods", 4, 15), policy("Percent", 100, 15)]),
        tolerance: None,
    }
}

/// Scale down by at most 100% per 15 s (the window comes from the controller's flag).
fn default_scale_down() -> HPAScalingRules {
    HPAScalingRules {
        stabilization_window_seconds: None,
        select_policy: Some("Max".into()),
        policies: Some(vec![policy("Percent", 100, 15)]),
        tolerance: None,
    }
}

/// Fill the unset parts of `rules` from `defaults` (`copyHPAScalingRules`).
fn merge_rules(rules: Option<HPAScalingRules>, mut defaults: HPAScalingRules) -> HPAScalingRules {
    if let Some(r) = rules {
        defaults.select_policy = r.select_policy.or(defaults.select_policy);
        defaults.stabilization_window_seconds = r
            .stabilization_window_seconds
            .or(defaults.stabilization_window_seconds);
        defaults.policies = r.policies.or(defaults.policies);
        defaults.tolerance = r.tolerance.or(defaults.tolerance);
    }
    defaults
}

/// The v2 defaults.
pub fn default_hpa_spec(spec: &mut HorizontalPodAutoscalerSpec) {
    spec.min_replicas.get_or_insert(1);
    if spec.metrics.as_ref().is_none_or(Vec::is_empty) {
        let cpu = MetricSpec {
            type_: "Resource".into(),
            resource: Some(ResourceMetricSource {
                name: "cpu".into(),
                target: MetricTarget {
                    type_: "Utilization".into(),
                    average_utilization: Some(80),
                    ..Default::default()
                },
            }),
            ..Default::default()
        };
        spec.metrics = Some(vec![cpu]);
    }
    if let Some(behavior) = spec.behavior.as_mut() {
        behavior.scale_up = Some(merge_rules(behavior.scale_up.take(), default_scale_up()));
        behavior.scale_down = Some(merge_rules(
            behavior.scale_down.take(),
            default_scale_down(),
        ));
    }
}

/// `validateHorizontalPodAutoscalerSpec` (metrics checked for their type only).
pub fn validate_hpa_spec(spec: &HorizontalPodAutoscalerSpec, path: &FieldPath) -> ErrorList {
    let mut errs = validate_replica_bounds(spec.min_replicas, spec.max_replicas, path);
    errs.extend(validate_target_ref(
        &spec.scale_target_ref.kind,
        &spec.scale_target_ref.name,
        &path.child("scaleTargetRef"),
    ));
    for (i, metric) in spec.metrics.iter().flatten().enumerate() {
        let known = [
            "ContainerResource",
            "External",
            "Object",
            "Pods",
            "Resource",
        ];
        if !known.contains(&metric.type_.as_str()) {
            errs.push(FieldError::not_supported(
                path.child("metrics").index(i).child("type"),
                metric.type_.as_str(),
                &known,
            ));
        }
    }
    if let Some(behavior) = &spec.behavior {
        let behavior_path = path.child("behavior");
        errs.extend(validate_rules(
            behavior.scale_up.as_ref(),
            &behavior_path.child("scaleUp"),
        ));
        errs.extend(validate_rules(
            behavior.scale_down.as_ref(),
            &behavior_path.child("scaleDown"),
        ));
    }
    errs
}

/// `validateScalingRules`.
fn validate_rules(rules: Option<&HPAScalingRules>, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(rules) = rules else { return errs };
    if let Some(window) = rules.stabilization_window_seconds {
        let window_path = path.child("stabilizationWindowSeconds");
        if window < 0 {
            errs.push(FieldError::invalid(
                window_path.clone(),
                window,
                "must be greater than or equal to zero",
            ));
        }
        if window > MAX_STABILIZATION_WINDOW_SECONDS {
            errs.push(FieldError::invalid(
                window_path,
                window,
                format!("must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}"),
            ));
        }
    }
    if let Some(select) = rules
        .select_policy
        .as_deref()
        .filter(|s| !["Disabled", "Max", "Min"].contains(s))
    {
        errs.push(FieldError::not_supported(
            path.child("selectPolicy"),
            select,
            &["Disabled", "Max", "Min"],
        ));
    }
    let policies = rules.policies.as_deref().unwrap_or_default();
    if policies.is_empty() {
        errs.push(FieldError::required(
            path.child("policies"),
            "must specify at least one Policy",
        ));
    }
    for (i, p) in policies.iter().enumerate() {
        errs.extend(validate_policy(p, &path.child("policies").index(i)));
    }
    errs
}

/// `validateScalingPolicy`.
fn validate_policy(p: &HPAScalingPolicy, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if p.type_ != "Pods" && p.type_ != "Percent" {
        errs.push(FieldError::not_supported(
            path.child("type"),
            p.type_.as_str(),
            &["Percent", "Pods"],
        ));
    }
    if p.value <= 0 {
        errs.push(FieldError::invalid(
            path.child("value"),
            p.value,
            "must be greater than zero",
        ));
    }
    if p.period_seconds <= 0 {
        errs.push(FieldError::invalid(
            path.child("periodSeconds"),
            p.period_seconds,
            "must be greater than zero",
        ));
    }
    if p.period_seconds > MAX_PERIOD_SECONDS {
        errs.push(FieldError::invalid(
            path.child("periodSeconds"),
            p.period_seconds,
            format!("must be less than or equal to {MAX_PERIOD_SECONDS}"),
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hpa(spec: serde_json::Value) -> HorizontalPodAutoscaler {
        let mut h: HorizontalPodAutoscaler = serde_json::from_value(
            json!({"metadata": {"name": "h", "namespace": "default"}, "spec": spec}),
        )
        .unwrap();
        HorizontalPodAutoscalerStrategy.default(&mut h);
        h
    }

    #[test]
    fn defaults_like_upstream() {
        let h = hpa(
            json!({"maxReplicas": 5, "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}),
        );
        let spec = serde_json::to_value(h.spec.as_ref().unwrap()).unwrap();
        assert_eq!(spec["minReplicas"], 1);
        assert_eq!(
            spec["metrics"],
            json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}])
        );
        assert_eq!(
            spec["behavior"],
            json!({
                "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}]},
                "scaleDown": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}
            })
        );
        assert!(HorizontalPodAutoscalerStrategy.validate(&h).is_empty());
    }

    #[test]
    fn upstream_messages() {
        let h = hpa(
            json!({"minReplicas": 3, "maxReplicas": 2, "scaleTargetRef": {"kind": "Deployment"}, "behavior": {"scaleUp": {"policies": [{"type": "Pods", "value": 0, "periodSeconds": 4000}]}}}),
        );
        let msgs: Vec<String> = HorizontalPodAutoscalerStrategy
            .validate(&h)
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            msgs,
            vec![
                "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`",
                "spec.scaleTargetRef.name: Required value",
                "spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero",
                "spec.behavior.scaleUp.policies[0].periodSeconds: Invalid value: 4000: must be less than or equal to 1800",
            ]
        );
    }
}
