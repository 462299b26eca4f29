//! Resources of the `events.k8s.io` API group.

pub mod event;

use crate::catalog::ResourceInfo;
use crate::strategy::{Strategy, typed};

/// The strategy of a resource of this group.
pub(crate) fn lookup(info: &'static ResourceInfo) -> Option<Box<dyn Strategy>> {
    match (info.version, info.plural) {
        ("v1", "events") => Some(typed(info, event::EventStrategy)),
        _ => None,
    }
}
