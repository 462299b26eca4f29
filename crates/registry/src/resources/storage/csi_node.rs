//! CSINode (storage.k8s.io/v1): the rules of `csinodes`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::storage::v1::CSINode;

/// The rules of CSINode objects.
pub struct CSINodeStrategy;

impl TypedStrategy for CSINodeStrategy {
    type Object = CSINode;
}
