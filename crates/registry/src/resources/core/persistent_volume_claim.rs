//! PersistentVolumeClaim (v1): the rules of `persistentvolumeclaims`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;

/// The rules of PersistentVolumeClaim objects.
pub struct PersistentVolumeClaimStrategy;

impl TypedStrategy for PersistentVolumeClaimStrategy {
    type Object = PersistentVolumeClaim;
}
