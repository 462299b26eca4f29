//! Namespace (v1): the rules of `namespaces`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::core::v1::Namespace;

/// The rules of Namespace objects.
pub struct NamespaceStrategy;

impl TypedStrategy for NamespaceStrategy {
    type Object = Namespace;
}
