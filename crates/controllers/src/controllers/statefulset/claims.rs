//! The claims a StatefulSet makes from its volumeClaimTemplates (`<template>-<set>-<ordinal>`)
//! and who owns them under `persistentVolumeClaimRetentionPolicy`, as upstream sets it:
//!
//! | whenDeleted / whenScaled | owner references on the claim |
//! |---|---|
//! | Retain / Retain | none (the claims outlive everything) |
//! | Delete / Retain | the StatefulSet |
//! | Retain / Delete | the pod, once the pod is condemned by a scale-down |
//! | Delete / Delete | the StatefulSet, or the pod once it is condemned |
//!
//! The references are controller references, so the garbage collector deletes a claim with its
//! owner. A claim controlled by anything else, or holding a reference to an older object of the
//! same name (a stale uid), is left alone.

use crate::manager::Context;
use crate::ownership::controller_ref;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

/// What `persistentVolumeClaimRetentionPolicy` asks for (absent fields mean Retain).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub delete_when_deleted: bool,
    pub delete_when_scaled: bool,
}

impl Retention {
    pub fn of(set: &StatefulSet) -> Self {
        let policy = set
            .spec
            .as_ref()
            .and_then(|s| s.persistent_volume_claim_retention_policy.as_ref());
        let is_delete = |v: Option<&String>| v.is_some_and(|v| v == "Delete");
        Retention {
            delete_when_deleted: is_delete(policy.and_then(|p| p.when_deleted.as_ref())),
            delete_when_scaled: is_delete(policy.and_then(|p| p.when_scaled.as_ref())),
        }
    }
}

/// The name of a pod's claim from `template`.
pub fn claim_name(template: &PersistentVolumeClaim, pod: &str) -> String {
    format!("{}-{pod}", template.name_any())
}

/// The owner references `claim` should carry for `pod` (condemned: its ordinal is at or above
/// `replicas`), or `None` when they are right as they are or must not be touched.
pub fn wanted_owner_refs(
    claim: &PersistentVolumeClaim,
    set: &StatefulSet,
    pod: &Pod,
    condemned: bool,
) -> Option<Vec<OwnerReference>> {
    let refs = claim.metadata.owner_references.clone().unwrap_or_default();
    let set_uid = set.uid().unwrap_or_default();
    let pod_uid = pod.uid().unwrap_or_default();
    let ours = |r: &OwnerReference| {
        (r.kind == "StatefulSet" && r.name == set.name_any())
            || (r.kind == "Pod" && r.name == pod.name_any())
    };
    // A reference to an earlier object of the same name: not ours to change.
    if refs
        .iter()
        .any(|r| ours(r) && r.uid != set_uid && r.uid != pod_uid)
    {
        return None;
    }
    let mut next: Vec<OwnerReference> = refs.iter().filter(|r| !ours(r)).cloned().collect();
    let foreign_controller = next.iter().any(|r| r.controller == Some(true));
    if !foreign_controller {
        let policy = Retention::of(set);
        if policy.delete_when_scaled && condemned {
            next.push(controller_ref(pod));
        } else if policy.delete_when_deleted {
            next.push(controller_ref(set));
        }
    }
    (next != refs).then_some(next)
}

/// Bring the owner references of `pod`'s claims in line with the policy.
pub async fn update_owners(
    ctx: &Context,
    set: &StatefulSet,
    pod: &Pod,
    condemned: bool,
) -> anyhow::Result<()> {
    let ns = set.namespace().unwrap_or_default();
    let api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
    let templates = set
        .spec
        .as_ref()
        .and_then(|s| s.volume_claim_templates.clone())
        .unwrap_or_default();
    for t in &templates {
        let name = claim_name(t, &pod.name_any());
        let Some(claim) = ctx.informers.persistent_volume_claims.get(Some(&ns), &name) else {
            continue;
        };
        if claim.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let Some(refs) = wanted_owner_refs(&claim, set, pod, condemned) else {
            continue;
        };
        // The resourceVersion makes this a compare-and-swap with the cached claim.
        let patch = json!({"metadata": {
            "ownerReferences": refs,
            "resourceVersion": claim.resource_version(),
        }});
        match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("updating the owners of claim {ns}/{name}")));
            }
        }
    }
    Ok(())
}

