//! Resources of the `autoscaling` API group.

pub mod common;
pub mod horizontal_pod_autoscaler_v1;
pub mod horizontal_pod_autoscaler_v2;

use crate::catalog::ResourceInfo;
use crate::strategy::{Strategy, typed};

/// The strategy of a resource of this group.
pub(crate) fn lookup(info: &'static ResourceInfo) -> Option<Box<dyn Strategy>> {
    match (info.version, info.plural) {
        ("v2", "horizontalpodautoscalers") => Some(typed(
            info,
            horizontal_pod_autoscaler_v2::HorizontalPodAutoscalerStrategy,
        )),
        ("v1", "horizontalpodautoscalers") => Some(typed(
            info,
            horizontal_pod_autoscaler_v1::HorizontalPodAutoscalerStrategy,
        )),
        _ => None,
    }
}
