//! ReplicaSet (apps/v1): the rules of `replicasets`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::apps::v1::ReplicaSet;

/// The rules of ReplicaSet objects.
pub struct ReplicaSetStrategy;

impl TypedStrategy for ReplicaSetStrategy {
    type Object = ReplicaSet;
}