/// A new claim for pod `pod` from `template`: the template's labels and annotations plus the
/// set's selector labels, owned as the policy says for a pod in range.
pub fn new_claim(
    template: &PersistentVolumeClaim,
    set: &StatefulSet,
    pod: &str,
) -> PersistentVolumeClaim {
    let spec = set.spec.clone().unwrap_or_default();
    let mut labels = template.labels().clone();
    labels.extend(spec.selector.match_labels.clone().unwrap_or_default());
    let owners = Retention::of(set)
        .delete_when_deleted
        .then(|| vec![controller_ref(set)]);
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(claim_name(template, pod)),
            labels: Some(labels),
            annotations: template.metadata.annotations.clone(),
            owner_references: owners,
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

/// Create `claim` unless it exists (the cache says so, or the server answers 409).
/// `Ok(true)` when this call created it.
pub async fn create_if_missing(
    ctx: &Context,
    ns: &str,
    claim: &PersistentVolumeClaim,
) -> Result<bool, kube::Error> {
    let name = claim.name_any();
    if ctx
        .informers
        .persistent_volume_claims
        .get(Some(ns), &name)
        .is_some()
    {
        return Ok(false);
    }
    let api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), ns);
    match api.create(&PostParams::default(), claim).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(policy: serde_json::Value) -> StatefulSet {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "set-uid"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "serviceName": "web",
                     "template": {"metadata": {"labels": {"app": "web"}}},
                     "persistentVolumeClaimRetentionPolicy": policy,
                     "volumeClaimTemplates": [{"metadata": {"name": "data", "labels": {"tier": "db"}}}]}
        }))
        .unwrap()
    }

    fn pod() -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "web-1", "uid": "pod-uid"}})).unwrap()
    }

    fn claim(refs: serde_json::Value) -> PersistentVolumeClaim {
        serde_json::from_value(json!({"metadata": {"name": "data-web-1", "ownerReferences": refs}}))
            .unwrap()
    }

    fn owners(refs: &[OwnerReference]) -> Vec<(String, bool)> {
        refs.iter()
            .map(|r| (r.kind.clone(), r.controller == Some(true)))
            .collect()
    }

    #[test]
    fn retain_retain_owns_nothing_and_removes_our_refs() {
        let s = set(json!({"whenDeleted": "Retain", "whenScaled": "Retain"}));
        let c = claim(
            json!([{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "set-uid", "controller": true}]),
        );
        assert_eq!(wanted_owner_refs(&c, &s, &pod(), false), Some(vec![]));
        assert_eq!(wanted_owner_refs(&claim(json!([])), &s, &pod(), true), None);
    }

    #[test]
    fn delete_on_deletion_is_owned_by_the_set() {
        let s = set(json!({"whenDeleted": "Delete", "whenScaled": "Retain"}));
        let refs = wanted_owner_refs(&claim(json!([])), &s, &pod(), true).unwrap();
        assert_eq!(owners(&refs), [("StatefulSet".to_string(), true)]);
        assert_eq!(refs[0].uid, "set-uid");
    }

    #[test]
    fn delete_on_scale_down_moves_to_the_condemned_pod() {
        let s = set(json!({"whenDeleted": "Delete", "whenScaled": "Delete"}));
        let in_range = wanted_owner_refs(&claim(json!([])), &s, &pod(), false).unwrap();
        assert_eq!(owners(&in_range), [("StatefulSet".to_string(), true)]);
        let c = claim(serde_json::to_value(&in_range).unwrap());
        let condemned = wanted_owner_refs(&c, &s, &pod(), true).unwrap();
        assert_eq!(owners(&condemned), [("Pod".to_string(), true)]);
        assert_eq!(condemned[0].uid, "pod-uid");
        let s = set(json!({"whenScaled": "Delete"}));
        assert_eq!(
            wanted_owner_refs(&claim(json!([])), &s, &pod(), false),
            None
        );
    }

    #[test]
    fn foreign_controllers_and_stale_refs_are_left_alone() {
        let s = set(json!({"whenDeleted": "Delete"}));
        let foreign = claim(
            json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "x", "controller": true}]),
        );
        assert_eq!(wanted_owner_refs(&foreign, &s, &pod(), false), None);
        let stale = claim(
            json!([{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": "old", "controller": true}]),
        );
        assert_eq!(wanted_owner_refs(&stale, &s, &pod(), false), None);
    }

    #[test]
    fn new_claims_carry_template_and_selector_labels() {
        let s = set(json!({"whenDeleted": "Delete"}));
        let t = s
            .spec
            .as_ref()
            .unwrap()
            .volume_claim_templates
            .as_ref()
            .unwrap()[0]
            .clone();
        let c = new_claim(&t, &s, "web-0");
        assert_eq!(c.name_any(), "data-web-0");
        assert_eq!(c.labels().get("tier").map(String::as_str), Some("db"));
        assert_eq!(c.labels().get("app").map(String::as_str), Some("web"));
        assert_eq!(
            owners(c.owner_references()),
            [("StatefulSet".to_string(), true)]
        );
    }
}
