//! Pod (v1): the rules of `pods`.
//!
//! The pod spec rules are shared: every workload template (Deployment, ReplicaSet, StatefulSet,
//! DaemonSet, Job, CronJob, ReplicationController, PodTemplate) defaults and validates its
//! template with [`default_pod_template_spec`] and [`validate_pod_template_spec`].

mod containers;
mod defaults;
mod qos;
mod spec;
mod tolerations;
mod update;
mod volumes;

use crate::strategy::{Generation, TypedStrategy};
use k8s_openapi::api::core::v1::{Pod, PodSpec, PodStatus, PodTemplateSpec};
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath};
use std::collections::BTreeSet;

pub use containers::{port_num, port_num_or_name, required_enum};
pub use defaults::default_container;
pub use tolerations::{TAINT_EFFECTS, validate_tolerations};

/// Port protocols, in upstream's sorted order.
pub const PROTOCOLS: [&str; 3] = ["SCTP", "TCP", "UDP"];

/// Names of a pod's valid volumes.
pub type VolumeNames = BTreeSet<String>;

/// `Unsupported value` at `path` unless `value` is one of `supported`.
pub fn not_supported_unless(value: &str, supported: &[&str], path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if !supported.contains(&value) {
        errs.push(FieldError::not_supported(path.clone(), value, supported));
    }
    errs
}

/// The rules of Pod objects.
pub struct PodStrategy;

impl TypedStrategy for PodStrategy {
    type Object = Pod;
    const GENERATION: Generation = Generation::Spec;
    const FIELDS: &'static [&'static str] = &[
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ];
    const FIELD_SOURCES: &'static [&'static str] = &[
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIPs",
        "status.nominatedNodeName",
    ];

    fn default(&self, pod: &mut Pod) {
        defaults::default_pod(pod);
    }

    /// New pods start Pending, with their QoS class computed.
    fn prepare_for_create(&self, pod: &mut Pod) {
        let qos = pod.spec.as_ref().map_or("BestEffort", qos::compute);
        pod.status = Some(PodStatus {
            phase: Some("Pending".into()),
            qos_class: Some(qos.into()),
            ..Default::default()
        });
    }

    fn validate(&self, pod: &Pod) -> ErrorList {
        validate_pod(pod)
    }

    fn validate_update(&self, new: &Pod, old: &Pod) -> ErrorList {
        let mut errs = validate_pod(new);
        errs.extend(validate_pod_annotation_updates(new, old));
        let empty = PodSpec::default();
        errs.extend(update::validate_spec_update(
            new.spec.as_ref().unwrap_or(&empty),
            old.spec.as_ref().unwrap_or(&empty),
        ));
        errs
    }

    fn field_values(&self, pod: &Pod) -> Vec<(&'static str, String)> {
        let spec = pod.spec.as_ref();
        let status = pod.status.as_ref();
        let s = |v: Option<&String>| v.cloned().unwrap_or_default();
        let pod_ip = status
            .and_then(|st| st.pod_ips.as_ref())
            .and_then(|ips| ips.first())
            .map(|ip| ip.ip.clone());
        vec![
            ("spec.nodeName", s(spec.and_then(|x| x.node_name.as_ref()))),
            (
                "spec.restartPolicy",
                s(spec.and_then(|x| x.restart_policy.as_ref())),
            ),
            (
                "spec.schedulerName",
                s(spec.and_then(|x| x.scheduler_name.as_ref())),
            ),
            (
                "spec.serviceAccountName",
                s(spec.and_then(|x| x.service_account_name.as_ref())),
            ),
            (
                "spec.hostNetwork",
                spec.and_then(|x| x.host_network)
                    .unwrap_or(false)
                    .to_string(),
            ),
            ("status.phase", s(status.and_then(|x| x.phase.as_ref()))),
            ("status.podIP", pod_ip.unwrap_or_default()),
            (
                "status.nominatedNodeName",
                s(status.and_then(|x| x.nominated_node_name.as_ref())),
            ),
        ]
    }
}

