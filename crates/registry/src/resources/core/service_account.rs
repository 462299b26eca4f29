//! ServiceAccount (v1): the rules of `serviceaccounts`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::core::v1::ServiceAccount;

/// The rules of ServiceAccount objects.
pub struct ServiceAccountStrategy;

impl TypedStrategy for ServiceAccountStrategy {
    type Object = ServiceAccount;
}
