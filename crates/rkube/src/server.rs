//! `rkube server`: the API server over the embedded SQLite store and the controller manager as
//! its client, until SIGTERM or SIGINT.

use anyhow::Context;
use clap::Args;
use rkube_apiserver::componentstatus::Component;
use rkube_store::Store;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Options of `rkube server`.
#[derive(Args, Debug)]
pub struct ServerArgs {
    /// Where the store, certificates and admin kubeconfig live (default: /var/lib/rkube for root,
    /// else ~/.local/share/rkube).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    bind_address: IpAddr,
    /// HTTPS port of the API.
    #[arg(long, default_value_t = 6443)]
    port: u16,
    /// The store: `sqlite` (a file in the data dir).
    #[arg(long, default_value = "sqlite")]
    store: String,
    /// Range of Service cluster IPs.
    #[arg(long, default_value = "10.96.0.0/12")]
    service_cidr: String,
    /// Range of pod IPs.
    #[arg(long, default_value = "10.42.0.0/16")]
    cluster_cidr: String,
    /// Static bearer tokens: CSV lines `token,user,uid,"group1,group2"`.
    #[arg(long)]
    token_auth_file: Option<PathBuf>,
    /// Extra host names or IPs for the serving certificate.
    #[arg(long = "tls-san")]
    tls_san: Vec<String>,
    /// Do not run a node agent in this process.
    #[arg(long)]
    disable_agent: bool,
    /// Do not run the scheduler in this process.
    #[arg(long)]
    disable_scheduler: bool,
    /// Name of this node.
    #[arg(long)]
    node_name: Option<String>,
    /// IP of this node.
    #[arg(long)]
    node_ip: Option<IpAddr>,
    /// Do not run the controllers in this process.
    #[arg(long)]
    disable_controllers: bool,
}

fn default_data_dir() -> PathBuf {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        PathBuf::from("/var/lib/rkube")
    } else {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        home.join(".local/share/rkube")
    }
}

/// Resolves when SIGTERM or SIGINT arrives.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("installing the SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("shutting down");
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let data_dir = args.data_dir.unwrap_or_else(default_data_dir);
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    if args.store != "sqlite" {
        anyhow::bail!(
            "--store {}: only the embedded sqlite store is available in this build",
            args.store
        );
    }
    let _ = (&args.cluster_cidr, args.disable_agent, &args.node_name);
    let store = rkube_store::sqlite::SqliteStore::open(&data_dir.join("state.db"))
        .context("opening the store")?;
    // Compact history every five minutes, as upstream does with etcd.
    let _compactor = rkube_store::compactor::spawn_compactor(
        &store,
        rkube_store::compactor::CompactionPolicy::default(),
    );
    let closer = store.clone();
    let store: Arc<dyn Store> = store;
    let config = rkube_apiserver::Config {
        data_dir: data_dir.clone(),
        bind_address: args.bind_address,
        port: args.port,
        service_cidr: args.service_cidr,
        token_auth_file: args.token_auth_file,
        extra_sans: args.tls_san,
        advertise_address: args.node_ip,
    };
    let running = rkube_apiserver::start(config, store, shutdown_signal()).await?;
    if !args.disable_controllers {
        start_controllers(&running, data_dir.join("storage")).await?;
    }
    eprintln!(
        "rkube server listening on https://{}; kubeconfig: {}",
        running.addr,
        data_dir.join("admin.kubeconfig").display()
    );
    let _scheduler = if args.disable_scheduler {
        None
    } else {
        let kubeconfig =
            running.component_kubeconfig("system:kube-scheduler", &["system:masters"])?;
        let client = rkube_controllers::client_from_kubeconfig(&kubeconfig).await?;
        let scheduler = Arc::new(rkube_scheduler::start(
            client,
            rkube_scheduler::Config::default(),
        ));
        let probe = scheduler.clone();
        running
            .components
            .register(Component::Scheduler, move || probe.is_running());
        Some(scheduler)
    };
    let result = running.wait().await;
    // Commit what is queued and stop the writer before exiting.
    closer.close();
    result
}

/// Run the controller manager in this process, as a client of the API with upstream's identity.
/// `storage` is where the built-in local-path provisioner makes volume directories (the data
/// dir's `storage/`, as k3s keeps them under its own data dir).
async fn start_controllers(
    running: &rkube_apiserver::Running,
    storage: PathBuf,
) -> anyhow::Result<()> {
    let kubeconfig =
        running.component_kubeconfig("system:kube-controller-manager", &["system:masters"])?;
    let client = rkube_controllers::client_from_kubeconfig(&kubeconfig).await?;
    let options = rkube_controllers::Options {
        root_ca_pem: running.pki.ca_cert_pem().to_string(),
        leader_elect: true,
        // Stable per server address, so a restarted server does not wait for its own old lease.
        identity: Some(rkube_controllers::leader::identity_with(&format!(
            "apiserver-{}",
            running.addr.port()
        ))),
        local_path_root: Some(storage),
    };
    let manager = tokio::spawn(async move {
        if let Err(e) = rkube_controllers::run(client, options).await {
            // Upstream's controller manager exits when it loses its lease; so does the server.
            tracing::error!(error = format!("{e:#}"), "controller manager stopped");
            std::process::exit(1);
        }
    });
    running
        .components
        .register(Component::ControllerManager, move || !manager.is_finished());
    Ok(())
}
