//! Ingress (networking.k8s.io/v1): the rules of `ingresses`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::networking::v1::Ingress;

/// The rules of Ingress objects.
pub struct IngressStrategy;

impl TypedStrategy for IngressStrategy {
    type Object = Ingress;
}
