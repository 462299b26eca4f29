//! PersistentVolume (v1): the rules of `persistentvolumes`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::core::v1::PersistentVolume;

/// The rules of PersistentVolume objects.
pub struct PersistentVolumeStrategy;

impl TypedStrategy for PersistentVolumeStrategy {
    type Object = PersistentVolume;
}
