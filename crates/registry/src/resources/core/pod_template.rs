//! PodTemplate (v1): the rules of `podtemplates`: the template is defaulted and validated like
//! a workload's pod template, and changes to it bump the generation.

use super::pod::{default_pod_template_spec, validate_pod_template_spec};
use crate::strategy::{Generation, TypedStrategy};
use k8s_openapi::api::core::v1::{PodTemplate, PodTemplateSpec};
use rkube_machinery::{ErrorList, FieldPath};

/// The rules of PodTemplate objects.
pub struct PodTemplateStrategy;

impl TypedStrategy for PodTemplateStrategy {
    type Object = PodTemplate;
    const GENERATION: Generation = Generation::Spec;

    fn default(&self, pt: &mut PodTemplate) {
        default_pod_template_spec(pt.template.get_or_insert_with(PodTemplateSpec::default));
    }

    fn validate(&self, pt: &PodTemplate) -> ErrorList {
        let empty = PodTemplateSpec::default();
        validate_pod_template_spec(
            pt.template.as_ref().unwrap_or(&empty),
            &FieldPath::new("template"),
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::resources::core::testing::create_error;
    use serde_json::json;

    #[test]
    fn template_needs_containers() {
        let pt = json!({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}, "template": {"spec": {}}});
        assert_eq!(
            create_error("podtemplates", pt),
            "template.spec.containers: Required value"
        );
    }
}