/// Upstream's `validatePodMetadataAndSpec` beyond the generic metadata rules.
fn validate_pod(pod: &Pod) -> ErrorList {
    let path = FieldPath::new("spec");
    let empty = PodSpec::default();
    let spec = pod.spec.as_ref().unwrap_or(&empty);
    let mut errs = validate_pod_annotations(pod, spec);
    errs.extend(spec::validate(spec, &path, true));
    if spec
        .service_account_name
        .as_deref()
        .unwrap_or("")
        .is_empty()
    {
        errs.extend(forbid_token_projection_without_sa(spec, &path));
    }
    let init = spec.init_containers.as_deref().unwrap_or(&[]);
    for (field, list) in [
        ("containers", &spec.containers[..]),
        ("initContainers", init),
    ] {
        for (i, c) in list.iter().enumerate() {
            let image = c.image.as_deref().unwrap_or("");
            if image.trim() != image {
                errs.push(FieldError::invalid(
                    path.child(field).index(i).child("image"),
                    image,
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }
    errs
}

const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

fn validate_pod_annotations(pod: &Pod, spec: &PodSpec) -> ErrorList {
    let mut errs = ErrorList::new();
    let path = FieldPath::new("metadata").child("annotations");
    let annotations = pod.metadata.annotations.as_ref();
    if let Some(value) = annotations.and_then(|a| a.get(MIRROR_ANNOTATION))
        && spec.node_name.as_deref().unwrap_or("").is_empty()
    {
        errs.push(FieldError::invalid(
            path.key(MIRROR_ANNOTATION),
            value.as_str(),
            "must set spec.nodeName if mirror pod annotation is set",
        ));
    }
    if let Some(cost) =
        annotations.and_then(|a| a.get("controller.kubernetes.io/pod-deletion-cost"))
        && cost.parse::<i32>().is_err()
    {
        errs.push(FieldError::invalid(
            path.key("controller.kubernetes.io/pod-deletion-cost"),
            cost.as_str(),
            "must be a 32bit integer",
        ));
    }
    errs
}

fn validate_pod_annotation_updates(new: &Pod, old: &Pod) -> ErrorList {
    let mut errs = ErrorList::new();
    let path = FieldPath::new("metadata").child("annotations");
    let get = |p: &Pod| {
        p.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(MIRROR_ANNOTATION))
            .cloned()
    };
    match (get(old), get(new)) {
        (Some(o), Some(n)) if o != n => errs.push(FieldError::forbidden(
            path.key(MIRROR_ANNOTATION),
            "may not remove or update mirror pod annotation",
        )),
        (Some(_), None) => errs.push(FieldError::forbidden(
            path.key(MIRROR_ANNOTATION),
            "may not remove or update mirror pod annotation",
        )),
        (None, Some(_)) => errs.push(FieldError::forbidden(
            path.key(MIRROR_ANNOTATION),
            "may not add mirror pod annotation",
        )),
        _ => {}
    }
    errs
}

fn forbid_token_projection_without_sa(spec: &PodSpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    for (vi, vol) in spec.volumes.iter().flatten().enumerate() {
        let Some(projected) = vol.projected.as_ref() else {
            continue;
        };
        for (si, src) in projected.sources.iter().flatten().enumerate() {
            if src.service_account_token.is_some() {
                errs.push(FieldError::forbidden(
                    path.child("volumes")
                        .index(vi)
                        .child("projected")
                        .child("sources")
                        .index(si)
                        .child("serviceAccountToken"),
                    "must not be specified when serviceAccountName is not set",
                ));
            }
        }
    }
    errs
}

/// Upstream's defaults for a pod spec (restartPolicy, dnsPolicy, schedulerName, container
/// imagePullPolicy by tag, termination message path and policy, ...). Pod-only defaults
/// (`enableServiceLinks`, requests from limits) are applied by [`PodStrategy`].
pub fn default_pod_spec(spec: &mut PodSpec) {
    defaults::default_spec(spec);
}

/// Defaults of a workload's pod template (the template's spec gets the pod spec defaults; an
/// absent spec is defaulted as an empty one, since upstream's spec is not optional).
pub fn default_pod_template_spec(template: &mut PodTemplateSpec) {
    default_pod_spec(template.spec.get_or_insert_default());
}

/// Validate a pod spec at `path` (`spec`, or `spec.template.spec` in a workload).
pub fn validate_pod_spec(spec: &PodSpec, path: &FieldPath) -> ErrorList {
    spec::validate(spec, path, false)
}

/// Validate a workload's pod template at `path` (`spec.template`): its labels and annotations
/// (at `<path>.labels`, as upstream reports them) and its spec.
pub fn validate_pod_template_spec(template: &PodTemplateSpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Some(meta) = template.metadata.as_ref() {
        if let Some(labels) = &meta.labels {
            errs.extend(v::validate_labels(labels, &path.child("labels")));
        }
        if let Some(annotations) = &meta.annotations {
            errs.extend(v::validate_annotations(
                annotations,
                &path.child("annotations"),
            ));
        }
    }
    let empty = PodSpec::default();
    let spec = template.spec.as_ref().unwrap_or(&empty);
    errs.extend(validate_pod_spec(spec, &path.child("spec")));
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        errs.push(FieldError::forbidden(
            path.child("spec").child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errs
}

#[cfg(test)]
mod tests;
