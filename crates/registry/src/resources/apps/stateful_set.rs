//! StatefulSet (apps/v1): the rules of `statefulsets`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::apps::v1::StatefulSet;

/// The rules of StatefulSet objects.
pub struct StatefulSetStrategy;

impl TypedStrategy for StatefulSetStrategy {
    type Object = StatefulSet;
}
