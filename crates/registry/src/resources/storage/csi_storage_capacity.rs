//! CSIStorageCapacity (storage.k8s.io/v1): the rules of `csistoragecapacities`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::storage::v1::CSIStorageCapacity;

/// The rules of CSIStorageCapacity objects.
pub struct CSIStorageCapacityStrategy;

impl TypedStrategy for CSIStorageCapacityStrategy {
    type Object = CSIStorageCapacity;
}
