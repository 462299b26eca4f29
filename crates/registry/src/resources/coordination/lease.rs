//! Lease (coordination.k8s.io/v1): the rules of `leases`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::coordination::v1::Lease;

/// The rules of Lease objects.
pub struct LeaseStrategy;

impl TypedStrategy for LeaseStrategy {
    type Object = Lease;
}
