//! Resources of the `discovery.k8s.io` API group.

pub mod endpoint_slice;

use crate::catalog::ResourceInfo;
use crate::strategy::{Strategy, typed};

/// The strategy of a resource of this group.
pub(crate) fn lookup(info: &'static ResourceInfo) -> Option<Box<dyn Strategy>> {
    match (info.version, info.plural) {
        ("v1", "endpointslices") => Some(typed(info, endpoint_slice::EndpointSliceStrategy)),
        _ => None,
    }
}
