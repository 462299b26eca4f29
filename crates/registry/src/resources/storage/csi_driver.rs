//! CSIDriver (storage.k8s.io/v1): the rules of `csidrivers`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::storage::v1::CSIDriver;

/// The rules of CSIDriver objects.
pub struct CSIDriverStrategy;

impl TypedStrategy for CSIDriverStrategy {
    type Object = CSIDriver;
}
