//! Pod garbage collection: pods bound to nodes that no longer exist and terminating pods that
//! were never scheduled are deleted at once; terminated pods beyond the threshold (12,500,
//! upstream's default) are deleted oldest first.

use crate::manager::Context;
use crate::pods;
use k8s_openapi::api::core::v1::Pod;
use kube::api::DeleteParams;
use kube::{Api, ResourceExt};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// How many terminated pods are kept.
pub const TERMINATED_THRESHOLD: usize = 12_500;
/// How often to look (upstream: every 20 s).
pub const PERIOD: Duration = Duration::from_secs(20);

pub fn start(ctx: &Arc<Context>) {
    let ctx = ctx.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PERIOD);
        loop {
            tick.tick().await;
            if let Err(e) = collect(&ctx).await {
                tracing::debug!(error = format!("{e:#}"), "pod GC failed");
            }
        }
    });
}

async fn force_delete(ctx: &Context, p: &Pod) -> anyhow::Result<()> {
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &p.namespace().unwrap_or_default());
    match api
        .delete(&p.name_any(), &DeleteParams::default().grace_period(0))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn collect(ctx: &Context) -> anyhow::Result<()> {
    let nodes: HashSet<String> = ctx
        .informers
        .nodes
        .list()
        .iter()
        .map(|n| n.name_any())
        .collect();
    let all = ctx.informers.pods.list();
    for p in &all {
        let node = p.spec.as_ref().and_then(|s| s.node_name.clone());
        let orphaned = node.as_ref().is_some_and(|n| !nodes.contains(n));
        let unscheduled_terminating = node.is_none() && p.metadata.deletion_timestamp.is_some();
        if orphaned || unscheduled_terminating {
            force_delete(ctx, p).await?;
        }
    }
    let mut terminated: Vec<&Arc<Pod>> = all
        .iter()
        .filter(|p| matches!(pods::phase(p), "Succeeded" | "Failed"))
        .collect();
    if terminated.len() > TERMINATED_THRESHOLD {
        terminated.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
        let excess = terminated.len() - TERMINATED_THRESHOLD;
        for p in terminated.into_iter().take(excess) {
            force_delete(ctx, p).await?;
        }
    }
    Ok(())
}
