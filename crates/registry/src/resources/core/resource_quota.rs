//! ResourceQuota (v1): the rules of `resourcequotas`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::core::v1::ResourceQuota;

/// The rules of ResourceQuota objects.
pub struct ResourceQuotaStrategy;

impl TypedStrategy for ResourceQuotaStrategy {
    type Object = ResourceQuota;
}
