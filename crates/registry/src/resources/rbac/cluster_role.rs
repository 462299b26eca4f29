//! ClusterRole (rbac.authorization.k8s.io/v1): the rules of `clusterroles`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::rbac::v1::ClusterRole;

/// The rules of ClusterRole objects.
pub struct ClusterRoleStrategy;

impl TypedStrategy for ClusterRoleStrategy {
    type Object = ClusterRole;
}
