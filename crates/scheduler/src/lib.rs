//! rkube's scheduler: an API client (kube-rs) that assigns pods whose `spec.schedulerName` is
//! `default-scheduler` and that have no `spec.nodeName`, binding them through `pods/binding`.
//!
//! Layout: watches ([`informers`]) feed an in-memory [`cache`] of nodes and placed pods and the
//! scheduling [`queue`]; one loop pops the highest-priority pod, filters and scores nodes with
//! the default [`plugins`] ([`schedule`]), assumes the pod onto the chosen node in the cache and
//! hands the binding to a background task, so throughput does not wait on API round trips. When
//! no node fits it tries [`preemption`], then records the PodScheduled condition and a
//! `FailedScheduling` event ([`events`]) and parks the pod until a cluster change could help.

pub mod cache;
pub mod events;
pub mod informers;
pub mod node_info;
pub mod plugins;
pub mod pod_info;
pub mod preemption;
pub mod queue;
pub mod resources;
pub mod schedule;
pub mod volumes;

use anyhow::Context;
use cache::Cache;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use pod_info::{PodInfo, PriorityClasses};
use preemption::Budget;
use queue::{Queue, events as ev};
use rkube_machinery::selector::LabelSelector;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

/// The scheduler name this scheduler answers to.
pub const SCHEDULER_NAME: &str = "default-scheduler";

/// Options of the scheduler.
#[derive(Debug, Clone)]
pub struct Config {
    /// Percentage of nodes to find feasible before scoring (None: upstream's adaptive default).
    pub percentage_of_nodes_to_score: Option<u32>,
    /// Bindings in flight at once.
    pub bind_concurrency: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            percentage_of_nodes_to_score: None,
            bind_concurrency: 256,
        }
    }
}

/// Counters a benchmark or test can read.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Pods bound successfully.
    pub bound: AtomicU64,
    /// Scheduling attempts that found no node.
    pub unschedulable: AtomicU64,
    /// Preemptions carried out.
    pub preemptions: AtomicU64,
}

/// State shared by the watches, the scheduling loop and the binders.
pub struct Shared {
    pub cache: RwLock<Cache>,
    pub queue: Mutex<Queue>,
    pub classes: RwLock<PriorityClasses>,
    pub budgets: RwLock<HashMap<String, Budget>>,
    /// Selectors of Services and controllers: key → (namespace, selector).
    pub owners: RwLock<HashMap<String, (String, LabelSelector)>>,
    /// Claims, volumes and storage classes (VolumeBinding).
    pub volumes: RwLock<plugins::volume_binding::Volumes>,
    pub metrics: Metrics,
    wake: Notify,
    synced: AtomicUsize,
}

impl Shared {
    fn new() -> Self {
        Self {
            cache: RwLock::default(),
            queue: Mutex::default(),
            classes: RwLock::default(),
            budgets: RwLock::default(),
            owners: RwLock::default(),
            volumes: RwLock::default(),
            metrics: Metrics::default(),
            wake: Notify::new(),
            synced: AtomicUsize::new(0),
        }
    }

    fn synced(&self, bit: usize) {
        self.synced.fetch_or(1 << bit, Ordering::SeqCst);
        self.wake.notify_one();
    }

    fn cluster_event(&self, event: u32) {
        self.queue
            .lock()
            .expect("queue lock")
            .on_cluster_event(event);
        self.wake.notify_one();
    }

    /// A pod appeared or changed.
    fn observe_pod(&self, pod: &Pod) {
        let info = informers::pod_info(self, pod);
        if info.node_name.is_some() {
            self.queue.lock().expect("queue lock").remove(&info.uid);
            // None: the pod is newly seen on its node (AssignedPodAdd, also for pods this
            // scheduler assumed); Some(relabelled) otherwise.
            let previous = {
                let mut cache = self.cache.write().expect("cache lock");
                if info.finished {
                    cache.remove_pod(&info.uid);
                    Some(false)
                } else {
                    cache
                        .upsert_pod(info.clone())
                        .map(|old| old.labels != info.labels)
                }
            };
            if info.finished {
                self.cluster_event(ev::POD_DELETE);
            } else {
                match previous {
                    None => self.cluster_event(ev::POD_ADD),
                    // AssignedPodUpdate: new labels can satisfy affinity or change spreading.
                    Some(true) => self.cluster_event(ev::POD_UPDATE),
                    Some(false) => {}
                }
            }
        } else if info.scheduler_name == SCHEDULER_NAME
            && !info.terminating
            && !info.finished
            && !info.gated
        {
            self.queue.lock().expect("queue lock").upsert(info);
            self.wake.notify_one();
        } else {
            self.queue.lock().expect("queue lock").remove(&info.uid);
        }
    }

