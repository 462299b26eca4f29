//! IPAddress (networking.k8s.io/v1): the rules of `ipaddresses`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::networking::v1::IPAddress;

/// The rules of IPAddress objects.
pub struct IPAddressStrategy;

impl TypedStrategy for IPAddressStrategy {
    type Object = IPAddress;
}
