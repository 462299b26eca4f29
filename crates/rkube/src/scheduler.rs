//! `rkube scheduler`: the scheduler alone, against any cluster (it also runs inside `rkube server`).

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

/// Options of `rkube scheduler`.
#[derive(Args, Debug)]
pub struct SchedulerArgs {
    /// Kubeconfig of the cluster.
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: PathBuf,
    /// Percentage of nodes to find feasible before scoring (default: upstream's adaptive rule).
    #[arg(long)]
    percentage_of_nodes_to_score: Option<u32>,
}

/// A client from a kubeconfig file (the one kubeconfig-to-client conversion is
/// `rkube_controllers::client_from_kubeconfig`, shared by every component).
pub async fn client_from_file(path: &std::path::Path) -> anyhow::Result<kube::Client> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    rkube_controllers::client_from_kubeconfig(&text).await
}

pub async fn run(args: SchedulerArgs) -> anyhow::Result<()> {
    rkube_apiserver::pki::install_default_crypto_provider();
    let client = client_from_file(&args.kubeconfig).await?;
    let scheduler = rkube_scheduler::start(
        client,
        rkube_scheduler::Config {
            percentage_of_nodes_to_score: args.percentage_of_nodes_to_score,
            ..Default::default()
        },
    );
    eprintln!("rkube scheduler running");
    tokio::select! {
        _ = scheduler.wait() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
