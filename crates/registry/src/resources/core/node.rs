//! Node (v1): the rules of `nodes`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::core::v1::Node;

/// The rules of Node objects.
pub struct NodeStrategy;

impl TypedStrategy for NodeStrategy {
    type Object = Node;
}
