//! Node lifecycle: every 5 s (upstream's node-monitor-period) a node whose kubelet stopped
//! renewing its Lease and posting status for the grace period (50 s; 60 s for a node that never
//! reported) gets its conditions set to Unknown ("Kubelet stopped posting node status."); nodes
//! carry the `node.kubernetes.io/not-ready` or `unreachable` NoSchedule and NoExecute taints
//! matching their Ready condition; pods on a node whose Ready condition is not True get their
//! own Ready condition set False (upstream's `MarkPodsNotReady`), so workloads stop counting
//! them available; pods on a node with NoExecute taints are evicted as [`taint_eviction`]
//! decides.

pub mod taint_eviction;

use crate::events::ComponentRecorder;
use crate::manager::Context;
use crate::pod_status;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub const COMPONENT: &str = "node-controller";
pub const MONITOR_PERIOD: Duration = Duration::from_secs(5);
pub const GRACE_PERIOD: Duration = Duration::from_secs(50);
pub const STARTUP_GRACE_PERIOD: Duration = Duration::from_secs(60);
pub const NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";

pub fn start(ctx: &Arc<Context>) {
    let ctx = ctx.clone();
    let events = ctx.recorder.for_component(COMPONENT);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(MONITOR_PERIOD);
        let mut scheduled = taint_eviction::Scheduled::default();
        loop {
            tick.tick().await;
            if let Err(e) = monitor(&ctx, &events, &mut scheduled).await {
                tracing::debug!(error = format!("{e:#}"), "node monitoring failed");
            }
        }
    });
}

fn ready_condition(node: &Node) -> Option<&NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
}

async fn monitor(
    ctx: &Context,
    events: &ComponentRecorder,
    scheduled: &mut taint_eviction::Scheduled,
) -> anyhow::Result<()> {
    let leases: Api<Lease> = Api::namespaced(ctx.client.clone(), "kube-node-lease");
    let renewed: HashMap<String, jiff::Timestamp> = leases
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter_map(|l| {
            let t = l.spec.as_ref()?.renew_time.as_ref()?.0;
            Some((l.name_any(), t))
        })
        .collect();
    let now = jiff::Timestamp::now();
    let nodes: Api<Node> = Api::all(ctx.client.clone());
    let mut pods_by_node: HashMap<String, Vec<Arc<Pod>>> = HashMap::new();
    for p in ctx.informers.pods.list() {
        if let Some(n) = p.spec.as_ref().and_then(|s| s.node_name.clone()) {
            pods_by_node.entry(n).or_default().push(p);
        }
    }
    let pass = Pass {
        ctx,
        events,
        nodes: &nodes,
        renewed: &renewed,
        now,
    };
    for node in ctx.informers.nodes.list() {
        let on_node = pods_by_node.remove(&node.name_any()).unwrap_or_default();
        if let Err(e) = pass.monitor_node(scheduled, &node, &on_node).await {
            tracing::debug!(node = %node.name_any(), error = format!("{e:#}"), "node monitoring failed");
        }
    }
    scheduled.finish_pass();
    Ok(())
}

/// What one monitoring pass shares across nodes.
struct Pass<'a> {
    ctx: &'a Context,
    events: &'a ComponentRecorder,
    nodes: &'a Api<Node>,
    /// Node name -> when its Lease was last renewed.
    renewed: &'a HashMap<String, jiff::Timestamp>,
    now: jiff::Timestamp,
}

impl Pass<'_> {
    /// One node's health and taints, and the pods on it.
    async fn monitor_node(
        &self,
        scheduled: &mut taint_eviction::Scheduled,
        node: &Node,
        on_node: &[Arc<Pod>],
    ) -> anyhow::Result<()> {
        let (now, events) = (self.now, self.events);
        let name = node.name_any();
        let heartbeat =
            ready_condition(node).and_then(|c| c.last_heartbeat_time.as_ref().map(|t| t.0));
        let last = [heartbeat, self.renewed.get(&name).copied()]
            .into_iter()
            .flatten()
            .max();
        let (since, grace) = match last {
            Some(t) => (t, GRACE_PERIOD),
            None => (
                node.metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| t.0)
                    .unwrap_or(now),
                STARTUP_GRACE_PERIOD,
            ),
        };
        let stale = now.as_millisecond() - since.as_millisecond() > grace.as_millis() as i64;
        let mut node = node.clone();
        if stale && ready_condition(&node).is_none_or(|c| c.status != "Unknown") {
            mark_unknown(self.nodes, &mut node, now).await?;
            events.normal(
                &node,
                "NodeNotReady",
                format!("Node {name} status is now: NodeNotReady"),
            );
        }
        sync_taints(self.nodes, &node, now).await?;
        if ready_condition(&node).is_some_and(|c| c.status != "True") {
            mark_pods_not_ready(self.ctx, events, on_node).await?;
        }
        evict(self.ctx, events, scheduled, &node, on_node, now).await
    }
}

