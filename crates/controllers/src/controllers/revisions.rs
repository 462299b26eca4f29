//! ControllerRevisions for StatefulSets and DaemonSets: a snapshot of the pod template named
//! `<owner>-<hash>`, numbered, owned by its workload (what `kubectl rollout history` lists and
//! `kubectl rollout undo` reads).
//!
//! As upstream: a revision carries the template's labels plus `controller-revision-hash`; going
//! back to an older template re-uses its revision and renumbers it to the newest; revisions
//! beyond `revisionHistoryLimit` are pruned oldest first, never one still in use.

use crate::ownership::controller_ref;
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use std::collections::BTreeMap;

/// The label pods and revisions carry naming their revision (the hash for DaemonSets, the
/// revision's full name for StatefulSet pods).
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// The history limit the API server defaults `revisionHistoryLimit` to.
pub const DEFAULT_HISTORY_LIMIT: i32 = 10;

/// The hash naming the revision of `template`.
pub fn hash(template: &PodTemplateSpec) -> String {
    super::deployment::template_hash(template, None)
}

/// A workload's revisions once [`ensure`] has run.
pub struct History {
    /// Every revision the workload controls, lowest `revision` first.
    pub revisions: Vec<ControllerRevision>,
    /// The revision of the workload's current template (also in `revisions`).
    pub update: ControllerRevision,
}

impl History {
    /// The revision named `name`, if the workload has it.
    pub fn find(&self, name: &str) -> Option<&ControllerRevision> {
        self.revisions
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(name))
    }
}

/// The pod template a revision recorded (upstream stores a strategic-merge patch of the
/// workload's spec replacing the template).
pub fn template_of(rev: &ControllerRevision) -> Option<PodTemplateSpec> {
    let data = rev.data.as_ref()?;
    serde_json::from_value(data.0.get("spec")?.get("template")?.clone()).ok()
}

/// Make sure the revision for `template` exists and is the newest; returns the history.
/// `annotations` are copied onto a new revision (upstream's DaemonSets copy theirs).
pub async fn ensure<O: Resource<DynamicType = ()>>(
    api: &Api<ControllerRevision>,
    owner: &O,
    template: &PodTemplateSpec,
    annotations: Option<BTreeMap<String, String>>,
) -> anyhow::Result<History> {
    let hash = hash(template);
    let name = format!("{}-{hash}", owner.name_any());
    let uid = owner.meta().uid.clone().unwrap_or_default();
    let mut revisions: Vec<ControllerRevision> = api
        .list(&ListParams::default())
        .await
        .map_err(|e| anyhow::anyhow!("listing ControllerRevisions: {e}"))?
        .items
        .into_iter()
        .filter(|r| crate::ownership::is_controlled_by(&r.metadata, &uid))
        .collect();
    revisions.sort_by_key(|r| r.revision);
    let newest = revisions.last().map(|r| r.revision).unwrap_or(0);
    if let Some(i) = revisions.iter().position(|r| r.name_any() == name) {
        // Rolled back to an older template: that revision becomes the newest again.
        if revisions[i].revision < newest {
            let bumped = api
                .patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"revision": newest + 1})),
                )
                .await
                .map_err(|e| anyhow::anyhow!("renumbering ControllerRevision {name}: {e}"))?;
            revisions.remove(i);
            revisions.push(bumped);
        }
        let update = revisions
            .iter()
            .find(|r| r.name_any() == name)
            .cloned()
            .expect("the revision just found");
        return Ok(History { revisions, update });
    }
    let mut labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(REVISION_LABEL.into(), hash);
    let rev = ControllerRevision {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some(labels),
            annotations: annotations.filter(|a| !a.is_empty()),
            owner_references: Some(vec![controller_ref(owner)]),
            ..Default::default()
        },
        data: Some(RawExtension(
            json!({"spec": {"template": template, "$patch": "replace"}}),
        )),
        revision: newest + 1,
    };
    let created = match api.create(&PostParams::default(), &rev).await {
        Ok(r) => r,
        // Made by an earlier sync the list did not show yet.
        Err(kube::Error::Api(s)) if s.code == 409 => api
            .get(&name)
            .await
            .map_err(|e| anyhow::anyhow!("reading ControllerRevision {name}: {e}"))?,
        Err(e) => return Err(anyhow::anyhow!("creating ControllerRevision {name}: {e}")),
    };
    revisions.push(created.clone());
    Ok(History {
        revisions,
        update: created,
    })
}

/// The oldest revisions to delete: up to `excess` of those `in_use` does not keep, lowest
/// `revision` first.
pub fn to_prune(
    revisions: &[ControllerRevision],
    in_use: impl Fn(&ControllerRevision) -> bool,
    excess: usize,
) -> Vec<&ControllerRevision> {
    let mut old: Vec<&ControllerRevision> = revisions.iter().filter(|r| !in_use(r)).collect();
    old.sort_by_key(|r| r.revision);
    old.truncate(excess);
    old
}

/// Delete the revisions [`to_prune`] picked.
pub async fn prune(
    api: &Api<ControllerRevision>,
    doomed: &[&ControllerRevision],
) -> anyhow::Result<()> {
    for r in doomed {
        match api.delete(&r.name_any(), &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => {
                return Err(anyhow::anyhow!(
                    "deleting ControllerRevision {}: {e}",
                    r.name_any()
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(name: &str, revision: i64) -> ControllerRevision {
        ControllerRevision {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            revision,
            data: None,
        }
    }

    #[test]
    fn pruning_takes_the_oldest_revisions_not_in_use() {
        let revs = vec![rev("c", 3), rev("a", 1), rev("b", 2), rev("d", 4)];
        let doomed = to_prune(&revs, |r| r.name_any() == "a", 2);
        let names: Vec<String> = doomed.iter().map(|r| r.name_any()).collect();
        assert_eq!(names, ["b", "c"]);
    }

    #[test]
    fn a_revision_gives_back_its_template() {
        let template: PodTemplateSpec = serde_json::from_value(
            json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}}),
        )
        .unwrap();
        let mut r = rev("web-1", 1);
        r.data = Some(RawExtension(
            json!({"spec": {"template": template, "$patch": "replace"}}),
        ));
        assert_eq!(template_of(&r), Some(template));
    }
}