    /// A pod was deleted.
    fn forget_pod(&self, uid: &str) {
        self.queue.lock().expect("queue lock").remove(uid);
        if self.cache.write().expect("cache lock").remove_pod(uid) {
            self.cluster_event(ev::POD_DELETE);
        }
    }

    /// The selector of the Service or controller that selects `pod`, for default spreading.
    fn owner_selector(&self, pod: &PodInfo) -> Option<LabelSelector> {
        if pod.labels.is_empty() {
            return None;
        }
        let owners = self.owners.read().expect("owners lock");
        let mut found: Option<(bool, LabelSelector)> = None;
        for (key, (ns, sel)) in owners.iter() {
            if *ns == pod.namespace && sel.matches(&pod.labels) {
                let controller = !key.starts_with("Service/");
                if found.as_ref().is_none_or(|(c, _)| controller && !c) {
                    found = Some((controller, sel.clone()));
                }
            }
        }
        found.map(|(_, s)| s)
    }
}

/// A running scheduler.
pub struct Scheduler {
    pub shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Scheduler {
    /// Whether every task of the scheduler (informers, event recorder, scheduling loop) is still
    /// running: what its health check reports.
    pub fn is_running(&self) -> bool {
        self.tasks.iter().all(|t| !t.is_finished())
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Scheduler {
    /// Wait until the scheduler stops (it runs until dropped or aborted).
    pub async fn wait(mut self) {
        for t in std::mem::take(&mut self.tasks) {
            let _ = t.await;
        }
    }
}

/// Start the scheduler with `client`; it runs until the returned handle is dropped.
pub fn start(client: kube::Client, config: Config) -> Scheduler {
    let shared = Arc::new(Shared::new());
    let mut tasks = informers::start(shared.clone(), client.clone());
    let recorder = events::Recorder::start(client.clone());
    let s = shared.clone();
    tasks.push(tokio::spawn(async move {
        run_loop(s, client, config, recorder).await
    }));
    Scheduler { shared, tasks }
}

struct Loop {
    shared: Arc<Shared>,
    client: kube::Client,
    config: Config,
    recorder: events::Recorder,
    binds: Arc<Semaphore>,
    cursor: schedule::Cursor,
}

async fn run_loop(
    shared: Arc<Shared>,
    client: kube::Client,
    config: Config,
    recorder: events::Recorder,
) {
    // Wait for the first lists of nodes, pods, priority classes, claims, volumes and classes.
    while shared.synced.load(Ordering::SeqCst) != 0b11_1111 {
        let _ = tokio::time::timeout(Duration::from_millis(100), shared.wake.notified()).await;
    }
    let binds = Arc::new(Semaphore::new(config.bind_concurrency.max(1)));
    let mut l = Loop {
        shared,
        client,
        config,
        recorder,
        binds,
        cursor: Default::default(),
    };
    let mut cycles = 0u64;
    // A burst: from the first attempt after the queue was empty to the queue draining again.
    let mut burst: Option<(std::time::Instant, u64)> = None;
    loop {
        let (next, backoff) = {
            let mut q = l.shared.queue.lock().expect("queue lock");
            q.flush();
            (q.pop(), q.next_backoff())
        };
        match next {
            Some(pod) => {
                burst.get_or_insert((std::time::Instant::now(), cycles));
                l.schedule_one(pod).await;
                cycles += 1;
                if cycles.is_multiple_of(64) {
                    tokio::task::yield_now().await;
                }
            }
            None => {
                if let Some((since, first)) = burst.take() {
                    let n = cycles - first;
                    let secs = since.elapsed().as_secs_f64();
                    if n >= 1000 {
                        tracing::info!(
                            "scheduling queue drained: {n} attempts in {secs:.2}s ({:.0}/s)",
                            n as f64 / secs.max(1e-6)
                        );
                    }
                }
                let until =
                    backoff.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(1));
                let _ = tokio::time::timeout_at(until, l.shared.wake.notified()).await;
            }
        }
    }
}

impl Loop {
    async fn schedule_one(&mut self, pod: Arc<PodInfo>) {
        let shared = self.shared.clone();
        let owner = shared.owner_selector(&pod);
        let nominated = shared.queue.lock().expect("queue lock").nominated();
        let (outcome, plan, nomination, message, claims) = {
            let cache = shared.cache.read().expect("cache lock");
            if cache.is_placed(&pod.uid) {
                shared.queue.lock().expect("queue lock").done(&pod.uid);
                return;
            }
            let prepared = {
                let volumes = shared.volumes.read().expect("volumes lock");
                plugins::prepare(pod.clone(), &cache, &nominated, owner, &volumes)
            };
            let claims = prepared.delayed_claims();
            let (outcome, plan, nomination, message) = match schedule::find_node(
                &prepared,
                &cache,
                &mut self.cursor,
                self.config.percentage_of_nodes_to_score,
            ) {
                schedule::Outcome::Fit(node) => (Ok(node), None, None, String::new()),
                schedule::Outcome::NoFit(diag) => {
                    let budgets: Vec<Budget> = shared
                        .budgets
                        .read()
                        .expect("budgets lock")
                        .values()
                        .cloned()
                        .collect();
                    // The nomination to record: None leaves it, Some(None) clears it.
                    let (plan, post, nomination) = if diag.nodes == 0 {
                        (None, None, None)
                    } else {
                        match preemption::preempt(&prepared, &cache, &diag, &budgets) {
                            Ok(plan) => {
                                let node = Some(plan.node.clone());
                                (Some(plan), None, Some(node))
                            }
                            Err(r) => (None, Some(r.message), r.clear_nomination.then_some(None)),
                        }
                    };
                    let message = if diag.nodes == 0 {
                        "no nodes available to schedule pods".to_string()
                    } else {
                        diag.message(post.as_deref())
                    };
                    (Err(diag.wake_on()), plan, nomination, message)
                }
            };
            (outcome, plan, nomination, message, claims)
        };
        match outcome {
            Ok(node) => {
                shared
                    .cache
                    .write()
                    .expect("cache lock")
                    .assume(&pod, &node);
                shared.queue.lock().expect("queue lock").done(&pod.uid);
                let permit = self
                    .binds
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("semaphore open");
                let (client, recorder, shared) =
                    (self.client.clone(), self.recorder.clone(), shared.clone());
                tokio::spawn(async move {
                    bind(&client, &recorder, &shared, &pod, &node, &claims).await;
                    drop(permit);
                });
            }
            Err(wake_on) => {
                shared.metrics.unschedulable.fetch_add(1, Ordering::Relaxed);
                let mut wake_on = if wake_on == 0 {
                    ev::NODE_ADD | ev::NODE_UPDATE
                } else {
                    wake_on
                };
                if let Some(n) = &nomination {
                    shared
                        .queue
                        .lock()
                        .expect("queue lock")
                        .nominate(&pod.uid, n.as_deref());
                }
                if let Some(plan) = plan {
                    shared.metrics.preemptions.fetch_add(1, Ordering::Relaxed);
                    wake_on |= ev::POD_DELETE;
                    // Lower-priority pods nominated to the node lose their claim on it and
                    // look for another place.
                    let displaced: Vec<Arc<PodInfo>> = nominated
                        .get(&plan.node)
                        .into_iter()
                        .flatten()
                        .filter(|p| p.priority < pod.priority && p.uid != pod.uid)
                        .cloned()
                        .collect();
                    for p in displaced {
                        shared
                            .queue
                            .lock()
                            .expect("queue lock")
                            .nominate(&p.uid, None);
                        let client = self.client.clone();
                        tokio::spawn(async move {
                            if let Err(e) = clear_nomination(&client, &p).await {
                                tracing::debug!("clearing the nomination of {}: {e}", p.key());
                            }
                        });
                    }
                    for v in &plan.victims {
                        let (client, recorder, pod, v, node) = (
                            self.client.clone(),
                            self.recorder.clone(),
                            pod.clone(),
                            v.clone(),
                            plan.node.clone(),
                        );
                        tokio::spawn(async move {
                            evict_victim(&client, &recorder, &pod, &v, &node).await
                        });
                    }
                }
                shared
                    .queue
                    .lock()
                    .expect("queue lock")
                    .failed(&pod.uid, wake_on);
                self.recorder
                    .pod_event(&pod, "Warning", "FailedScheduling", message.clone());
                let client = self.client.clone();
                tokio::spawn(async move {
                    if let Err(e) = record_unschedulable(&client, &pod, &message, nomination).await
                    {
                        tracing::debug!("updating status of {}: {e}", pod.key());
                    }
                });
            }
        }
    }
}

/// Forget an assumed pod whose binding failed and retry it after a back-off.
fn unassume(shared: &Shared, pod: &Arc<PodInfo>, retry: bool) {
    shared.cache.write().expect("cache lock").forget(&pod.uid);
    if retry {
        let mut q = shared.queue.lock().expect("queue lock");
        q.upsert(pod.clone());
        q.failed(&pod.uid, ev::ALL);
    }
    shared.wake.notify_one();
}

/// PreBind (VolumeBinding), then POST the Binding; on failure forget the assumption and retry
/// the pod after a back-off.
async fn bind(
    client: &kube::Client,
    recorder: &events::Recorder,
    shared: &Shared,
    pod: &Arc<PodInfo>,
    node: &str,
    claims: &[String],
) {
    if !claims.is_empty()
        && let Err(e) = volumes::bind_claims(client, shared, pod, node, claims).await
    {
        tracing::info!("binding volumes of {} on {node}: {e:#}", pod.key());
        recorder.pod_event(
            pod,
            "Warning",
            "FailedScheduling",
            format!("running PreBind plugin \"VolumeBinding\": binding volumes: {e:#}"),
        );
        unassume(shared, pod, true);
        return;
    }
    let api: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace);
    let binding = json!({
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    });
    match api
        .create_subresource::<_, Value>("binding", &pod.name, &PostParams::default(), &binding)
        .await
    {
        Ok(_) => {
            shared.metrics.bound.fetch_add(1, Ordering::Relaxed);
            recorder.pod_event(
                pod,
                "Normal",
                "Scheduled",
                format!("Successfully assigned {} to {node}", pod.key()),
            );
        }
        Err(e) => {
            tracing::info!("binding {} to {node}: {e}", pod.key());
            unassume(
                shared,
                pod,
                !matches!(&e, kube::Error::Api(s) if s.code == 404),
            );
        }
    }
}

/// Set PodScheduled=False/Unschedulable unless already so, and the nominated node when
/// `nomination` overrides it (`Some(None)` clears it).
async fn record_unschedulable(
    client: &kube::Client,
    pod: &PodInfo,
    message: &str,
    nomination: Option<Option<String>>,
) -> anyhow::Result<()> {
    let same = pod
        .scheduled_condition
        .as_ref()
        .is_some_and(|(s, r, m)| s == "False" && r == "Unschedulable" && m == message);
    let nomination = nomination.filter(|n| *n != pod.nominated_node);
    if same && nomination.is_none() {
        return Ok(());
    }
    let api: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace);
    let current = api.get_status(&pod.name).await?;
    let mut conditions: Vec<Value> = current
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .map(|cs| {
            cs.iter()
                .filter(|c| c.type_ != "PodScheduled")
                .filter_map(|c| serde_json::to_value(c).ok())
                .collect()
        })
        .unwrap_or_default();
    conditions.push(
        json!({"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "message": message, "lastProbeTime": null, "lastTransitionTime": rkube_machinery::time::now_rfc3339()}),
    );
    let mut status = json!({"conditions": conditions});
    if let Some(n) = nomination {
        status["nominatedNodeName"] = n.map_or(Value::Null, Value::from);
    }
    api.patch_status(
        &pod.name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": status})),
    )
    .await?;
    Ok(())
}

/// Remove the nominated node of a lower-priority pod displaced by a preemption.
async fn clear_nomination(client: &kube::Client, pod: &PodInfo) -> anyhow::Result<()> {
    let api: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace);
    api.patch_status(
        &pod.name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"nominatedNodeName": null}})),
    )
    .await
    .with_context(|| format!("patching the status of {}", pod.key()))?;
    Ok(())
}

