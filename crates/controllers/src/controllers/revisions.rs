//! ControllerRevisions for StatefulSets and DaemonSets: a snapshot of the pod template named
//! `<owner>-<hash>`, numbered, owned by its workload (what `kubectl rollout history` lists).

use crate::ownership::controller_ref;
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{ListParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

/// The label pods carry with their revision's name.
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// The hash naming the revision of `template`.
pub fn hash(template: &PodTemplateSpec) -> String {
    super::deployment::template_hash(template, None)
}

/// Make sure the revision for `template` exists; returns its name.
pub async fn ensure<O: Resource<DynamicType = ()>>(
    api: &Api<ControllerRevision>,
    owner: &O,
    template: &PodTemplateSpec,
    selector_labels: std::collections::BTreeMap<String, String>,
) -> anyhow::Result<String> {
    let name = format!("{}-{}", owner.name_any(), hash(template));
    let uid = owner.meta().uid.clone().unwrap_or_default();
    let existing = api.list(&ListParams::default()).await?.items;
    let mine: Vec<&ControllerRevision> = existing
        .iter()
        .filter(|r| crate::ownership::is_controlled_by(&r.metadata, &uid))
        .collect();
    if mine.iter().any(|r| r.name_any() == name) {
        return Ok(name);
    }
    let next = mine.iter().map(|r| r.revision).max().unwrap_or(0) + 1;
    let mut labels = selector_labels;
    labels.insert(REVISION_LABEL.into(), hash(template));
    let rev = ControllerRevision {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some(labels),
            owner_references: Some(vec![controller_ref(owner)]),
            ..Default::default()
        },
        data: Some(RawExtension(
            json!({"spec": {"template": template, "$patch": "replace"}}),
        )),
        revision: next,
    };
    match api.create(&PostParams::default(), &rev).await {
        Ok(_) => Ok(name),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(name),
        Err(e) => Err(e.into()),
    }
}
