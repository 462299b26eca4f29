//! Resources of the `scheduling.k8s.io` API group.

pub mod priority_class;

use crate::catalog::ResourceInfo;
use crate::strategy::{Strategy, typed};

/// The strategy of a resource of this group.
pub(crate) fn lookup(info: &'static ResourceInfo) -> Option<Box<dyn Strategy>> {
    match (info.version, info.plural) {
        ("v1", "priorityclasses") => Some(typed(info, priority_class::PriorityClassStrategy)),
        _ => None,
    }
}
