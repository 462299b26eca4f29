//! Resources of the `storage.k8s.io` API group.

pub mod csi_driver;
pub mod csi_node;
pub mod csi_storage_capacity;
pub mod storage_class;
pub mod volume_attachment;

use crate::catalog::ResourceInfo;
use crate::strategy::{Strategy, typed};

/// The strategy of a resource of this group.
pub(crate) fn lookup(info: &'static ResourceInfo) -> Option<Box<dyn Strategy>> {
    match (info.version, info.plural) {
        ("v1", "csidrivers") => Some(typed(info, csi_driver::CSIDriverStrategy)),
        ("v1", "csinodes") => Some(typed(info, csi_node::CSINodeStrategy)),
        ("v1", "csistoragecapacities") => Some(typed(
            info,
            csi_storage_capacity::CSIStorageCapacityStrategy,
        )),
        ("v1", "storageclasses") => Some(typed(info, storage_class::StorageClassStrategy)),
        ("v1", "volumeattachments") => {
            Some(typed(info, volume_attachment::VolumeAttachmentStrategy))
        }
        _ => None,
    }
}
