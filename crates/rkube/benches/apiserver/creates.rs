//! ConfigMap creates per second from concurrent clients, each on its own connection.

use crate::client::{Protocol, Target};
use crate::server::Server;
use crate::stats::{ms, own_cpu_time, quantile};
use bytes::Bytes;
use http::{Method, StatusCode};
use std::time::{Duration, Instant};

/// Create a namespace (ignoring AlreadyExists).
pub async fn ensure_namespace(target: &Target, name: &str) -> anyhow::Result<()> {
    let mut c = target.connect(Protocol::H2).await?;
    let body =
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    let (status, bytes) = c
        .call(
            Method::POST,
            "/api/v1/namespaces",
            Some(body.to_string().into()),
        )
        .await?;
    anyhow::ensure!(
        status == StatusCode::CREATED || status == StatusCode::CONFLICT,
        "creating namespace {name}: {status} {}",
        String::from_utf8_lossy(&bytes)
    );
    Ok(())
}

/// `clients` clients create ConfigMaps as fast as they can for `duration`.
pub async fn run(
    server: &Server,
    target: &Target,
    protocol: Protocol,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<()> {
    let ns = format!(
        "create-{}",
        protocol.to_string().replace(['/', '.'], "").to_lowercase()
    );
    ensure_namespace(target, &ns).await?;
    let path = format!("/api/v1/namespaces/{ns}/configmaps");
    let cpu_before = server.cpu_time()?;
    let own_before = own_cpu_time();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let mut conn = target.connect(protocol).await?;
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            let mut n = 0usize;
            while start.elapsed() < duration {
                let body = serde_json::json!({
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": format!("c{client}-{n}")},
                    "data": {"k": "v".repeat(64)},
                });
                n += 1;
                let t = Instant::now();
                let result = conn
                    .call(Method::POST, &path, Some(Bytes::from(body.to_string())))
                    .await;
                latencies.push(t.elapsed());
                match result {
                    Ok((StatusCode::CREATED, _)) => {}
                    Ok((status, body)) => {
                        if errors == 0 {
                            eprintln!("create failed: {status} {}", String::from_utf8_lossy(&body));
                        }
                        errors += 1;
                    }
                    Err(e) => return Err(e),
                }
            }
            anyhow::Ok((latencies, errors))
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await??;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed();
    let cpu = server.cpu_time()? - cpu_before;
    let own = own_cpu_time() - own_before;
    latencies.sort();
    let ok = latencies.len() - errors;
    println!(
        "ConfigMap creates, {clients} clients, {protocol}, {:.1} s: {:.0}/s ({ok} ok, {errors} errors), p50 {}, p99 {}, max {}; CPU: server {:.2} cores, benchmark client {:.2} cores (goal >= 5000/s)",
        elapsed.as_secs_f64(),
        ok as f64 / elapsed.as_secs_f64(),
        ms(quantile(&latencies, 0.5)),
        ms(quantile(&latencies, 0.99)),
        ms(quantile(&latencies, 1.0)),
        cpu.as_secs_f64() / elapsed.as_secs_f64(),
        own.as_secs_f64() / elapsed.as_secs_f64(),
    );
    Ok(())
}
