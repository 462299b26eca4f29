//! ConfigMap (v1): the rules of `configmaps`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::core::v1::ConfigMap;

/// The rules of ConfigMap objects.
pub struct ConfigMapStrategy;

impl TypedStrategy for ConfigMapStrategy {
    type Object = ConfigMap;
}
