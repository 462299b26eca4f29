//! Resources of the `node.k8s.io` API group.

pub mod runtime_class;

use crate::catalog::ResourceInfo;
use crate::strategy::{Strategy, typed};

/// The strategy of a resource of this group.
pub(crate) fn lookup(info: &'static ResourceInfo) -> Option<Box<dyn Strategy>> {
    match (info.version, info.plural) {
        ("v1", "runtimeclasses") => Some(typed(info, runtime_class::RuntimeClassStrategy)),
        _ => None,
    }
}
