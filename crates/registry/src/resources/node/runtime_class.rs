//! RuntimeClass (node.k8s.io/v1): the rules of `runtimeclasses`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::node::v1::RuntimeClass;

/// The rules of RuntimeClass objects.
pub struct RuntimeClassStrategy;

impl TypedStrategy for RuntimeClassStrategy {
    type Object = RuntimeClass;
}
