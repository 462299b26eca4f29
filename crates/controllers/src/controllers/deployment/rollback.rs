//! Server-side rollback through the `deprecated.deployment.rollback.to` annotation (what the
//! removed `deployments/rollback` subresource set, and what upstream's controller still honours):
//! copy the template and annotations of the ReplicaSet with that revision (0: the previous one)
//! back to the Deployment, or give up with a warning event when no such revision exists. Either
//! way the annotation is cleared. (`kubectl rollout undo` patches the template client-side
//! instead; the controller then treats it as any template change.)

use super::Run;
use super::util::{self, POD_TEMPLATE_HASH};
use kube::ResourceExt;
use kube::api::PostParams;

/// The annotation holding the revision to roll back to.
pub const ROLLBACK_TO: &str = "deprecated.deployment.rollback.to";

/// Event reasons, as upstream's.
const REVISION_NOT_FOUND: &str = "DeploymentRollbackRevisionNotFound";
const TEMPLATE_UNCHANGED: &str = "DeploymentRollbackTemplateUnchanged";
const ROLLED_BACK: &str = "DeploymentRollback";

/// The requested revision, when the annotation is present and a number.
pub(super) fn rollback_to(d: &k8s_openapi::api::apps::v1::Deployment) -> Option<i64> {
    d.annotations().get(ROLLBACK_TO)?.parse().ok()
}

impl Run<'_> {
    /// Roll back to the requested revision, or report why not; clears the request.
    pub(super) async fn rollback(&mut self, requested: i64) -> anyhow::Result<()> {
        self.sync_new_rs(false).await?;
        let mut revision = requested;
        if revision == 0 {
            revision = self.last_revision();
            if revision == 0 {
                self.events
                    .warning(&self.d, REVISION_NOT_FOUND, "Unable to find last revision.");
                return self.clear_rollback_request().await;
            }
        }
        let Some(rs) = self
            .sets
            .iter()
            .find(|rs| util::revision(&rs.metadata) == revision)
            .cloned()
        else {
            self.events.warning(
                &self.d,
                REVISION_NOT_FOUND,
                "Unable to find the revision to rollback to.",
            );
            return self.clear_rollback_request().await;
        };
        let template = rs
            .spec
            .as_ref()
            .and_then(|s| s.template.clone())
            .unwrap_or_default();
        let current = self
            .d
            .spec
            .as_ref()
            .map(|s| s.template.clone())
            .unwrap_or_default();
        if util::equal_ignore_hash(&template, &current) {
            self.events.warning(
                &self.d,
                TEMPLATE_UNCHANGED,
                format!(
                    "The rollback revision contains the same template as current deployment \"{}\"",
                    self.d.name_any()
                ),
            );
            return self.clear_rollback_request().await;
        }
        let mut template = template;
        if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
            labels.remove(POD_TEMPLATE_HASH);
        }
        if let Some(spec) = self.d.spec.as_mut() {
            spec.template = template;
        }
        // The Deployment takes the ReplicaSet's annotations, keeping only its own bookkeeping
        // ones, so the rolled-back ReplicaSet does not inherit the newer revision's.
        let kept = self
            .d
            .annotations()
            .iter()
            .filter(|(k, _)| !util::copied_annotation(k))
            .map(|(k, v)| (k.clone(), v.clone()));
        let from_rs = rs
            .annotations()
            .iter()
            .filter(|(k, _)| util::copied_annotation(k))
            .map(|(k, v)| (k.clone(), v.clone()));
        self.d.metadata.annotations = Some(kept.chain(from_rs).collect());
        self.clear_rollback_request().await?;
        self.events.normal(
            &self.d,
            ROLLED_BACK,
            format!(
                "Rolled back deployment \"{}\" to revision {revision}",
                self.d.name_any()
            ),
        );
        Ok(())
    }

    /// The second-highest revision among the ReplicaSets (0 when there is none), as upstream's
    /// LastRevision (a repeated highest revision counts as the second too).
    fn last_revision(&self) -> i64 {
        let (mut max, mut second) = (0, 0);
        for v in self.sets.iter().map(|rs| util::revision(&rs.metadata)) {
            if v >= max {
                second = max;
                max = v;
            } else if v > second {
                second = v;
            }
        }
        second
    }

    /// Write the Deployment (with whatever the rollback changed) without the request.
    async fn clear_rollback_request(&mut self) -> anyhow::Result<()> {
        if let Some(a) = self.d.metadata.annotations.as_mut() {
            a.remove(ROLLBACK_TO);
        }
        let mut d = self.d.clone();
        d.status = None;
        self.d = self
            .ctx_deployments()
            .replace(&d.name_any(), &PostParams::default(), &d)
            .await?;
        Ok(())
    }
}
