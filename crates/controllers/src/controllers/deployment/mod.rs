//! The Deployment controller: one ReplicaSet per pod template (`<deployment>-<hash>`, labelled
//! `pod-template-hash`), rolled over by the RollingUpdate (maxSurge/maxUnavailable) or Recreate
//! strategy, with revisions in annotations (what `kubectl rollout history|undo` read),
//! revisionHistoryLimit clean-up, pause, proportional scaling during a rollout, rollback through
//! the `deprecated.deployment.rollback.to` annotation, and the Progressing/Available conditions
//! `kubectl rollout status` reads.

mod hash;
mod replicasets;
mod rollback;
mod rollout;
mod status;
pub mod util;

pub use hash::template_hash;

use crate::events::ComponentRecorder;
use crate::manager::Context;
use crate::ownership::{claim, controller_of, selector_is_empty, selector_matches};
use crate::runtime::{Change, Key, WorkQueue, informer::forward};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::{Api, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

/// The event source.
pub const COMPONENT: &str = "deployment-controller";

pub fn start(ctx: &Arc<Context>) {
    let queue = WorkQueue::new();
    forward(&ctx.informers.deployments, queue.clone(), |c| {
        vec![Key::of(c.object().as_ref())]
    });
    let deployments = ctx.informers.deployments.clone();
    forward(&ctx.informers.replica_sets, queue.clone(), move |c| {
        rs_owners(&deployments, c)
    });
    // Recreate waits for the old pods to be gone.
    let sets = ctx.informers.replica_sets.clone();
    forward(&ctx.informers.pods, queue.clone(), move |c| match c {
        Change::Deleted(p) => pod_deployment(&sets, p),
        Change::Applied(_) => vec![],
    });
    let controller = Arc::new(Controller {
        ctx: ctx.clone(),
        events: ctx.recorder.for_component(COMPONENT),
    });
    queue.run(COMPONENT, 4, move |key| {
        let c = controller.clone();
        async move { c.sync(&key).await }
    });
}

fn rs_owners(
    deployments: &crate::runtime::Informer<Deployment>,
    c: &Change<ReplicaSet>,
) -> Vec<Key> {
    let rs = c.object();
    let ns = rs.namespace().unwrap_or_default();
    if let Some(r) = controller_of(&rs.metadata) {
        return if r.kind == "Deployment" {
            vec![Key::new(ns, r.name.clone())]
        } else {
            vec![]
        };
    }
    deployments
        .list_namespaced(&ns)
        .iter()
        .filter(|d| selects(d, rs.labels()))
        .map(|d| Key::of(d.as_ref()))
        .collect()
}

fn pod_deployment(sets: &crate::runtime::Informer<ReplicaSet>, pod: &Pod) -> Vec<Key> {
    let ns = pod.namespace().unwrap_or_default();
    let Some(r) = controller_of(&pod.metadata).filter(|r| r.kind == "ReplicaSet") else {
        return vec![];
    };
    let Some(rs) = sets.get(Some(&ns), &r.name) else {
        return vec![];
    };
    controller_of(&rs.metadata)
        .filter(|r| r.kind == "Deployment")
        .map(|r| vec![Key::new(ns, r.name.clone())])
        .unwrap_or_default()
}

fn selects(d: &Deployment, labels: &std::collections::BTreeMap<String, String>) -> bool {
    d.spec
        .as_ref()
        .is_some_and(|s| !selector_is_empty(&s.selector) && selector_matches(&s.selector, labels))
}

struct Controller {
    ctx: Arc<Context>,
    events: ComponentRecorder,
}

/// One sync of one Deployment: the Deployment, the ReplicaSets it controls, and what changed.
pub(crate) struct Run<'a> {
    events: &'a ComponentRecorder,
    ctx: &'a Context,
    d: Deployment,
    rs_api: Api<ReplicaSet>,
    /// Every ReplicaSet the Deployment controls (kept current as this run scales them).
    sets: Vec<ReplicaSet>,
}

impl Controller {
    async fn sync(&self, key: &Key) -> anyhow::Result<Option<Duration>> {
        let Some(d) = self
            .ctx
            .informers
            .deployments
            .get(Some(&key.namespace), &key.name)
        else {
            return Ok(None);
        };
        let d = (*d).clone();
        let rs_api: Api<ReplicaSet> = Api::namespaced(self.ctx.client.clone(), &key.namespace);
        let candidates = self
            .ctx
            .informers
            .replica_sets
            .list_namespaced(&key.namespace);
        let empty = d
            .spec
            .as_ref()
            .is_none_or(|s| selector_is_empty(&s.selector));
        if empty {
            if d.status.as_ref().and_then(|s| s.observed_generation) != d.metadata.generation {
                self.events.warning(
                    &d,
                    "SelectingAll",
                    "This deployment is selecting all pods. A non-empty selector is required.",
                );
                let mut run = Run::new(self, d, rs_api, vec![]);
                run.write_status(None).await?;
            }
            return Ok(None);
        }
        let owned = claim(&d, |l| selects(&d, l), candidates, &rs_api).await?;
        let sets = owned.iter().map(|r| (**r).clone()).collect();
        let mut run = Run::new(self, d, rs_api, sets);
        if run.d.metadata.deletion_timestamp.is_some() {
            return run.sync_status_only().await;
        }
        run.check_paused_conditions().await?;
        if util::paused(&run.d) {
            return run.scale_and_sync().await;
        }
        // Not re-entrant: nothing else happens until the request is cleared.
        if let Some(revision) = rollback::rollback_to(&run.d) {
            run.rollback(revision).await?;
            return Ok(None);
        }
        if run.is_scaling_event() {
            return run.scale_and_sync().await;
        }
        if util::is_recreate(&run.d) {
            run.rollout_recreate().await
        } else {
            run.rollout_rolling().await
        }
    }
}

impl<'a> Run<'a> {
    fn new(
        c: &'a Controller,
        d: Deployment,
        rs_api: Api<ReplicaSet>,
        sets: Vec<ReplicaSet>,
    ) -> Self {
        Self {
            events: &c.events,
            ctx: &c.ctx,
            d,
            rs_api,
            sets,
        }
    }
}
