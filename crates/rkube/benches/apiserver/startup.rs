//! Start-up: process start to `/readyz` 200, on a fresh data dir and on a restart, and the idle
//! memory of a freshly started server.

use crate::server::Server;
use crate::stats::{ms, spread};
use std::path::Path;
use std::time::Duration;

/// Start `runs` servers on fresh data dirs, then restart one data dir `runs` times.
pub async fn run(binary: &Path, runs: usize) -> anyhow::Result<()> {
    let mut fresh = Vec::new();
    for _ in 0..runs {
        let dir = tempfile::Builder::new().prefix("rkube-bench").tempdir()?;
        let server = Server::start(binary, dir.path()).await?;
        fresh.push(server.ready_after);
        server.stop()?;
    }
    println!("start to /readyz, fresh data dir:   {}", spread(&fresh));

    let dir = tempfile::Builder::new().prefix("rkube-bench").tempdir()?;
    Server::start(binary, dir.path()).await?.stop()?;
    let mut restart = Vec::new();
    for _ in 0..runs {
        let server = Server::start(binary, dir.path()).await?;
        restart.push(server.ready_after);
        server.stop()?;
    }
    println!("start to /readyz, restart:          {}", spread(&restart));
    println!("  (goal < 500 ms)");
    Ok(())
}

/// Resident memory once a fresh server has settled.
pub async fn idle_rss(server: &Server, settle: Duration) -> anyhow::Result<u64> {
    tokio::time::sleep(settle).await;
    let kib = server.rss_kib()?;
    println!(
        "idle RSS after start-up ({} settle):  {:.1} MiB (goal < 40 MB)",
        ms(settle),
        kib as f64 / 1024.0
    );
    Ok(kib)
}
