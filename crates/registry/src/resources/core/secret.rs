//! Secret (v1): the rules of `secrets`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::core::v1::Secret;

/// The rules of Secret objects.
pub struct SecretStrategy;

impl TypedStrategy for SecretStrategy {
    type Object = Secret;
}
