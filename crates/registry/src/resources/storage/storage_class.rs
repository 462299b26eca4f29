//! StorageClass (storage.k8s.io/v1): the rules of `storageclasses`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::storage::v1::StorageClass;

/// The rules of StorageClass objects.
pub struct StorageClassStrategy;

impl TypedStrategy for StorageClassStrategy {
    type Object = StorageClass;
}
