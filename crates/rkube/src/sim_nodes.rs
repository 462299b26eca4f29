//! `rkube sim-nodes`: register simulated nodes against a cluster (see rkube-simnodes for what
//! they do and the `sim.rkube.io/exit-after` / `exit-code` annotations).

use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// Options of `rkube sim-nodes`.
#[derive(Args, Debug)]
pub struct SimNodesArgs {
    /// Kubeconfig of the cluster.
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: PathBuf,
    /// Number of nodes.
    #[arg(long, default_value_t = 1)]
    count: usize,
    /// Node names are PREFIX + index.
    #[arg(long, default_value = "sim-node-")]
    name_prefix: String,
    /// Index of the first node (run several processes with distinct ranges).
    #[arg(long, default_value_t = 0)]
    first_index: usize,
    /// CPU capacity of each node.
    #[arg(long, default_value = "4")]
    cpu: String,
    /// Memory capacity of each node.
    #[arg(long, default_value = "16Gi")]
    memory: String,
    /// Pod capacity of each node.
    #[arg(long, default_value_t = 110)]
    pods: u32,
    /// Ephemeral storage capacity of each node.
    #[arg(long, default_value = "100Gi")]
    ephemeral_storage: String,
    /// Label every node with KEY=VALUE (repeatable).
    #[arg(long = "label")]
    labels: Vec<String>,
    /// Taint every node with KEY[=VALUE]:EFFECT (repeatable).
    #[arg(long = "taint")]
    taints: Vec<String>,
    /// Seconds between lease renewals of a node.
    #[arg(long, default_value_t = 10)]
    lease_renew_seconds: u64,
    /// Only register nodes and renew leases; do not run pods.
    #[arg(long)]
    no_pods: bool,
    /// Concurrent API writes.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
}

pub async fn run(args: SimNodesArgs) -> anyhow::Result<()> {
    rkube_apiserver::pki::install_default_crypto_provider();
    let client = crate::scheduler::client_from_file(&args.kubeconfig).await?;
    let config = rkube_simnodes::SimConfig {
        count: args.count,
        prefix: args.name_prefix,
        first_index: args.first_index,
        cpu: args.cpu,
        memory: args.memory,
        pods: args.pods,
        ephemeral_storage: args.ephemeral_storage,
        labels: args
            .labels
            .iter()
            .map(|l| rkube_simnodes::parse_label(l))
            .collect::<anyhow::Result<_>>()?,
        taints: args
            .taints
            .iter()
            .map(|t| rkube_simnodes::parse_taint(t))
            .collect::<anyhow::Result<_>>()?,
        lease_renew_interval: Duration::from_secs(args.lease_renew_seconds.max(1)),
        lease_duration_seconds: 40,
        run_pods: !args.no_pods,
        concurrency: args.concurrency,
    };
    let started = std::time::Instant::now();
    let nodes = rkube_simnodes::start(client, config).await?;
    eprintln!(
        "{} simulated nodes registered in {:.1?}",
        nodes.names.len(),
        started.elapsed()
    );
    tokio::select! {
        _ = nodes.wait() => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate() => {}
    }
    Ok(())
}

/// Resolves when SIGTERM arrives.
pub async fn terminate() {
    if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        s.recv().await;
    }
}
