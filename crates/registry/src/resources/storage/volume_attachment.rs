//! VolumeAttachment (storage.k8s.io/v1): the rules of `volumeattachments`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::storage::v1::VolumeAttachment;

/// The rules of VolumeAttachment objects.
pub struct VolumeAttachmentStrategy;

impl TypedStrategy for VolumeAttachmentStrategy {
    type Object = VolumeAttachment;
}
