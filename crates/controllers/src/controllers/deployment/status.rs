//! Deployment status: replica counts summed over its ReplicaSets, the Available condition, and
//! the Progressing condition with its deadline (what `kubectl rollout status` waits on).

use super::Run;
use super::util;
use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::{Patch, PatchParams};
use serde_json::json;
use std::time::Duration;

fn now() -> jiff::Timestamp {
    rkube_machinery::time::now_seconds()
}

impl Run<'_> {
    fn conditions(&self) -> Vec<DeploymentCondition> {
        self.d
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default()
    }

    fn condition(&self, type_: &str) -> Option<DeploymentCondition> {
        self.conditions().into_iter().find(|c| c.type_ == type_)
    }

    /// The reason of the Progressing condition, if there is one.
    pub(super) fn progressing_reason(&self) -> Option<String> {
        self.condition("Progressing").and_then(|c| c.reason)
    }

    /// Set a condition in the in-memory status; the transition time moves only when the
    /// status changes.
    pub(super) fn set_condition(&mut self, type_: &str, status: &str, reason: &str, message: &str) {
        let mut conds = self.conditions();
        let t = Time(now());
        let mut c = DeploymentCondition {
            type_: type_.into(),
            status: status.into(),
            reason: Some(reason.into()),
            message: Some(message.into()),
            last_update_time: Some(t.clone()),
            last_transition_time: Some(t),
        };
        if let Some(old) = conds.iter().find(|o| o.type_ == type_) {
            if old.status == c.status && old.reason == c.reason && old.message == c.message {
                return;
            }
            if old.status == c.status {
                c.last_transition_time = old.last_transition_time.clone();
            }
        }
        conds.retain(|o| o.type_ != type_);
        conds.push(c);
        self.d
            .status
            .get_or_insert_with(Default::default)
            .conditions = Some(conds);
    }

    /// Set the Progressing condition, which only Deployments with a progress deadline have.
    pub(super) fn set_progressing(&mut self, status: &str, reason: &str, message: &str) {
        if util::has_progress_deadline(&self.d) {
            self.set_condition("Progressing", status, reason, message)
        }
    }

    fn remove_condition(&mut self, type_: &str) {
        if let Some(s) = self.d.status.as_mut()
            && let Some(c) = s.conditions.as_mut()
        {
            c.retain(|o| o.type_ != type_);
        }
    }

    /// Paused and resumed show in the Progressing condition (status Unknown).
    pub(super) async fn check_paused_conditions(&mut self) -> anyhow::Result<()> {
        let reason = self.progressing_reason();
        let paused = util::paused(&self.d);
        if !util::has_progress_deadline(&self.d) {
            return Ok(());
        }
        if paused && reason.as_deref() != Some("DeploymentPaused") {
            self.set_progressing("Unknown", "DeploymentPaused", "Deployment is paused");
        } else if !paused && reason.as_deref() == Some("DeploymentPaused") {
            self.set_progressing("Unknown", "DeploymentResumed", "Deployment is resumed");
        } else {
            return Ok(());
        }
        self.patch_status().await
    }

    /// Counts from the ReplicaSets and the Available condition.
    fn calculate(&mut self, new: Option<usize>) {
        let want = util::replicas(&self.d);
        let available: i32 = self.sets.iter().map(util::rs_available).sum();
        let total_spec: i32 = self.sets.iter().map(util::rs_replicas).sum();
        let status = self.d.status.get_or_insert_with(Default::default);
        status.observed_generation = self.d.metadata.generation;
        status.replicas = Some(self.sets.iter().map(util::rs_status_replicas).sum());
        status.updated_replicas = Some(new.map_or(0, |i| util::rs_status_replicas(&self.sets[i])));
        status.ready_replicas = Some(self.sets.iter().map(util::rs_ready).sum());
        status.available_replicas = Some(available);
        status.unavailable_replicas = Some((total_spec - available).max(0));
        if available >= want - util::max_unavailable(&self.d) {
            self.set_condition(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
            );
        } else {
            self.set_condition(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
            );
        }
    }

    /// Every replica is updated and available, and the latest spec was seen.
    pub(super) fn complete(&self, new: Option<usize>) -> bool {
        let want = util::replicas(&self.d);
        let updated = new.map_or(0, |i| util::rs_status_replicas(&self.sets[i]));
        let total: i32 = self.sets.iter().map(util::rs_status_replicas).sum();
        let available: i32 = self.sets.iter().map(util::rs_available).sum();
        updated == want && total == want && available == want
    }

    /// Write the status (counts and Available condition).
    pub(super) async fn write_status(&mut self, new: Option<usize>) -> anyhow::Result<()> {
        self.calculate(new);
        self.patch_status().await
    }

    async fn patch_status(&mut self) -> anyhow::Result<()> {
        let status = self.d.status.clone().unwrap_or_default();
        let name = self.d.name_any();
        let api: kube::Api<k8s_openapi::api::apps::v1::Deployment> = kube::Api::namespaced(
            self.ctx.client.clone(),
            &self.d.namespace().unwrap_or_default(),
        );
        match api
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"annotations": self.d.metadata.annotations}, "status": status})),
            )
            .await
        {
            Ok(d) => {
                self.d.metadata.resource_version = d.metadata.resource_version;
                Ok(())
            }
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Status with the Progressing condition: complete, progressing, or past its deadline.
    /// Returns when to look again for the deadline.
    pub(super) async fn sync_rollout_status(
        &mut self,
        new: Option<usize>,
    ) -> anyhow::Result<Option<Duration>> {
        let before: Option<DeploymentStatus> = self.d.status.clone();
        self.calculate(new);
        let deadline = self
            .d
            .spec
            .as_ref()
            .and_then(|s| s.progress_deadline_seconds)
            .filter(|&s| s != i32::MAX);
        let mut requeue = None;
        let reason = self.progressing_reason();
        if deadline.is_none() {
            self.remove_condition("Progressing");
        }
        // A finished rollout that is only resynced (or scaled) estimates no progress.
        let settled = {
            let s = self.d.status.as_ref();
            s.and_then(|s| s.replicas) == s.and_then(|s| s.updated_replicas)
                && reason.as_deref() == Some("NewReplicaSetAvailable")
        };
        if let (Some(deadline), false, false) = (deadline, util::paused(&self.d), settled) {
            let name = new.map(|i| self.sets[i].name_any()).unwrap_or_default();
            if self.complete(new) {
                self.set_progressing(
                    "True",
                    "NewReplicaSetAvailable",
                    &format!("ReplicaSet \"{name}\" has successfully progressed."),
                );
            } else if progressed(before.as_ref(), self.d.status.as_ref()) {
                let msg = if new.is_some() {
                    format!("ReplicaSet \"{name}\" is progressing.")
                } else {
                    format!("Deployment \"{}\" is progressing.", self.d.name_any())
                };
                // Keep the transition time of an already-True condition, refresh the update time.
                let mut conds = self.conditions();
                let t = Time(now());
                match conds.iter_mut().find(|c| c.type_ == "Progressing") {
                    Some(c) if c.status == "True" => {
                        c.reason = Some("ReplicaSetUpdated".into());
                        c.message = Some(msg);
                        c.last_update_time = Some(t);
                    }
                    _ => {
                        conds.retain(|c| c.type_ != "Progressing");
                        conds.push(DeploymentCondition {
                            type_: "Progressing".into(),
                            status: "True".into(),
                            reason: Some("ReplicaSetUpdated".into()),
                            message: Some(msg),
                            last_update_time: Some(t.clone()),
                            last_transition_time: Some(t),
                        });
                    }
                }
                self.d
                    .status
                    .get_or_insert_with(Default::default)
                    .conditions = Some(conds);
            } else {
                requeue = self.check_deadline(deadline, &name);
            }
        }
        // A ReplicaSet's failure shows on the Deployment.
        let failure = self.sets.iter().find_map(|rs| {
            rs.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|c| {
                    c.iter()
                        .find(|c| c.type_ == "ReplicaFailure" && c.status == "True")
                })
                .cloned()
        });
        match failure {
            Some(f) => self.set_condition(
                "ReplicaFailure",
                "True",
                f.reason.as_deref().unwrap_or(""),
                f.message.as_deref().unwrap_or(""),
            ),
            None => self.remove_condition("ReplicaFailure"),
        }
        if before.as_ref() != self.d.status.as_ref() {
            self.patch_status().await?;
        }
        Ok(requeue)
    }
}

