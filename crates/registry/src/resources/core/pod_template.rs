//! PodTemplate (v1): the rules of `podtemplates`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::core::v1::PodTemplate;

/// The rules of PodTemplate objects.
pub struct PodTemplateStrategy;

impl TypedStrategy for PodTemplateStrategy {
    type Object = PodTemplate;
}
