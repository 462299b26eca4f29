//! Node lifecycle: every 5 s (upstream's node-monitor-period) a node whose kubelet stopped
//! renewing its Lease and posting status for the grace period (50 s; 60 s for a node that never
//! reported) gets its conditions set to Unknown ("Kubelet stopped posting node status."); nodes
//! carry the `node.kubernetes.io/not-ready` or `unreachable` NoSchedule and NoExecute taints
//! matching their Ready condition; pods on a node with a NoExecute taint they do not tolerate
//! are evicted, those tolerating it for `tolerationSeconds` once that has run out.

use crate::events::ComponentRecorder;
use crate::manager::Context;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
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
        loop {
            tick.tick().await;
            if let Err(e) = monitor(&ctx, &events).await {
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

async fn monitor(ctx: &Context, events: &ComponentRecorder) -> anyhow::Result<()> {
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
    for node in ctx.informers.nodes.list() {
        let name = node.name_any();
        let heartbeat =
            ready_condition(&node).and_then(|c| c.last_heartbeat_time.as_ref().map(|t| t.0));
        let last = [heartbeat, renewed.get(&name).copied()]
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
        let mut node = (*node).clone();
        if stale && ready_condition(&node).is_none_or(|c| c.status != "Unknown") {
            mark_unknown(&nodes, &mut node, now).await?;
            events.normal(
                &node,
                "NodeNotReady",
                format!("Node {name} status is now: NodeNotReady"),
            );
        }
        sync_taints(&nodes, &node, now).await?;
        evict(ctx, events, &node, now).await?;
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

/// Evict pods whose tolerations of the node's NoExecute taints ran out (or never existed).
async fn evict(
    ctx: &Context,
    events: &ComponentRecorder,
    node: &Node,
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
    if taints.is_empty() {
        return Ok(());
    }
    let name = node.name_any();
    let on_node: Vec<Arc<Pod>> = ctx
        .informers
        .pods
        .list()
        .into_iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(name.as_str()))
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    for p in on_node {
        let tols = p
            .spec
            .as_ref()
            .and_then(|s| s.tolerations.clone())
            .unwrap_or_default();
        let mut due = false;
        for t in &taints {
            let tol = tols.iter().find(|x| {
                x.effect
                    .as_deref()
                    .is_none_or(|e| e.is_empty() || e == "NoExecute")
                    && x.key.as_deref().is_none_or(|k| k.is_empty() || k == t.key)
                    && (x.operator.as_deref() == Some("Exists") || x.value == t.value)
            });
            match tol {
                None => due = true,
                Some(x) => {
                    if let Some(secs) = x.toleration_seconds {
                        let added = t.time_added.as_ref().map(|t| t.0).unwrap_or(now);
                        if now.as_second() >= added.as_second() + secs {
                            due = true;
                        }
                    }
                }
            }
        }
        if !due {
            continue;
        }
        let ns = p.namespace().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
        match api.delete(&p.name_any(), &DeleteParams::default()).await {
            Ok(_) => events.normal(
                p.as_ref(),
                "TaintManagerEviction",
                format!("Marking for deletion Pod {ns}/{}", p.name_any()),
            ),
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