impl Run<'_> {
    /// Past the progress deadline without progress: ProgressDeadlineExceeded. Otherwise, when
    /// to check again. A completed rollout (NewReplicaSetAvailable) never times out.
    fn check_deadline(&mut self, deadline: i32, name: &str) -> Option<Duration> {
        let c = self.condition("Progressing")?;
        if matches!(
            c.reason.as_deref(),
            Some("ProgressDeadlineExceeded" | "NewReplicaSetAvailable")
        ) {
            return None;
        }
        let from = c
            .last_update_time
            .as_ref()
            .map(|t| t.0)
            .unwrap_or_else(jiff::Timestamp::now);
        let elapsed = jiff::Timestamp::now().as_second() - from.as_second();
        if elapsed > i64::from(deadline) {
            self.set_progressing(
                "False",
                "ProgressDeadlineExceeded",
                &format!("ReplicaSet \"{name}\" has timed out progressing."),
            );
            None
        } else {
            // Look again when the deadline passes (a second late, to be past it).
            Some(Duration::from_secs(
                (i64::from(deadline) - elapsed).max(0) as u64 + 1,
            ))
        }
    }
}

/// Whether the rollout moved since the last status: more updated, ready or available
/// replicas, or fewer old ones.
fn progressed(before: Option<&DeploymentStatus>, after: Option<&DeploymentStatus>) -> bool {
    let (Some(b), Some(a)) = (before, after) else {
        return false;
    };
    let old_b = b.replicas.unwrap_or(0) - b.updated_replicas.unwrap_or(0);
    let old_a = a.replicas.unwrap_or(0) - a.updated_replicas.unwrap_or(0);
    a.updated_replicas.unwrap_or(0) > b.updated_replicas.unwrap_or(0)
        || old_a < old_b
        || a.ready_replicas.unwrap_or(0) > b.ready_replicas.unwrap_or(0)
        || a.available_replicas.unwrap_or(0) > b.available_replicas.unwrap_or(0)
}
