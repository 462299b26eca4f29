//! PriorityClass (scheduling.k8s.io/v1): the rules of `priorityclasses`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::scheduling::v1::PriorityClass;

/// The rules of PriorityClass objects.
pub struct PriorityClassStrategy;

impl TypedStrategy for PriorityClassStrategy {
    type Object = PriorityClass;
}