/// Mark a victim with DisruptionTarget, delete it, and record `Preempted`.
async fn evict_victim(
    client: &kube::Client,
    recorder: &events::Recorder,
    preemptor: &PodInfo,
    victim: &PodInfo,
    node: &str,
) {
    let api: Api<Pod> = Api::namespaced(client.clone(), &victim.namespace);
    if let Ok(current) = api.get_status(&victim.name).await {
        let mut conditions: Vec<Value> = current
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .map(|cs| {
                cs.iter()
                    .filter(|c| c.type_ != "DisruptionTarget")
                    .filter_map(|c| serde_json::to_value(c).ok())
                    .collect()
            })
            .unwrap_or_default();
        conditions.push(json!({"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
            "message": format!("{}: preempting to accommodate a higher priority pod", preemptor.scheduler_name),
            "lastProbeTime": null, "lastTransitionTime": rkube_machinery::time::now_rfc3339()}));
        let _ = api
            .patch_status(
                &victim.name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"conditions": conditions}})),
            )
            .await;
    }
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some(victim.uid.clone()),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(&victim.name, &dp).await {
        Ok(_) => recorder.pod_event(
            victim,
            "Normal",
            "Preempted",
            format!("Preempted by pod {} on node {node}", preemptor.uid),
        ),
        Err(e) => tracing::info!("preempting {}: {e}", victim.key()),
    }
}
