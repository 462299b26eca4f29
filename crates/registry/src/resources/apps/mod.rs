//! Resources of the `apps` API group.

pub mod controller_revision;
pub mod daemon_set;
pub mod deployment;
pub mod replica_set;
pub(crate) mod shared;
pub mod stateful_set;

use crate::catalog::ResourceInfo;
use crate::strategy::{Strategy, typed};

/// The strategy of a resource of this group.
pub(crate) fn lookup(info: &'static ResourceInfo) -> Option<Box<dyn Strategy>> {
    match (info.version, info.plural) {
        ("v1", "controllerrevisions") => {
            Some(typed(info, controller_revision::ControllerRevisionStrategy))
        }
        ("v1", "daemonsets") => Some(typed(info, daemon_set::DaemonSetStrategy)),
        ("v1", "deployments") => Some(typed(info, deployment::DeploymentStrategy)),
        ("v1", "replicasets") => Some(typed(info, replica_set::ReplicaSetStrategy)),
        ("v1", "statefulsets") => Some(typed(info, stateful_set::StatefulSetStrategy)),
        _ => None,
    }
}
