//! The Deployment's ReplicaSets: finding or creating the one for the current template, keeping
//! revisions and replica annotations, scaling one (with its event), and deleting old ones
//! beyond revisionHistoryLimit.

use super::Run;
use super::util::{
    self, DESIRED_REPLICAS, MAX_REPLICAS, POD_TEMPLATE_HASH, REVISION, REVISION_HISTORY,
};
use crate::ownership::{controller_ref, is_controlled_by};
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use serde_json::json;
use std::collections::BTreeMap;

impl Run<'_> {
    fn template(&self) -> k8s_openapi::api::core::v1::PodTemplateSpec {
        self.d
            .spec
            .as_ref()
            .map(|s| s.template.clone())
            .unwrap_or_default()
    }

    /// The index of the ReplicaSet whose template is the Deployment's (the oldest if several).
    pub(super) fn new_index(&self) -> Option<usize> {
        let t = self.template();
        let mut matches: Vec<usize> = (0..self.sets.len())
            .filter(|&i| {
                self.sets[i]
                    .spec
                    .as_ref()
                    .and_then(|s| s.template.as_ref())
                    .is_some_and(|rt| util::equal_ignore_hash(rt, &t))
            })
            .collect();
        matches.sort_by_key(|&i| (util::created(&self.sets[i]), self.sets[i].name_any()));
        matches.first().copied()
    }

    /// Indices of every other ReplicaSet.
    pub(super) fn old_indices(&self, new: Option<usize>) -> Vec<usize> {
        (0..self.sets.len()).filter(|&i| Some(i) != new).collect()
    }

    /// A rollout in progress is being scaled: some active ReplicaSet was sized for another
    /// replica count.
    pub(super) fn is_scaling_event(&self) -> bool {
        let want = util::replicas(&self.d);
        self.sets
            .iter()
            .filter(|rs| util::rs_replicas(rs) > 0)
            .filter_map(|rs| util::annotation_i32(rs, DESIRED_REPLICAS))
            .any(|desired| desired != want)
    }

    /// Find (and bring up to date) or, with `create`, create the new ReplicaSet; keep the
    /// Deployment's revision annotation equal to its revision. Returns its index.
    pub(super) async fn sync_new_rs(&mut self, create: bool) -> anyhow::Result<Option<usize>> {
        let new = self.new_index();
        let max_old = self
            .old_indices(new)
            .iter()
            .map(|&i| util::revision(&self.sets[i].metadata))
            .max()
            .unwrap_or(0);
        let new_revision = max_old + 1;
        let idx = match new {
            Some(i) => {
                self.refresh_new_rs(i, new_revision).await?;
                if util::has_progress_deadline(&self.d) && self.progressing_reason().is_none() {
                    let msg = format!("Found new replica set \"{}\"", self.sets[i].name_any());
                    self.set_progressing("True", "FoundNewReplicaSet", &msg);
                    self.write_status(Some(i)).await?;
                }
                Some(i)
            }
            None if create => Some(self.create_new_rs(new_revision).await?),
            None => None,
        };
        if let Some(i) = idx {
            let rev = util::revision(&self.sets[i].metadata);
            if util::revision(&self.d.metadata) != rev {
                // Through /status, as upstream: an annotation change on the main resource
                // would bump the Deployment's generation.
                self.d
                    .metadata
                    .annotations
                    .get_or_insert_with(Default::default)
                    .insert(REVISION.into(), rev.to_string());
                self.write_status(Some(i)).await?;
            }
        }
        Ok(idx)
    }

    pub(super) fn ctx_deployments(&self) -> kube::Api<k8s_openapi::api::apps::v1::Deployment> {
        kube::Api::namespaced(
            self.ctx.client.clone(),
            &self.d.namespace().unwrap_or_default(),
        )
    }

    /// Annotations copied from the Deployment, newer revision, minReadySeconds.
    async fn refresh_new_rs(&mut self, i: usize, new_revision: i64) -> anyhow::Result<()> {
        let rs = &self.sets[i];
        let current = rs.metadata.annotations.clone().unwrap_or_default();
        let mut annotations = current.clone();
        for (k, v) in self.d.metadata.annotations.iter().flatten() {
            if util::copied_annotation(k) {
                annotations.insert(k.clone(), v.clone());
            }
        }
        let old_revision = util::revision(&rs.metadata);
        if old_revision < new_revision {
            annotations.insert(REVISION.into(), new_revision.to_string());
            if old_revision > 0
                && let Some(history) =
                    util::append_revision_history(current.get(REVISION_HISTORY), old_revision)
            {
                annotations.insert(REVISION_HISTORY.into(), history);
            }
        }
        let min_ready = util::min_ready_seconds(&self.d);
        let rs_min_ready = rs
            .spec
            .as_ref()
            .and_then(|s| s.min_ready_seconds)
            .unwrap_or(0);
        if annotations == current && min_ready == rs_min_ready {
            return Ok(());
        }
        let patch = json!({
            "metadata": {"annotations": annotations, "resourceVersion": rs.metadata.resource_version},
            "spec": {"minReadySeconds": min_ready},
        });
        self.sets[i] = self
            .rs_api
            .patch(
                &rs.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
        Ok(())
    }

    async fn create_new_rs(&mut self, revision: i64) -> anyhow::Result<usize> {
        let collision = self.d.status.as_ref().and_then(|s| s.collision_count);
        let mut template = self.template();
        let hash = super::template_hash(&template, collision);
        let tmeta = template.metadata.get_or_insert_with(Default::default);
        tmeta
            .labels
            .get_or_insert_with(Default::default)
            .insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let mut selector = self
            .d
            .spec
            .as_ref()
            .map(|s| s.selector.clone())
            .unwrap_or_default();
        selector
            .match_labels
            .get_or_insert_with(Default::default)
            .insert(POD_TEMPLATE_HASH.into(), hash.clone());
        let mut annotations: BTreeMap<String, String> = self
            .d
            .metadata
            .annotations
            .iter()
            .flatten()
            .filter(|(k, _)| util::copied_annotation(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let want = util::replicas(&self.d);
        let (surge, _) = util::fenceposts(&self.d);
        annotations.insert(REVISION.into(), revision.to_string());
        annotations.insert(DESIRED_REPLICAS.into(), want.to_string());
        annotations.insert(MAX_REPLICAS.into(), (want + surge).to_string());
        let name = format!("{}-{}", self.d.name_any(), hash);
        let replicas = self.new_rs_replicas(None);
        let rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: tmeta.labels.clone(),
                annotations: Some(annotations),
                owner_references: Some(vec![controller_ref(&self.d)]),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                min_ready_seconds: Some(util::min_ready_seconds(&self.d)),
                selector,
                template: Some(template.clone()),
            }),
            status: None,
        };
        let created = match self.rs_api.create(&PostParams::default(), &rs).await {
            Ok(c) => c,
            Err(kube::Error::Api(s)) if s.code == 409 => {
                let existing = self.rs_api.get(&name).await?;
                let same = existing
                    .spec
                    .as_ref()
                    .and_then(|s| s.template.as_ref())
                    .is_some_and(|t| util::equal_ignore_hash(t, &template));
                let uid = self.d.uid().unwrap_or_default();
                if same && is_controlled_by(&existing.metadata, &uid) {
                    // Ours, not yet in the cache.
                    self.sets.push(existing);
                    return Ok(self.sets.len() - 1);
                }
                // A different ReplicaSet has this name: hash with a bigger collision count.
                let count = collision.unwrap_or(0) + 1;
                self.ctx_deployments()
                    .patch_status(
                        &self.d.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(json!({"status": {"collisionCount": count}})),
                    )
                    .await?;
                anyhow::bail!("hash collision for ReplicaSet {name}; collisionCount now {count}");
            }
            Err(e) => {
                let msg = crate::error_message(&e);
                self.set_progressing(
                    "False",
                    "ReplicaSetCreateError",
                    &format!("Failed to create new replica set \"{name}\": {msg}"),
                );
                self.events.warning(
                    &self.d,
                    "ReplicaSetCreateError",
                    format!("Failed to create new replica set \"{name}\": {msg}"),
                );
                self.write_status(None).await?;
                return Err(e.into());
            }
        };
        if replicas > 0 {
            self.events.normal(
                &self.d,
                "ScalingReplicaSet",
                format!("Scaled up replica set {name} to {replicas}"),
            );
        }
        self.sets.push(created);
        let i = self.sets.len() - 1;
        self.set_progressing(
            "True",
            "NewReplicaSetCreated",
            &format!("Created new replica set \"{name}\""),
        );
        self.write_status(Some(i)).await?;
        Ok(i)
    }

    /// How many replicas the new ReplicaSet should have now (`new` is its index, `None`
    /// while it does not exist yet).
    pub(super) fn new_rs_replicas(&self, new: Option<usize>) -> i32 {
        let want = util::replicas(&self.d);
        if util::is_recreate(&self.d) {
            return want;
        }
        let current_new = new.map_or(0, |i| util::rs_replicas(&self.sets[i]));
        let (surge, _) = util::fenceposts(&self.d);
        let total: i32 = self.sets.iter().map(util::rs_replicas).sum();
        let max_total = want + surge;
        if total >= max_total {
            return current_new;
        }
        let up = (max_total - total).min(want - current_new).max(0);
        current_new + up
    }

    /// Set the ReplicaSet's size (and replica annotations); records the scaling event.
    /// Returns whether the size changed.
    pub(super) async fn scale(&mut self, i: usize, to: i32) -> anyhow::Result<bool> {
        let rs = &self.sets[i];
        let from = util::rs_replicas(rs);
        let want = util::replicas(&self.d);
        let (surge, _) = util::fenceposts(&self.d);
        let annotations_ok = util::annotation_i32(rs, DESIRED_REPLICAS) == Some(want)
            && util::annotation_i32(rs, MAX_REPLICAS) == Some(want + surge);
        if from == to && annotations_ok {
            return Ok(false);
        }
        let patch = json!({
            "metadata": {"annotations": {DESIRED_REPLICAS: want.to_string(), MAX_REPLICAS: (want + surge).to_string()},
                         "resourceVersion": rs.metadata.resource_version},
            "spec": {"replicas": to},
        });
        let name = rs.name_any();
        self.sets[i] = self
            .rs_api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        if from != to {
            let op = if from < to { "up" } else { "down" };
            let msg = if from == 0 {
                format!("Scaled {op} replica set {name} to {to}")
            } else {
                format!("Scaled {op} replica set {name} to {to} from {from}")
            };
            self.events.normal(&self.d, "ScalingReplicaSet", msg);
        }
        Ok(from != to)
    }

    /// Delete old, empty ReplicaSets beyond revisionHistoryLimit, oldest revision first.
    pub(super) async fn cleanup(&mut self, new: Option<usize>) -> anyhow::Result<()> {
        let Some(limit) = self.d.spec.as_ref().and_then(|s| s.revision_history_limit) else {
            return Ok(());
        };
        let mut old: Vec<&ReplicaSet> = self
            .old_indices(new)
            .into_iter()
            .map(|i| &self.sets[i])
            .filter(|rs| rs.metadata.deletion_timestamp.is_none())
            .collect();
        let excess = old.len() as i64 - i64::from(limit);
        if excess <= 0 {
            return Ok(());
        }
        old.sort_by_key(|rs| (util::revision(&rs.metadata), util::created(rs)));
        let mut doomed = Vec::new();
        for rs in old.into_iter().take(excess as usize) {
            let settled =
                rs.status.as_ref().and_then(|s| s.observed_generation) >= rs.metadata.generation;
            if util::rs_status_replicas(rs) != 0 || util::rs_replicas(rs) != 0 || !settled {
                continue;
            }
            doomed.push((rs.name_any(), rs.uid()));
        }
        for (name, uid) in doomed {
            let dp = DeleteParams {
                preconditions: Some(Preconditions {
                    uid,
                    resource_version: None,
                }),
                ..Default::default()
            };
            match self.rs_api.delete(&name, &dp).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}
