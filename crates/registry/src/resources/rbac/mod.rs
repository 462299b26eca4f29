//! Resources of the `rbac.authorization.k8s.io` API group.

pub mod cluster_role;
pub mod cluster_role_binding;
pub mod role;
pub mod role_binding;
pub mod rules;

use crate::catalog::ResourceInfo;
use crate::strategy::{Strategy, typed};

/// The strategy of a resource of this group.
pub(crate) fn lookup(info: &'static ResourceInfo) -> Option<Box<dyn Strategy>> {
    match (info.version, info.plural) {
        ("v1", "clusterrolebindings") => Some(typed(
            info,
            cluster_role_binding::ClusterRoleBindingStrategy,
        )),
        ("v1", "clusterroles") => Some(typed(info, cluster_role::ClusterRoleStrategy)),
        ("v1", "rolebindings") => Some(typed(info, role_binding::RoleBindingStrategy)),
        ("v1", "roles") => Some(typed(info, role::RoleStrategy)),
        _ => None,
    }
}
