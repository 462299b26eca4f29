//! API server figures: start-up time, idle memory, create throughput, LIST and watch latency,
//! measured against the real release `rkube server` over HTTPS.
//!
//! `cargo bench -p rkube --bench apiserver` runs everything (about two minutes). It prints
//! figures next to their goals and never fails on a slow figure. `BENCH_ONLY=startup,creates,
//! lists,watch` picks scenarios; `BENCH_SECONDS`, `BENCH_CLIENTS`, `BENCH_PODS`,
//! `BENCH_WATCHERS`, `BENCH_WATCH_RATE` change their sizes; `BENCH_SERVER_FLAGS` adds server
//! flags (`--disable-controllers --disable-scheduler` measures the API server alone).

mod client;
mod creates;
mod lists;
mod server;
mod startup;
mod stats;
mod watches;

use client::{Protocol, Target};
use std::path::Path;
use std::time::Duration;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let binary = Path::new(env!("CARGO_BIN_EXE_rkube"));
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let wanted = |name: &str| only.is_empty() || only.split(',').any(|s| s.trim() == name);
    let seconds = Duration::from_secs(env_num("BENCH_SECONDS", 10) as u64);
    let clients = env_num("BENCH_CLIENTS", 16);
    println!("rkube API server benchmark ({})", binary.display());

    if wanted("startup") {
        startup::run(binary, 5).await?;
    }

    let dir = tempfile::Builder::new().prefix("rkube-bench").tempdir()?;
    let server = server::Server::start(binary, dir.path()).await?;
    let target = Target::from_kubeconfig(&server.kubeconfig(), server.addr)?;
    startup::idle_rss(&server, Duration::from_secs(3)).await?;

    if wanted("creates") {
        creates::run(&server, &target, Protocol::H2, clients, seconds).await?;
        creates::run(&server, &target, Protocol::H1, clients, seconds).await?;
    }
    let rss = |after: &str| -> anyhow::Result<()> {
        println!(
            "  server RSS after {after}: {:.1} MiB",
            server.rss_kib()? as f64 / 1024.0
        );
        Ok(())
    };
    if wanted("creates") {
        rss("the creates")?;
    }
    if wanted("lists") {
        lists::run(&target, env_num("BENCH_PODS", 10_000), 5).await?;
        rss("the lists")?;
    }
    if wanted("watch") {
        let plan = watches::Plan {
            watchers: env_num("BENCH_WATCHERS", 1000),
            per_connection: env_num("BENCH_WATCHERS_PER_CONN", 20),
            rate: env_num("BENCH_WATCH_RATE", 50) as u32,
            seconds: seconds.as_secs() as u32,
        };
        watches::run(&server, &target, plan).await?;
    }
    println!(
        "server RSS at the end: {:.1} MiB",
        server.rss_kib()? as f64 / 1024.0
    );
    server.stop()?;
    Ok(())
}
