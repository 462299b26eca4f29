//! Service (v1): the rules of `services`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::core::v1::Service;

/// The rules of Service objects.
pub struct ServiceStrategy;

impl TypedStrategy for ServiceStrategy {
    type Object = Service;
}
