//! `rkube`: Kubernetes in one binary. This file only parses the command line and hands over to
//! the component crates.

mod allocator;
mod controller_manager;
mod scheduler;
mod server;
mod sim_nodes;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "rkube",
    version,
    about = "Kubernetes, written in Rust, in one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the control plane: the API server over an embedded store.
    Server(server::ServerArgs),
    /// Register simulated nodes that renew their leases and play kubelet for their pods.
    SimNodes(sim_nodes::SimNodesArgs),
    /// Run the scheduler alone against a cluster.
    Scheduler(scheduler::SchedulerArgs),
    /// Run the controllers alone against a cluster, with leader election.
    ControllerManager(controller_manager::ControllerManagerArgs),
}

fn main() -> anyhow::Result<()> {
    allocator::tune();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RKUBE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Server(args) => runtime.block_on(server::run(args)),
        Command::SimNodes(args) => runtime.block_on(sim_nodes::run(args)),
        Command::Scheduler(args) => runtime.block_on(scheduler::run(args)),
        Command::ControllerManager(args) => runtime.block_on(controller_manager::run(args)),
    }
}
