//! `rkube scheduler`: the scheduler alone, against any cluster (it also runs inside `rkube server`).
//! With leader election (the default) several schedulers may run; the one holding the
//! `kube-system/kube-scheduler` Lease schedules, and exits if it stops renewing it, as upstream.

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
    /// Take the kube-system/kube-scheduler Lease before scheduling.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    leader_elect: bool,
    /// This scheduler's identity in the Lease (default: `<hostname>_<uuid>`).
    #[arg(long)]
    identity: Option<String>,
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
    let elector = args.leader_elect.then(|| {
        rkube_controllers::leader::LeaderElector::new(
            client.clone(),
            "kube-system",
            "kube-scheduler",
            args.identity
                .unwrap_or_else(rkube_controllers::leader::default_identity),
        )
    });
    if let Some(elector) = &elector {
        tokio::select! {
            _ = elector.acquire() => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
    let lost = async {
        match &elector {
            Some(elector) => elector.hold().await,
            None => std::future::pending().await,
        }
    };
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
        // Upstream's scheduler exits when it loses its lease.
        _ = lost => anyhow::bail!("leader election lost"),
    }
    Ok(())
}
