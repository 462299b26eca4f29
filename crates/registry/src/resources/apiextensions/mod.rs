//! Resources of the `apiextensions.k8s.io` API group.

pub mod custom_resource_definition;

use crate::catalog::ResourceInfo;
use crate::strategy::{Strategy, typed};

/// The strategy of a resource of this group.
pub(crate) fn lookup(info: &'static ResourceInfo) -> Option<Box<dyn Strategy>> {
    match (info.version, info.plural) {
        ("v1", "customresourcedefinitions") => Some(typed(
            info,
            custom_resource_definition::CustomResourceDefinitionStrategy,
        )),
        _ => None,
    }
}