/// Upstream's `MarkPodsNotReady`: the node cannot vouch for its pods any more.
async fn mark_pods_not_ready(
    ctx: &Context,
    events: &ComponentRecorder,
    on_node: &[Arc<Pod>],
) -> anyhow::Result<()> {
    for p in on_node.iter().filter(|p| crate::pods::is_ready(p)) {
        let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &p.namespace().unwrap_or_default());
        if pod_status::mark_not_ready(&api, p).await? {
            events.warning(p.as_ref(), "NodeNotReady", "Node is not ready");
        }
    }
    Ok(())
}

async fn mark_unknown(
    api: &Api<Node>,
    node: &mut Node,
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    let mut conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    for t in ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"] {
        let c = match conditions.iter_mut().find(|c| c.type_ == t) {
            Some(c) => c,
            None => {
                conditions.push(NodeCondition {
                    type_: t.into(),
                    ..Default::default()
                });
                conditions.last_mut().expect("just pushed")
            }
        };
        if c.status != "Unknown" {
            c.last_transition_time = Some(Time(now));
        }
        c.status = "Unknown".into();
        c.reason = Some("NodeStatusUnknown".into());
        c.message = Some("Kubelet stopped posting node status.".into());
    }
    let updated = api
        .patch_status(
            &node.name_any(),
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"conditions": conditions}})),
        )
        .await?;
    *node = updated;
    Ok(())
}

/// The not-ready/unreachable taints that match the node's Ready condition.
async fn sync_taints(api: &Api<Node>, node: &Node, now: jiff::Timestamp) -> anyhow::Result<()> {
    let want_key = match ready_condition(node).map(|c| c.status.as_str()) {
        Some("True") => None,
        Some("False") => Some(NOT_READY),
        Some(_) => Some(UNREACHABLE),
        None => None,
    };
    let current: Vec<Taint> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let mut next: Vec<Taint> = current
        .iter()
        .filter(|t| {
            (t.key != NOT_READY && t.key != UNREACHABLE) || Some(t.key.as_str()) == want_key
        })
        .cloned()
        .collect();
    if let Some(key) = want_key {
        for effect in ["NoSchedule", "NoExecute"] {
            if !next.iter().any(|t| t.key == key && t.effect == effect) {
                next.push(Taint {
                    key: key.into(),
                    effect: effect.into(),
                    time_added: (effect == "NoExecute").then_some(Time(now)),
                    value: None,
                });
            }
        }
    }
    if next == current {
        return Ok(());
    }
    let taints = if next.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::to_value(&next)?
    };
    api.patch(
        &node.name_any(),
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"taints": taints}, "metadata": {"resourceVersion": node.metadata.resource_version}})),
    )
    .await?;
    Ok(())
}

/// Evict the pods whose tolerations of the node's NoExecute taints ran out (or never existed).
async fn evict(
    ctx: &Context,
    events: &ComponentRecorder,
    scheduled: &mut taint_eviction::Scheduled,
    node: &Node,
    on_node: &[Arc<Pod>],
    now: jiff::Timestamp,
) -> anyhow::Result<()> {
    let taints: Vec<Taint> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|t| t.effect == "NoExecute")
        .collect();
    for p in on_node
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        let uid = p.uid().unwrap_or_default();
        let tolerations = p
            .spec
            .as_ref()
            .and_then(|s| s.tolerations.clone())
            .unwrap_or_default();
        let ns = p.namespace().unwrap_or_default();
        match scheduled.decide(&uid, &taints, &tolerations, now) {
            taint_eviction::Decision::Evict => {
                let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
                taint_eviction::evict(&api, events, p).await?;
            }
            taint_eviction::Decision::Cancelled => events.normal(
                p.as_ref(),
                "TaintManagerEviction",
                format!("Cancelling deletion of Pod {ns}/{}", p.name_any()),
            ),
            taint_eviction::Decision::Wait | taint_eviction::Decision::Nothing => {}
        }
    }
    Ok(())
}
