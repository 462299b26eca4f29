//! Watch fan-out: many concurrent watchers on the ConfigMaps of one namespace while objects are
//! created at a steady rate; how long each event takes to reach each watcher, counted from the
//! create's answer (the object is stored: upstream's watch-latency SLI starts there) and from
//! the create's request.

use crate::client::{Protocol, Target};
use crate::creates::ensure_namespace;
use crate::server::Server;
use crate::stats::{ms, own_cpu_time, quantile};
use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const NS: &str = "watch-bench";
/// The data key carrying the creator's send time, in nanoseconds since the scenario's epoch.
const MARK: &[u8] = b"\"sentAt\":\"";

/// What to run.
pub struct Plan {
    pub watchers: usize,
    /// Watch streams per HTTP/2 connection.
    pub per_connection: usize,
    /// Creates per second.
    pub rate: u32,
    pub seconds: u32,
}

pub async fn run(server: &Server, target: &Target, plan: Plan) -> anyhow::Result<()> {
    ensure_namespace(target, NS).await?;
    let mut conn = target.connect(Protocol::H2).await?;
    let list = conn
        .expect(
            StatusCode::OK,
            Method::GET,
            &format!("/api/v1/namespaces/{NS}/configmaps"),
            None,
        )
        .await?;
    let list: serde_json::Value = serde_json::from_slice(&list)?;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let events = (plan.rate * plan.seconds) as usize;
    let epoch = Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(plan.seconds as u64 + 60);
    let ready = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    let mut shared = None;
    for w in 0..plan.watchers {
        if w % plan.per_connection.max(1) == 0 {
            shared = Some(target.connect(Protocol::H2).await?);
        }
        let mut conn = shared
            .as_ref()
            .and_then(|c| c.share())
            .expect("HTTP/2 connection");
        let path = format!("/api/v1/namespaces/{NS}/configmaps?watch=1&resourceVersion={rv}");
        let ready = ready.clone();
        tasks.push(tokio::spawn(async move {
            let resp = conn
                .send(Method::GET, &path, "application/json", None)
                .await?;
            anyhow::ensure!(resp.status() == StatusCode::OK, "watch: {}", resp.status());
            ready.fetch_add(1, Ordering::SeqCst);
            let mut body = resp.into_body();
            let mut pending: Vec<u8> = Vec::new();
            let mut latencies = Vec::with_capacity(events);
            while latencies.len() < events {
                let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
                    Ok(Some(frame)) => frame?,
                    Ok(None) | Err(_) => break,
                };
                let now = epoch.elapsed();
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                pending.extend_from_slice(&data);
                while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                    if let Some(sent) = sent_at(&pending[..end]) {
                        latencies.push((sent, now));
                    }
                    pending.drain(..=end);
                }
            }
            anyhow::Ok(latencies)
        }));
    }
    while ready.load(Ordering::SeqCst) < plan.watchers {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "watchers did not start"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let cpu_before = server.cpu_time()?;
    let own_before = own_cpu_time();
    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs(1) / plan.rate);
    let mut create_latencies = Vec::new();
    // When each create (by its sentAt mark) was acknowledged, that is stored.
    let mut acked: std::collections::HashMap<Duration, Duration> = Default::default();
    let path = format!("/api/v1/namespaces/{NS}/configmaps");
    for i in 0..events {
        ticker.tick().await;
        let sent_at = epoch.elapsed();
        let sent = sent_at.as_nanos().to_string();
        let body = serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("w{i}")},
            "data": {"sentAt": sent},
        });
        let t = Instant::now();
        conn.expect(
            StatusCode::CREATED,
            Method::POST,
            &path,
            Some(Bytes::from(body.to_string())),
        )
        .await?;
        create_latencies.push(t.elapsed());
        acked.insert(
            Duration::from_nanos(sent_at.as_nanos() as u64),
            epoch.elapsed(),
        );
    }
    let mut all = Vec::with_capacity(events * plan.watchers);
    let mut after_store = Vec::with_capacity(events * plan.watchers);
    let mut short = 0;
    for t in tasks {
        let l = t.await??;
        if l.len() < events {
            short += 1;
        }
        for (sent, received) in l {
            all.push(received.saturating_sub(sent));
            // An event can reach a watcher before its creator has the answer: that counts 0.
            let stored = acked.get(&sent).copied().unwrap_or(sent);
            after_store.push(received.saturating_sub(stored));
        }
    }
    let elapsed = started.elapsed();
    let cpu = server.cpu_time()? - cpu_before;
    let own = own_cpu_time() - own_before;
    all.sort();
    after_store.sort();
    create_latencies.sort();
    println!(
        "watch: {} watchers ({} per HTTP/2 connection), {} creates at {}/s: {} of {} deliveries ({} watchers short)",
        plan.watchers,
        plan.per_connection,
        events,
        plan.rate,
        all.len(),
        events * plan.watchers,
        short
    );
    println!(
        "  stored (create answered) to delivery, upstream's watch latency: p50 {}, p99 {}, p99.9 {}, max {} (goal p99 < 10 ms)",
        ms(quantile(&after_store, 0.5)),
        ms(quantile(&after_store, 0.99)),
        ms(quantile(&after_store, 0.999)),
        ms(quantile(&after_store, 1.0)),
    );
    println!(
        "  create sent to delivery: p50 {}, p99 {}, p99.9 {}, max {}; create itself p50 {}, p99 {}; CPU: server {:.2} cores, benchmark client {:.2} cores",
        ms(quantile(&all, 0.5)),
        ms(quantile(&all, 0.99)),
        ms(quantile(&all, 0.999)),
        ms(quantile(&all, 1.0)),
        ms(quantile(&create_latencies, 0.5)),
        ms(quantile(&create_latencies, 0.99)),
        cpu.as_secs_f64() / elapsed.as_secs_f64(),
        own.as_secs_f64() / elapsed.as_secs_f64(),
    );
    Ok(())
}

/// The `sentAt` value of one watch event line, if it has one.
fn sent_at(line: &[u8]) -> Option<Duration> {
    let at = line.windows(MARK.len()).position(|w| w == MARK)? + MARK.len();
    let digits = &line[at..];
    let end = digits.iter().position(|&b| b == b'"')?;
    let nanos: u64 = std::str::from_utf8(&digits[..end]).ok()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}
