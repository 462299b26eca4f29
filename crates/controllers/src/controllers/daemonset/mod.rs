//! The DaemonSet controller: one pod per eligible node ([`eligibility`]), pinned to its node
//! through a `metadata.name` node-affinity term so the scheduler places it ([`pod`]);
//! RollingUpdate (maxUnavailable, or maxSurge: see [`update`]) or OnDelete; ControllerRevisions
//! pruned to `revisionHistoryLimit`; status.
//!
//! As upstream: creations and deletions are remembered as expectations, and until the pod
//! cache shows them the controller only writes status, so a sync on a stale cache never
//! creates a second daemon or deletes past maxUnavailable. Failed daemon pods are reported with
//! a `FailedDaemonPod` warning and replaced with a per-node back-off ([`backoff`]).

pub mod backoff;
pub mod eligibility;
pub mod pod;
pub mod update;

use super::revisions::{self, REVISION_LABEL};
use crate::events::ComponentRecorder;
use crate::manager::Context;
use crate::ownership::{controller_of, selector_matches};
use crate::pods;
use crate::runtime::expectations::Expectations;
use crate::runtime::{Change, Key, WorkQueue, informer::forward};
use eligibility::Placement;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const COMPONENT: &str = "daemonset-controller";

pub fn start(ctx: &Arc<Context>) {
    let queue = WorkQueue::new();
    forward(&ctx.informers.daemon_sets, queue.clone(), |c| {
        vec![Key::of(c.object().as_ref())]
    });
    forward(&ctx.informers.pods, queue.clone(), |c| {
        let p = c.object();
        controller_of(&p.metadata)
            .filter(|r| r.kind == "DaemonSet")
            .map(|r| vec![Key::new(p.namespace().unwrap_or_default(), r.name.clone())])
            .unwrap_or_default()
    });
    // Any node change may change where daemons belong.
    let sets = ctx.informers.daemon_sets.clone();
    forward(
        &ctx.informers.nodes,
        queue.clone(),
        move |_c: &Change<Node>| sets.list().iter().map(|d| Key::of(d.as_ref())).collect(),
    );
    let c = Arc::new(Controller {
        ctx: ctx.clone(),
        events: ctx.recorder.for_component(COMPONENT),
        expectations: Expectations::default(),
        backoff: backoff::Backoff::default(),
    });
    queue.run(COMPONENT, 2, move |key| {
        let c = c.clone();
        async move { c.sync(&key).await }
    });
}

struct Controller {
    ctx: Arc<Context>,
    events: ComponentRecorder,
    expectations: Expectations,
    backoff: backoff::Backoff,
}

/// What one round creates and deletes.
#[derive(Default)]
struct Actions {
    create_on: Vec<String>,
    delete: Vec<Arc<Pod>>,
    /// A failed pod waits out its back-off: look again then.
    retry_after: Option<Duration>,
}

impl Actions {
    fn is_empty(&self) -> bool {
        self.create_on.is_empty() && self.delete.is_empty()
    }
}

