//! Resources of the `flowcontrol.apiserver.k8s.io` API group.

pub mod flow_schema;
pub mod priority_level_configuration;

use crate::catalog::ResourceInfo;
use crate::strategy::{Strategy, typed};

/// The strategy of a resource of this group.
pub(crate) fn lookup(info: &'static ResourceInfo) -> Option<Box<dyn Strategy>> {
    match (info.version, info.plural) {
        ("v1", "flowschemas") => Some(typed(info, flow_schema::FlowSchemaStrategy)),
        ("v1", "prioritylevelconfigurations") => Some(typed(
            info,
            priority_level_configuration::PriorityLevelConfigurationStrategy,
        )),
        _ => None,
    }
}
