//! HorizontalPodAutoscaler (autoscaling/v1): the rules of `horizontalpodautoscalers`.
//!
//! Upstream: `SetDefaults_HorizontalPodAutoscaler` (`pkg/apis/autoscaling/v1/defaults.go`:
//! one replica at least) and the shared HPA validation.

use super::common::{validate_replica_bounds, validate_target_ref};
use crate::strategy::{Generation, TypedStrategy};
use k8s_openapi::api::autoscaling::v1::HorizontalPodAutoscaler;
use rkube_machinery::{ErrorList, FieldError, FieldPath};

/// The rules of HorizontalPodAutoscaler objects.
pub struct HorizontalPodAutoscalerStrategy;

impl TypedStrategy for HorizontalPodAutoscalerStrategy {
    type Object = HorizontalPodAutoscaler;
    const GENERATION: Generation = Generation::Spec;

    fn default(&self, obj: &mut HorizontalPodAutoscaler) {
        obj.spec
            .get_or_insert_with(Default::default)
            .min_replicas
            .get_or_insert(1);
    }

    fn validate(&self, obj: &HorizontalPodAutoscaler) -> ErrorList {
        let spec = obj.spec.clone().unwrap_or_default();
        let path = FieldPath::new("spec");
        let mut errs = validate_replica_bounds(spec.min_replicas, spec.max_replicas, &path);
        errs.extend(validate_target_ref(
            &spec.scale_target_ref.kind,
            &spec.scale_target_ref.name,
            &path.child("scaleTargetRef"),
        ));
        if let Some(target) = spec.target_cpu_utilization_percentage.filter(|t| *t < 1) {
            errs.push(FieldError::invalid(
                path.child("targetCPUUtilizationPercentage"),
                target,
                "must be greater than 0",
            ));
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_bounds() {
        let mut hpa: HorizontalPodAutoscaler =
            serde_json::from_value(json!({"metadata": {"name": "h", "namespace": "default"}, "spec": {"maxReplicas": 0, "scaleTargetRef": {"kind": "Deployment", "name": "web"}}})).unwrap();
        HorizontalPodAutoscalerStrategy.default(&mut hpa);
        assert_eq!(hpa.spec.as_ref().unwrap().min_replicas, Some(1));
        let msgs: Vec<String> = HorizontalPodAutoscalerStrategy
            .validate(&hpa)
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            msgs,
            vec![
                "spec.maxReplicas: Invalid value: 0: must be greater than 0",
                "spec.maxReplicas: Invalid value: 0: must be greater than or equal to `minReplicas`"
            ]
        );
    }
}
