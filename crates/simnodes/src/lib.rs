//! Simulated nodes, like kwok: one process registers many Nodes, keeps their Leases fresh and
//! plays kubelet for the pods bound to them, so the scheduler and controllers can be exercised
//! at scale without containers.
//!
//! Cost is per process, not per node: one watch of bound pods (`spec.nodeName!=`), one lease
//! renewal loop that spreads the renewals over the interval, and a bounded pool of API writers.
//!
//! What the fake kubelet does with a pod bound to one of its nodes:
//! - Pending → Running: pod IP from the node's fake `/24`, `hostIP`, `startTime`, container
//!   statuses (running, started, ready, restartCount 0) and the Ready conditions.
//! - Graceful deletion: once the pod has a `deletionTimestamp` it is deleted with grace 0.
//! - Pods that finish (see [`lifecycle`]): the annotation `sim.rkube.io/exit-after: 2s` makes the
//!   containers exit after that time with `sim.rkube.io/exit-code` (default 0). Pods whose
//!   `restartPolicy` is `Never` or `OnFailure` and carry no annotation exit after 1s, with the
//!   code of an `exit N` in their command, unless the command sleeps (`sleep 30`: exits after
//!   30s; `sleep infinity`: never). Exit code 0 → Succeeded; non-zero → Failed (`Never`) or a
//!   container restart (`OnFailure`, `Always`).

pub mod ipam;
pub mod kubelet;
pub mod lease;
pub mod lifecycle;
pub mod node;

use anyhow::Context;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How many nodes to simulate and what they look like.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Number of nodes.
    pub count: usize,
    /// Node names are `<prefix><index>`.
    pub prefix: String,
    /// Index of the first node (so several processes can share a cluster).
    pub first_index: usize,
    /// Capacity (= allocatable) per node.
    pub cpu: String,
    pub memory: String,
    pub pods: u32,
    pub ephemeral_storage: String,
    /// Extra labels on every node.
    pub labels: BTreeMap<String, String>,
    /// Taints on every node: (key, value, effect).
    pub taints: Vec<(String, String, String)>,
    /// How often each node's Lease is renewed (the kubelet's default is 10s).
    pub lease_renew_interval: Duration,
    /// `spec.leaseDurationSeconds` of the Leases (the kubelet's default is 40).
    pub lease_duration_seconds: i32,
    /// Whether to play kubelet for bound pods (benchmarks of the scheduler alone turn it off).
    pub run_pods: bool,
    /// Concurrent API writes.
    pub concurrency: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            count: 1,
            prefix: "sim-node-".into(),
            first_index: 0,
            cpu: "4".into(),
            memory: "16Gi".into(),
            pods: 110,
            ephemeral_storage: "100Gi".into(),
            labels: BTreeMap::new(),
            taints: Vec::new(),
            lease_renew_interval: Duration::from_secs(10),
            lease_duration_seconds: 40,
            run_pods: true,
            concurrency: 32,
        }
    }
}

impl SimConfig {
    /// The name of node `i` (0-based within this process).
    pub fn node_name(&self, i: usize) -> String {
        format!("{}{}", self.prefix, self.first_index + i)
    }
}

/// Parse `key=value:Effect` (or `key:Effect`) as `kubectl taint` writes taints.
pub fn parse_taint(s: &str) -> anyhow::Result<(String, String, String)> {
    let (kv, effect) = s
        .rsplit_once(':')
        .with_context(|| format!("taint {s:?}: expected key[=value]:Effect"))?;
    if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
        anyhow::bail!("taint {s:?}: effect must be NoSchedule, PreferNoSchedule or NoExecute");
    }
    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
    Ok((k.to_string(), v.to_string(), effect.to_string()))
}

/// Parse `key=value`.
pub fn parse_label(s: &str) -> anyhow::Result<(String, String)> {
    let (k, v) = s
        .split_once('=')
        .with_context(|| format!("label {s:?}: expected key=value"))?;
    Ok((k.to_string(), v.to_string()))
}

/// Running simulated nodes; the background work stops when this is dropped.
pub struct SimNodes {
    /// Names of the registered nodes.
    pub names: Arc<Vec<String>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl SimNodes {
    /// Wait until the background work ends (it only ends on errors that cannot be retried).
    pub async fn wait(mut self) {
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

impl Drop for SimNodes {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Register the nodes (returns once all exist and report Ready) and start renewing their
/// Leases and running their pods.
pub async fn start(client: kube::Client, config: SimConfig) -> anyhow::Result<SimNodes> {
    let config = Arc::new(config);
    let names: Arc<Vec<String>> =
        Arc::new((0..config.count).map(|i| config.node_name(i)).collect());
    let nodes = node::register_all(&client, &config).await?;
    lease::create_all(&client, &config, &nodes).await?;
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(lease::renew_forever(
        client.clone(),
        config.clone(),
        names.clone(),
    )));
    if config.run_pods {
        let kubelet = kubelet::Kubelet::new(client.clone(), config.clone(), &nodes);
        tasks.push(tokio::spawn(async move {
            if let Err(e) = kubelet.run().await {
                tracing::error!("sim-nodes kubelet stopped: {e:#}");
            }
        }));
    }
    Ok(SimNodes { names, tasks })
}
