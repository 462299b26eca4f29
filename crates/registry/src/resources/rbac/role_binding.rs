//! RoleBinding (rbac.authorization.k8s.io/v1): the rules of `rolebindings`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::rbac::v1::RoleBinding;

/// The rules of RoleBinding objects.
pub struct RoleBindingStrategy;

impl TypedStrategy for RoleBindingStrategy {
    type Object = RoleBinding;
}
