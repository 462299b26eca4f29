//! Pod garbage collection (upstream's podgc controller), every 20 s:
//! - terminated pods beyond the threshold (12,500, upstream's default) are deleted, evicted
//!   ones first, then oldest first;
//! - terminating pods on a node that is not Ready and carries the
//!   `node.kubernetes.io/out-of-service` taint are force-deleted (their kubelet is gone);
//! - pods bound to a node missing from the cache are quarantined for 40 s, then the node is
//!   looked up on the server: only when it is really gone are its pods marked
//!   `DisruptionTarget` (`DeletionByPodGC`) and force-deleted, so a lagging cache never costs a
//!   live pod;
//! - terminating pods that were never scheduled are force-deleted.
//!
//! Every pod it deletes that is not yet Succeeded or Failed is first marked Failed, as no
//! kubelet will.

use crate::manager::Context;
use crate::{pod_status, pods};
use k8s_openapi::api::core::v1::{Node, Pod, PodCondition};
use kube::api::{DeleteParams, Preconditions};
use kube::{Api, ResourceExt};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How many terminated pods are kept.
pub const TERMINATED_THRESHOLD: usize = 12_500;
/// How often to look (upstream: every 20 s).
pub const PERIOD: Duration = Duration::from_secs(20);
/// How long a node missing from the cache is given to show up before the server is asked.
pub const QUARANTINE: Duration = Duration::from_secs(40);
/// The taint an administrator puts on a node that is known to be shut down.
pub const OUT_OF_SERVICE: &str = "node.kubernetes.io/out-of-service";
/// The `DisruptionTarget` reason and message for pods of a deleted node.
pub const ORPHAN_REASON: &str = "DeletionByPodGC";
pub const ORPHAN_MESSAGE: &str = "PodGC: node no longer exists";

pub fn start(ctx: &Arc<Context>) {
    let ctx = ctx.clone();
    tokio::spawn(async move {
        let mut quarantine = Quarantine::default();
        loop {
            let started = Instant::now();
            if let Err(e) = collect(&ctx, &mut quarantine).await {
                tracing::debug!(error = format!("{e:#}"), "pod GC failed");
            }
            // Look again when the next quarantine ends, if that is before the next period.
            let next = quarantine
                .next_end()
                .map_or(started + PERIOD, |q| q.min(started + PERIOD));
            tokio::time::sleep_until(next.max(Instant::now() + Duration::from_millis(100))).await;
        }
    });
}

/// Nodes pods are bound to that the cache does not know, each with when its quarantine ends.
#[derive(Default)]
pub struct Quarantine {
    until: HashMap<String, Instant>,
}

impl Quarantine {
    /// Start the quarantine of `node` unless it is already in one.
    pub fn add(&mut self, node: &str, now: Instant) {
        self.until
            .entry(node.to_string())
            .or_insert(now + QUARANTINE);
    }

    /// Take the nodes whose quarantine is over.
    pub fn take_ended(&mut self, now: Instant) -> Vec<String> {
        let ended: Vec<String> = self
            .until
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(n, _)| n.clone())
            .collect();
        for n in &ended {
            self.until.remove(n);
        }
        ended
    }

    /// When the next quarantine ends.
    pub fn next_end(&self) -> Option<Instant> {
        self.until.values().min().copied()
    }
}

async fn collect(ctx: &Context, quarantine: &mut Quarantine) -> anyhow::Result<()> {
    let nodes: HashMap<String, Arc<Node>> = ctx
        .informers
        .nodes
        .list()
        .into_iter()
        .map(|n| (n.name_any(), n))
        .collect();
    let all = ctx.informers.pods.list();
    gc_terminated(ctx, &all).await?;
    gc_terminating(ctx, &all, &nodes).await?;
    gc_orphaned(ctx, &all, &nodes, quarantine).await?;
    for p in all
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_some() && node_name(p).is_none())
    {
        fail_and_force_delete(ctx, p, None).await?;
    }
    Ok(())
}

