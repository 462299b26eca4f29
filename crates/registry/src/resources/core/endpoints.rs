//! Endpoints (v1): the rules of `endpoints`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::core::v1::Endpoints;

/// The rules of Endpoints objects.
pub struct EndpointsStrategy;

impl TypedStrategy for EndpointsStrategy {
    type Object = Endpoints;
}
