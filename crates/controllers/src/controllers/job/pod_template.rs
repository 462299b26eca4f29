//! A Job's pod: the template, owned by the Job, with the tracking finalizer; Indexed Jobs add
//! the completion index (annotation, label, `JOB_COMPLETION_INDEX` and the hostname).

use super::{COMPLETION_INDEX, TRACKING_FINALIZER};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

pub fn build(
    template: &PodTemplateSpec,
    owner: OwnerReference,
    job: &str,
    index: Option<i32>,
) -> Pod {
    let prefix = match index {
        Some(i) => format!("{job}-{i}"),
        None => job.to_string(),
    };
    let mut pod = crate::pods::from_template(template, owner, &prefix);
    pod.metadata
        .finalizers
        .get_or_insert_with(Vec::new)
        .push(TRACKING_FINALIZER.into());
    if let Some(i) = index {
        pod.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(COMPLETION_INDEX.into(), i.to_string());
        pod.metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert(COMPLETION_INDEX.into(), i.to_string());
        if let Some(spec) = pod.spec.as_mut() {
            spec.hostname = Some(format!("{job}-{i}"));
            let env = EnvVar {
                name: "JOB_COMPLETION_INDEX".into(),
                value: None,
                value_from: Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        api_version: None,
                        field_path: format!("metadata.annotations['{COMPLETION_INDEX}']"),
                    }),
                    ..Default::default()
                }),
            };
            for c in spec
                .containers
                .iter_mut()
                .chain(spec.init_containers.iter_mut().flatten())
            {
                c.env.get_or_insert_with(Vec::new).push(env.clone());
            }
        }
    }
    pod
}
