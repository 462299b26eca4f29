//! APIService (apiregistration.k8s.io/v1): the rules of `apiservices`.

use crate::strategy::TypedStrategy;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;

/// The rules of APIService objects.
pub struct APIServiceStrategy;

impl TypedStrategy for APIServiceStrategy {
    type Object = APIService;
}
