//! Resources of the `core` API group.

pub mod config_map;
pub mod endpoints;
pub mod event;
pub mod limit_range;
pub mod namespace;
pub mod node;
pub mod persistent_volume;
pub mod persistent_volume_claim;
pub mod pod;
pub mod pod_template;
pub mod replication_controller;
pub mod resource_quota;
pub mod resources;
pub mod secret;
pub mod service;
pub mod service_account;
#[cfg(test)]
pub(crate) mod testing;

use crate::catalog::ResourceInfo;
use crate::strategy::{Strategy, typed};

/// The strategy of a resource of this group.
pub(crate) fn lookup(info: &'static ResourceInfo) -> Option<Box<dyn Strategy>> {
    match (info.version, info.plural) {
        ("v1", "configmaps") => Some(typed(info, config_map::ConfigMapStrategy)),
        ("v1", "endpoints") => Some(typed(info, endpoints::EndpointsStrategy)),
        ("v1", "events") => Some(typed(info, event::EventStrategy)),
        ("v1", "limitranges") => Some(typed(info, limit_range::LimitRangeStrategy)),
        ("v1", "namespaces") => Some(typed(info, namespace::NamespaceStrategy)),
        ("v1", "nodes") => Some(typed(info, node::NodeStrategy)),
        ("v1", "persistentvolumeclaims") => Some(typed(
            info,
            persistent_volume_claim::PersistentVolumeClaimStrategy,
        )),
        ("v1", "persistentvolumes") => {
            Some(typed(info, persistent_volume::PersistentVolumeStrategy))
        }
        ("v1", "pods") => Some(typed(info, pod::PodStrategy)),
        ("v1", "podtemplates") => Some(typed(info, pod_template::PodTemplateStrategy)),
        ("v1", "replicationcontrollers") => Some(typed(
            info,
            replication_controller::ReplicationControllerStrategy,
        )),
        ("v1", "resourcequotas") => Some(typed(info, resource_quota::ResourceQuotaStrategy)),
        ("v1", "secrets") => Some(typed(info, secret::SecretStrategy)),
        ("v1", "serviceaccounts") => Some(typed(info, service_account::ServiceAccountStrategy)),
        ("v1", "services") => Some(typed(info, service::ServiceStrategy)),
        _ => None,
    }
}
