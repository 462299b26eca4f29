//! ControllerRevision (apps/v1): the rules of `controllerrevisions`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::apps::v1::ControllerRevision;

/// The rules of ControllerRevision objects.
pub struct ControllerRevisionStrategy;

impl TypedStrategy for ControllerRevisionStrategy {
    type Object = ControllerRevision;
}
