//! HorizontalPodAutoscaler (autoscaling/v1): the rules of `horizontalpodautoscalers`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::autoscaling::v1::HorizontalPodAutoscaler;

/// The rules of HorizontalPodAutoscaler objects.
pub struct HorizontalPodAutoscalerStrategy;

impl TypedStrategy for HorizontalPodAutoscalerStrategy {
    type Object = HorizontalPodAutoscaler;
}
