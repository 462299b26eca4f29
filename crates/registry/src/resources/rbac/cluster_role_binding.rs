//! ClusterRoleBinding (rbac.authorization.k8s.io/v1): the rules of `clusterrolebindings`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;

/// The rules of ClusterRoleBinding objects.
pub struct ClusterRoleBindingStrategy;

impl TypedStrategy for ClusterRoleBindingStrategy {
    type Object = ClusterRoleBinding;
}