fn node_name(p: &Pod) -> Option<&str> {
    p.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

/// Terminated pods beyond the threshold go, evicted ones first, then oldest first.
async fn gc_terminated(ctx: &Context, all: &[Arc<Pod>]) -> anyhow::Result<()> {
    let mut terminated: Vec<&Arc<Pod>> = all
        .iter()
        .filter(|p| !matches!(pods::phase(p), "Pending" | "Running" | "Unknown"))
        .collect();
    if terminated.len() <= TERMINATED_THRESHOLD {
        return Ok(());
    }
    let evicted = |p: &Pod| {
        pods::phase(p) == "Failed"
            && p.status.as_ref().and_then(|s| s.reason.as_deref()) == Some("Evicted")
    };
    terminated.sort_by(|a, b| {
        evicted(b)
            .cmp(&evicted(a))
            .then_with(|| {
                let at = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
                at(a).cmp(&at(b))
            })
            .then_with(|| a.name_any().cmp(&b.name_any()))
    });
    let excess = terminated.len() - TERMINATED_THRESHOLD;
    for p in terminated.into_iter().take(excess) {
        fail_and_force_delete(ctx, p, None).await?;
    }
    Ok(())
}

/// Terminating pods on a not-Ready node an administrator declared out of service.
async fn gc_terminating(
    ctx: &Context,
    all: &[Arc<Pod>],
    nodes: &HashMap<String, Arc<Node>>,
) -> anyhow::Result<()> {
    let out_of_service = |n: &Node| {
        let ready = n
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        let tainted = n
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .into_iter()
            .flatten()
            .any(|t| t.key == OUT_OF_SERVICE);
        !ready && tainted
    };
    for p in all
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_some())
    {
        let node = node_name(p).and_then(|n| nodes.get(n));
        if node.is_some_and(|n| out_of_service(n)) {
            fail_and_force_delete(ctx, p, None).await?;
        }
    }
    Ok(())
}

/// Pods of nodes that are gone: quarantine unknown nodes, then confirm with the server.
async fn gc_orphaned(
    ctx: &Context,
    all: &[Arc<Pod>],
    nodes: &HashMap<String, Arc<Node>>,
    quarantine: &mut Quarantine,
) -> anyhow::Result<()> {
    let now = Instant::now();
    for n in all.iter().filter_map(|p| node_name(p)) {
        if !nodes.contains_key(n) {
            quarantine.add(n, now);
        }
    }
    let api: Api<Node> = Api::all(ctx.client.clone());
    let mut gone: HashSet<String> = HashSet::new();
    for n in quarantine.take_ended(now) {
        if nodes.contains_key(&n) {
            continue;
        }
        // An error leaves the node to the next pass, which quarantines it again if needed.
        match api.get_opt(&n).await {
            Ok(None) => {
                gone.insert(n);
            }
            Ok(Some(_)) => {}
            Err(e) => tracing::debug!(node = %n, error = %e, "pod GC could not look up a node"),
        }
    }
    if gone.is_empty() {
        return Ok(());
    }
    let condition = pod_status::disruption_target(ORPHAN_REASON, ORPHAN_MESSAGE);
    for p in all
        .iter()
        .filter(|p| node_name(p).is_some_and(|n| gone.contains(n)))
    {
        tracing::info!(pod = %p.name_any(), node = ?node_name(p), "deleting a pod whose node no longer exists");
        fail_and_force_delete(ctx, p, Some(&condition)).await?;
    }
    Ok(())
}

/// Mark the pod Failed (with `condition`) unless it already finished, then delete it with no
/// grace period.
async fn fail_and_force_delete(
    ctx: &Context,
    p: &Pod,
    condition: Option<&PodCondition>,
) -> anyhow::Result<()> {
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &p.namespace().unwrap_or_default());
    let name = p.name_any();
    if !pod_status::mark_failed(&api, p, condition).await? {
        return Ok(());
    }
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            uid: p.uid(),
            resource_version: None,
        }),
        ..DeleteParams::default().grace_period(0)
    };
    match api.delete(&name, &dp).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_node_is_checked_only_after_its_quarantine() {
        let t0 = Instant::now();
        let mut q = Quarantine::default();
        q.add("gone", t0);
        // Seen missing again later: the quarantine does not restart.
        q.add("gone", t0 + Duration::from_secs(20));
        assert!(q.take_ended(t0 + Duration::from_secs(39)).is_empty());
        assert_eq!(q.next_end(), Some(t0 + QUARANTINE));
        assert_eq!(q.take_ended(t0 + QUARANTINE), ["gone"]);
        assert!(q.take_ended(t0 + QUARANTINE).is_empty());
        assert_eq!(q.next_end(), None);
    }
}
