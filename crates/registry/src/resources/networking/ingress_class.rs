//! IngressClass (networking.k8s.io/v1): the rules of `ingressclasses`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::networking::v1::IngressClass;

/// The rules of IngressClass objects.
pub struct IngressClassStrategy;

impl TypedStrategy for IngressClassStrategy {
    type Object = IngressClass;
}
