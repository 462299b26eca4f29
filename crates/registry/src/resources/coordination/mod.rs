//! Resources of the `coordination.k8s.io` API group.

pub mod lease;

use crate::catalog::ResourceInfo;
use crate::strategy::{Strategy, typed};

/// The strategy of a resource of this group.
pub(crate) fn lookup(info: &'static ResourceInfo) -> Option<Box<dyn Strategy>> {
    match (info.version, info.plural) {
        ("v1", "leases") => Some(typed(info, lease::LeaseStrategy)),
        _ => None,
    }
}
