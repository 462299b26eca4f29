//! EndpointSlice (discovery.k8s.io/v1): the rules of `endpointslices`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// The rules of EndpointSlice objects.
pub struct EndpointSliceStrategy;

impl TypedStrategy for EndpointSliceStrategy {
    type Object = EndpointSlice;
}
