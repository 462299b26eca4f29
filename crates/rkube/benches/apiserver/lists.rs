//! LIST latency over many pods in one namespace: full, with a label selector, and as a Table.

use crate::client::{Protocol, Target};
use crate::creates::ensure_namespace;
use crate::stats::spread;
use bytes::Bytes;
use http::{Method, StatusCode};
use std::time::Instant;

const NS: &str = "list-bench";

/// Create `pods` pods (bound to node `nowhere`), then time LISTs `repeat` times each.
pub async fn run(target: &Target, pods: usize, repeat: usize) -> anyhow::Result<()> {
    ensure_namespace(target, NS).await?;
    let clients = 16;
    let start = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let mut conn = target.connect(Protocol::H2).await?;
        tasks.push(tokio::spawn(async move {
            for i in (client..pods).step_by(clients) {
                let body = serde_json::json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": format!("p{i}"), "labels": {"app": "bench", "i": (i % 10).to_string()}},
                    "spec": {"nodeName": "nowhere", "containers": [{"name": "c", "image": "busybox:1.35",
                        "resources": {"requests": {"cpu": "10m"}}}]},
                });
                conn.expect(
                    StatusCode::CREATED,
                    Method::POST,
                    &format!("/api/v1/namespaces/{NS}/pods"),
                    Some(Bytes::from(body.to_string())),
                )
                .await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    println!(
        "created {pods} pods in {:.1} s ({:.0}/s, 16 clients)",
        start.elapsed().as_secs_f64(),
        pods as f64 / start.elapsed().as_secs_f64()
    );

    let mut conn = target.connect(Protocol::H2).await?;
    let json = "application/json";
    let table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    for (what, query, accept) in [
        ("full", "", json),
        ("selector i=3", "?labelSelector=i%3D3", json),
        ("full as=Table", "", table),
        ("selector as=Table", "?labelSelector=i%3D3", table),
    ] {
        let path = format!("/api/v1/namespaces/{NS}/pods{query}");
        let mut times = Vec::new();
        let mut last = (0, 0);
        for _ in 0..repeat {
            let t = Instant::now();
            let (status, body) = conn.call_accept(Method::GET, &path, accept, None).await?;
            times.push(t.elapsed());
            anyhow::ensure!(status == StatusCode::OK, "LIST {path}: {status}");
            let doc: serde_json::Value = serde_json::from_slice(&body)?;
            let items = doc["items"]
                .as_array()
                .or(doc["rows"].as_array())
                .map_or(0, Vec::len);
            last = (items, body.len());
        }
        println!(
            "LIST pods {what:<18} {} items, {:.1} MB: {}",
            last.0,
            last.1 as f64 / 1e6,
            spread(&times)
        );
    }
    println!("  (upstream v1.33 on this kind of machine: 1,279 ms full, 293 ms with the selector)");
    Ok(())
}
