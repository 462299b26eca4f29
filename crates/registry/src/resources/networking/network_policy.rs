//! NetworkPolicy (networking.k8s.io/v1): the rules of `networkpolicies`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::networking::v1::NetworkPolicy;

/// The rules of NetworkPolicy objects.
pub struct NetworkPolicyStrategy;

impl TypedStrategy for NetworkPolicyStrategy {
    type Object = NetworkPolicy;
}
