//! ReplicationController (v1): the rules of `replicationcontrollers`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::core::v1::ReplicationController;

/// The rules of ReplicationController objects.
pub struct ReplicationControllerStrategy;

impl TypedStrategy for ReplicationControllerStrategy {
    type Object = ReplicationController;
}
