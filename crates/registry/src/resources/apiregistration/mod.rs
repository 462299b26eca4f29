//! Resources of the `apiregistration.k8s.io` API group.

pub mod api_service;

use crate::catalog::ResourceInfo;
use crate::strategy::{Strategy, typed};

/// The strategy of a resource of this group.
pub(crate) fn lookup(info: &'static ResourceInfo) -> Option<Box<dyn Strategy>> {
    match (info.version, info.plural) {
        ("v1", "apiservices") => Some(typed(info, api_service::APIServiceStrategy)),
        _ => None,
    }
}