fn earliest(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// What a sync looks at: the DaemonSet's pods by node and where each node stands.
struct World {
    /// Pods by the node they are for, oldest first; deleted pods that already finished are
    /// left out (they hold nothing).
    by_node: BTreeMap<String, Vec<Arc<Pod>>>,
    nodes: Vec<(String, Placement)>,
    hash: String,
    generation: Option<String>,
    min_ready: i32,
}

impl World {
    fn pods_on(&self, node: &str) -> &[Arc<Pod>] {
        self.by_node
            .get(node)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    fn updated(&self, p: &Pod) -> bool {
        pod::is_updated(p, &self.hash, self.generation.as_deref())
    }

    fn available(&self, p: &Pod, now: jiff::Timestamp) -> bool {
        pods::availability(p, self.min_ready, now).0
    }
}

impl Controller {
    async fn sync(&self, key: &Key) -> anyhow::Result<Option<Duration>> {
        let Some(ds) = self
            .ctx
            .informers
            .daemon_sets
            .get(Some(&key.namespace), &key.name)
        else {
            self.expectations.forget(key);
            return Ok(None);
        };
        let ds = (*ds).clone();
        // Whether revisions and pods still exist is unknowable while the set is deleted, so
        // upstream writes no status either.
        if ds.metadata.deletion_timestamp.is_some() {
            return Ok(None);
        }
        let spec = ds.spec.clone().unwrap_or_default();
        let ns = &key.namespace;
        let pod_api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), ns);
        let candidates = self.ctx.informers.pods.list_namespaced(ns);
        let owned = crate::ownership::claim(
            &ds,
            |l| selector_matches(&spec.selector, l),
            candidates,
            &pod_api,
        )
        .await?;
        let rev_api: Api<ControllerRevision> = Api::namespaced(self.ctx.client.clone(), ns);
        let history = revisions::ensure(
            &rev_api,
            &ds,
            &spec.template,
            ds.metadata.annotations.clone(),
        )
        .await?;
        let mut by_node: BTreeMap<String, Vec<Arc<Pod>>> = BTreeMap::new();
        for p in &owned {
            let finished = matches!(pods::phase(p), "Succeeded" | "Failed");
            if finished && p.metadata.deletion_timestamp.is_some() {
                continue;
            }
            if let Some(n) = pod::node_of(p) {
                by_node.entry(n).or_default().push(p.clone());
            }
        }
        for ps in by_node.values_mut() {
            ps.sort_by(|a, b| pod::oldest_first(a, b));
        }
        let world = World {
            by_node,
            nodes: self
                .ctx
                .informers
                .nodes
                .list()
                .iter()
                .map(|n| (n.name_any(), eligibility::placement(&ds, n)))
                .collect(),
            hash: revisions::hash(&spec.template),
            generation: pod::template_generation(&ds),
            min_ready: spec.min_ready_seconds.unwrap_or(0),
        };

        let pod_cache = &self.ctx.informers.pods;
        let observed = self.expectations.satisfied(key, |name| {
            pod_cache
                .get(Some(ns), name)
                .map(|p| p.metadata.deletion_timestamp.is_some())
        });
        let mut requeue = None;
        if observed {
            let mut actions = self.manage(&ds, &world);
            requeue = actions.retry_after;
            let strategy = spec.update_strategy.clone().unwrap_or_default();
            // The rolling update waits until what manage did has been observed.
            if actions.is_empty() && strategy.type_.as_deref() != Some("OnDelete") {
                actions = self.rolling_update(&ds, &world);
            }
            self.apply(key, &ds, &world.hash, &actions, &pod_api)
                .await?;
            self.prune_history(&ds, &history, &owned, &rev_api).await?;
        }
        let status_requeue = self.write_status(&ds, &world, observed).await?;
        Ok(earliest(requeue, status_requeue))
    }

    /// Upstream's `manage`: per node, create the missing daemon, delete finished ones (failed
    /// ones after their back-off), extra ones, and those on nodes they may not stay on.
    fn manage(&self, ds: &DaemonSet, world: &World) -> Actions {
        let surge = allows_surge(ds);
        let now = jiff::Timestamp::now();
        let mut out = Actions::default();
        for (node, placement) in &world.nodes {
            let pods = world.pods_on(node);
            if placement.should_run && pods.is_empty() {
                out.create_on.push(node.clone());
                continue;
            }
            if !placement.should_continue_running {
                out.delete.extend(
                    pods.iter()
                        .filter(|p| p.metadata.deletion_timestamp.is_none())
                        .cloned(),
                );
                continue;
            }
            let mut running: Vec<&Arc<Pod>> = Vec::new();
            for p in pods
                .iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
            {
                match pods::phase(p) {
                    "Failed" => {
                        if let Some(wait) = self.failed_pod(ds, p, node) {
                            out.retry_after = earliest(out.retry_after, Some(wait));
                        } else {
                            out.delete.push(p.clone());
                        }
                    }
                    "Succeeded" => {
                        self.events.normal(
                            ds,
                            "SucceededDaemonPod",
                            format!(
                                "Found succeeded daemon pod {}/{} on node {node}, will try to delete it",
                                p.namespace().unwrap_or_default(),
                                p.name_any()
                            ),
                        );
                        out.delete.push(p.clone());
                    }
                    _ => running.push(p),
                }
            }
            if !surge {
                // One daemon per node: keep the oldest.
                out.delete
                    .extend(running.iter().skip(1).map(|p| (*p).clone()));
                continue;
            }
            if running.is_empty() {
                if placement.should_run {
                    out.create_on.push(node.clone());
                }
                continue;
            }
            // Surging: the oldest new and the oldest old pod may coexist until the new one is
            // available (or the old one stops being ready).
            let (mut new, mut old): (Option<&Arc<Pod>>, Option<&Arc<Pod>>) = (None, None);
            for p in running {
                let slot = if world.updated(p) { &mut new } else { &mut old };
                if slot.is_none() {
                    *slot = Some(p);
                } else {
                    out.delete.push(p.clone());
                }
            }
            if let (Some(new), Some(old)) = (new, old)
                && (!pods::is_ready(old) || world.available(new, now))
            {
                out.delete.push(old.clone());
            }
        }
        // Pods pinned to nodes that no longer exist never get scheduled, and pod GC only
        // collects scheduled ones.
        let known: HashSet<&str> = world.nodes.iter().map(|(n, _)| n.as_str()).collect();
        for (node, pods) in &world.by_node {
            if known.contains(node.as_str()) {
                continue;
            }
            out.delete.extend(
                pods.iter()
                    .filter(|p| {
                        p.metadata.deletion_timestamp.is_none()
                            && p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_none()
                    })
                    .cloned(),
            );
        }
        out
    }

    /// A failed daemon pod: `None` when it is to be deleted now (with a `FailedDaemonPod`
    /// warning), or how long its node's back-off still runs.
    fn failed_pod(&self, ds: &DaemonSet, p: &Pod, node: &str) -> Option<Duration> {
        let observed = ds
            .status
            .as_ref()
            .and_then(|s| s.observed_generation)
            .unwrap_or(0);
        let key = format!("{}/{observed}/{node}", ds.uid().unwrap_or_default());
        let now = Instant::now();
        if let Some(wait) = self.backoff.remaining(&key, now) {
            return Some(wait);
        }
        self.backoff.next(&key, now);
        self.events.warning(
            ds,
            "FailedDaemonPod",
            format!(
                "Found failed daemon pod {}/{} on node {node}, will try to kill it",
                p.namespace().unwrap_or_default(),
                p.name_any()
            ),
        );
        None
    }

    /// The rolling update's round (see [`update`]).
    fn rolling_update(&self, ds: &DaemonSet, world: &World) -> Actions {
        let spec = ds.spec.clone().unwrap_or_default();
        let rolling = spec
            .update_strategy
            .as_ref()
            .and_then(|s| s.rolling_update.clone())
            .unwrap_or_default();
        let desired = world.nodes.iter().filter(|(_, p)| p.should_run).count();
        let budget = update::Budget {
            max_surge: update::scaled(rolling.max_surge.as_ref(), desired, 0),
            max_unavailable: update::scaled(rolling.max_unavailable.as_ref(), desired, 1),
            desired,
        };
        let nodes: Vec<update::NodePods> = world
            .nodes
            .iter()
            .filter_map(|(node, placement)| {
                let pods = world.pods_on(node);
                (!pods.is_empty()).then(|| update::NodePods {
                    node: node.clone(),
                    should_run: placement.should_run,
                    pods: pods.to_vec(),
                })
            })
            .collect();
        let now = jiff::Timestamp::now();
        let plan = update::plan(
            &nodes,
            &budget,
            |p| world.updated(p),
            |p| world.available(p, now),
        );
        let delete = plan
            .delete
            .iter()
            .filter_map(|name| {
                nodes
                    .iter()
                    .flat_map(|n| &n.pods)
                    .find(|p| &p.name_any() == name)
                    .cloned()
            })
            .collect();
        Actions {
            create_on: plan.create_on,
            delete,
            retry_after: None,
        }
    }

    /// Delete and create as planned, remembering each as an expectation.
    async fn apply(
        &self,
        key: &Key,
        ds: &DaemonSet,
        hash: &str,
        actions: &Actions,
        api: &Api<Pod>,
    ) -> anyhow::Result<()> {
        for p in &actions.delete {
            self.delete_pod(key, ds, p, api).await?;
        }
        for node in &actions.create_on {
            self.create_pod(key, ds, node, hash, api).await?;
        }
        Ok(())
    }

    /// Delete revisions beyond `revisionHistoryLimit`, oldest first, keeping the current one
    /// and any a pod still runs.
    async fn prune_history(
        &self,
        ds: &DaemonSet,
        history: &revisions::History,
        owned: &[Arc<Pod>],
        api: &Api<ControllerRevision>,
    ) -> anyhow::Result<()> {
        let limit = ds
            .spec
            .as_ref()
            .and_then(|s| s.revision_history_limit)
            .unwrap_or(revisions::DEFAULT_HISTORY_LIMIT)
            .max(0) as usize;
        let old = history.revisions.len().saturating_sub(1);
        if old <= limit {
            return Ok(());
        }
        let live: HashSet<&str> = owned
            .iter()
            .filter_map(|p| p.labels().get(REVISION_LABEL).map(String::as_str))
            .collect();
        let update = history.update.name_any();
        let doomed = revisions::to_prune(
            &history.revisions,
            |r| {
                r.name_any() == update
                    || r.labels()
                        .get(REVISION_LABEL)
                        .is_some_and(|h| live.contains(h.as_str()))
            },
            old - limit,
        );
        revisions::prune(api, &doomed).await
    }

    /// Write status as upstream counts it; returns when to look again for pods becoming
    /// available after minReadySeconds.
    async fn write_status(
        &self,
        ds: &DaemonSet,
        world: &World,
        observed: bool,
    ) -> anyhow::Result<Option<Duration>> {
        let now = jiff::Timestamp::now();
        let (mut desired, mut current, mut misscheduled) = (0, 0, 0);
        let (mut ready, mut available, mut updated) = (0, 0, 0);
        let mut recheck = None;
        for (node, placement) in &world.nodes {
            let pods = world.pods_on(node);
            if !placement.should_run {
                if !pods.is_empty() {
                    misscheduled += 1;
                }
                continue;
            }
            desired += 1;
            let Some(p) = pods.first() else { continue };
            current += 1;
            if pods::is_ready(p) {
                ready += 1;
                let (is_available, wait) = pods::availability(p, world.min_ready, now);
                if is_available {
                    available += 1;
                }
                recheck = earliest(recheck, wait);
            }
            if world.updated(p) {
                updated += 1;
            }
        }
        let have = ds.status.clone().unwrap_or_default();
        let generation = ds.metadata.generation.unwrap_or(0);
        let observed_generation = if observed {
            generation
        } else {
            have.observed_generation.unwrap_or(0)
        };
        let unchanged = have.desired_number_scheduled == desired
            && have.current_number_scheduled == current
            && have.number_misscheduled == misscheduled
            && have.number_ready == ready
            && have.number_available.unwrap_or(0) == available
            && have.number_unavailable.unwrap_or(0) == desired - available
            && have.updated_number_scheduled.unwrap_or(0) == updated
            && have.observed_generation.unwrap_or(0) >= generation;
        if unchanged && ds.status.is_some() {
            return Ok(recheck);
        }
        let status = json!({
            "desiredNumberScheduled": desired,
            "currentNumberScheduled": current,
            "numberMisscheduled": misscheduled,
            "numberReady": ready,
            "numberAvailable": available,
            "numberUnavailable": desired - available,
            "updatedNumberScheduled": updated,
            "observedGeneration": observed_generation,
        });
        let api: Api<DaemonSet> =
            Api::namespaced(self.ctx.client.clone(), &ds.namespace().unwrap_or_default());
        match api
            .patch_status(
                &ds.name_any(),
                &PatchParams::default(),
                &Patch::Merge(json!({"status": status})),
            )
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
        Ok(recheck)
    }

    async fn create_pod(
        &self,
        key: &Key,
        ds: &DaemonSet,
        node: &str,
        hash: &str,
        api: &Api<Pod>,
    ) -> anyhow::Result<()> {
        let pod = pod::new_pod(ds, node, hash);
        match api.create(&PostParams::default(), &pod).await {
            Ok(p) => {
                self.expectations.expect_create(key, p.name_any());
                self.events.normal(
                    ds,
                    "SuccessfulCreate",
                    format!("Created pod: {}", p.name_any()),
                );
                Ok(())
            }
            Err(e) => {
                let msg = crate::error_message(&e);
                // A terminating namespace refuses new pods; that is no failure.
                if matches!(&e, kube::Error::Api(s) if s.code == 403 && msg.contains("being terminated"))
                {
                    return Ok(());
                }
                self.events
                    .warning(ds, "FailedCreate", format!("Error creating: {msg}"));
                Err(e.into())
            }
        }
    }

    async fn delete_pod(
        &self,
        key: &Key,
        ds: &DaemonSet,
        p: &Pod,
        api: &Api<Pod>,
    ) -> anyhow::Result<()> {
        match api.delete(&p.name_any(), &DeleteParams::default()).await {
            Ok(_) => {
                self.expectations.expect_delete(key, p.name_any());
                self.events.normal(
                    ds,
                    "SuccessfulDelete",
                    format!("Deleted pod: {}", p.name_any()),
                );
                Ok(())
            }
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => {
                self.events.warning(
                    ds,
                    "FailedDelete",
                    format!("Error deleting: {}", crate::error_message(&e)),
                );
                Err(e.into())
            }
        }
    }
}

/// Whether the DaemonSet surges: RollingUpdate with a non-zero maxSurge (upstream's
/// `AllowsSurge`, which scales a percentage against one node).
fn allows_surge(ds: &DaemonSet) -> bool {
    let strategy = ds
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.clone())
        .unwrap_or_default();
    strategy.type_.as_deref() != Some("OnDelete")
        && update::scaled(
            strategy
                .rolling_update
                .as_ref()
                .and_then(|r| r.max_surge.as_ref()),
            1,
            0,
        ) > 0
}
