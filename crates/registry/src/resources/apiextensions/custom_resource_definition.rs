//! CustomResourceDefinition (apiextensions.k8s.io/v1): the rules of `customresourcedefinitions`.

use crate::strategy::TypedStrategy;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

/// The rules of CustomResourceDefinition objects.
pub struct CustomResourceDefinitionStrategy;

impl TypedStrategy for CustomResourceDefinitionStrategy {
    type Object = CustomResourceDefinition;
}
