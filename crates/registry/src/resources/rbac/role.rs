//! Role (rbac.authorization.k8s.io/v1): the rules of `roles`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::rbac::v1::Role;

/// The rules of Role objects.
pub struct RoleStrategy;

impl TypedStrategy for RoleStrategy {
    type Object = Role;
}
