//! ServiceCIDR (networking.k8s.io/v1): the rules of `servicecidrs`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::networking::v1::ServiceCIDR;

/// The rules of ServiceCIDR objects.
pub struct ServiceCIDRStrategy;

impl TypedStrategy for ServiceCIDRStrategy {
    type Object = ServiceCIDR;
}
