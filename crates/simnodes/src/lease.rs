//! Node heartbeats: one Lease per node in `kube-node-lease`, renewed by a single loop that
//! spreads the renewals evenly over the interval, with a bounded number in flight.

use crate::{SimConfig, node::Registered};
use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// The namespace of node Leases.
pub const NAMESPACE: &str = "kube-node-lease";

/// Create (or refresh) the Lease of every node, owned by its Node as upstream's kubelet does.
pub async fn create_all(
    client: &kube::Client,
    config: &SimConfig,
    nodes: &[Registered],
) -> anyhow::Result<()> {
    let api: Api<Lease> = Api::namespaced(client.clone(), NAMESPACE);
    futures::stream::iter(nodes)
        .map(|n| {
            let api = api.clone();
            async move {
                let lease: Lease = serde_json::from_value(json!({
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {
                        "name": n.name,
                        "namespace": NAMESPACE,
                        "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": n.name, "uid": n.uid}],
                    },
                    "spec": {
                        "holderIdentity": n.name,
                        "leaseDurationSeconds": config.lease_duration_seconds,
                        "renewTime": rkube_machinery::time::now_micro(),
                    }
                }))?;
                match api.create(&PostParams::default(), &lease).await {
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(e)) if e.code == 409 => renew(&api, &n.name).await,
                    Err(e) => Err(e).with_context(|| format!("creating the lease of {}", n.name)),
                }
            }
        })
        .buffer_unordered(config.concurrency.max(1))
        .try_collect::<()>()
        .await
}

async fn renew(api: &Api<Lease>, name: &str) -> anyhow::Result<()> {
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"renewTime": rkube_machinery::time::now_micro()}})),
    )
    .await
    .with_context(|| format!("renewing the lease of {name}"))?;
    Ok(())
}

/// Renew every Lease once per interval, in small batches spread over the interval.
pub async fn renew_forever(client: kube::Client, config: Arc<SimConfig>, names: Arc<Vec<String>>) {
    let api: Api<Lease> = Api::namespaced(client, NAMESPACE);
    const BATCH: usize = 50;
    let batches = names.len().div_ceil(BATCH).max(1);
    let pause = config.lease_renew_interval / batches as u32;
    loop {
        let round = tokio::time::Instant::now();
        for (b, chunk) in names.chunks(BATCH).enumerate() {
            futures::stream::iter(chunk)
                .for_each_concurrent(config.concurrency.max(1), |name| {
                    let api = api.clone();
                    async move {
                        if let Err(e) = renew(&api, name).await {
                            tracing::warn!("{e:#}");
                        }
                    }
                })
                .await;
            tokio::time::sleep_until(round + pause * (b as u32 + 1)).await;
        }
        tokio::time::sleep_until(
            round + config.lease_renew_interval.max(Duration::from_millis(10)),
        )
        .await;
    }
}
