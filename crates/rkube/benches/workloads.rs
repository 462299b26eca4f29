//! Workload controllers benchmark, with real processes: `rkube server` (API server, scheduler and
//! controllers) and `rkube sim-nodes`.
//!
//! `cargo bench -p rkube --bench workloads` prints, for a Deployment of BENCH_REPLICAS (1,000)
//! replicas on BENCH_NODES (100) simulated nodes:
//! - the time from its creation until all replicas are Available;
//! - the time from a new image (what `kubectl set image` sends) until the rollout is complete
//!   (`kubectl rollout status`'s rule: every replica updated and available, no old ones left);
//! - the server's resident memory at the end.

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RKUBE: &str = env!("CARGO_BIN_EXE_rkube");

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("binding an ephemeral port")
        .local_addr()
        .expect("local address")
        .port()
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn spawn(args: &[&str], log: &Path) -> Proc {
    let log = std::fs::File::create(log).expect("creating a log file");
    Proc(
        Command::new(RKUBE)
            .args(args)
            .env("RKUBE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting rkube"),
    )
}

async fn client(kubeconfig: &Path) -> kube::Client {
    for _ in 0..300 {
        if kubeconfig.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = std::fs::read_to_string(kubeconfig).expect("reading the kubeconfig");
    let kc = kube::config::Kubeconfig::from_yaml(&text).expect("parsing the kubeconfig");
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .expect("loading the kubeconfig");
    kube::Client::try_from(cfg).expect("building a client")
}

/// Poll until `done` holds for the Deployment; returns the elapsed time since `since`.
async fn wait_for(
    api: &Api<Deployment>,
    name: &str,
    since: Instant,
    what: &str,
    done: impl Fn(&Deployment) -> bool,
) -> Duration {
    let mut last = String::new();
    loop {
        if let Ok(d) = api.get(name).await {
            if done(&d) {
                return since.elapsed();
            }
            let s = d.status.clone().unwrap_or_default();
            last = format!(
                "replicas {:?} updated {:?} available {:?}",
                s.replicas, s.updated_replicas, s.available_replicas
            );
        }
        if since.elapsed() > Duration::from_secs(900) {
            panic!("{what} not reached after 15 minutes: {last}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn rolled_out(d: &Deployment, replicas: i32) -> bool {
    let s = d.status.clone().unwrap_or_default();
    d.metadata.generation.is_some()
        && s.observed_generation == d.metadata.generation
        && s.updated_replicas == Some(replicas)
        && s.replicas == Some(replicas)
        && s.available_replicas == Some(replicas)
}

#[tokio::main]
async fn main() {
    rkube_apiserver::pki::install_default_crypto_provider();
    let nodes = env_usize("BENCH_NODES", 100);
    let replicas = env_usize("BENCH_REPLICAS", 1000) as i32;
    let dir = tempfile::Builder::new()
        .prefix("rkube-bench-workloads")
        .tempdir()
        .expect("temp dir");
    let port = free_port().to_string();
    let server = spawn(
        &[
            "server",
            "--data-dir",
            dir.path().to_str().expect("utf-8 path"),
            "--bind-address",
            "127.0.0.1",
            "--port",
            &port,
            "--disable-agent",
        ],
        &dir.path().join("server.log"),
    );
    let kubeconfig = dir.path().join("admin.kubeconfig");
    let client = client(&kubeconfig).await;
    let node_api: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
    let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    for _ in 0..300 {
        if ns.get_opt("kube-node-lease").await.ok().flatten().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _sim = spawn(
        &[
            "sim-nodes",
            "--kubeconfig",
            kubeconfig.to_str().expect("utf-8 path"),
            "--count",
            &nodes.to_string(),
            "--cpu",
            "32",
            "--memory",
            "128Gi",
            "--pods",
            "110",
        ],
        &dir.path().join("sim-nodes.log"),
    );
    loop {
        let ready = node_api
            .list(&Default::default())
            .await
            .map(|l| l.items.len())
            .unwrap_or(0);
        if ready >= nodes {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Let the default ServiceAccount appear, as pods of the default namespace need it.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let api: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let deployment: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "bench"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "bench"}},
                 "template": {"metadata": {"labels": {"app": "bench"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx:1.25",
                                  "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}}
    }))
    .expect("a Deployment");
    let started = Instant::now();
    api.create(&PostParams::default(), &deployment)
        .await
        .expect("creating the Deployment");
    let available = wait_for(&api, "bench", started, "all replicas available", |d| {
        rolled_out(d, replicas)
    })
    .await;
    println!(
        "workloads/deployment-available: {replicas} replicas on {nodes} nodes all Available in {:.2} s ({:.0} pods/s)",
        available.as_secs_f64(),
        replicas as f64 / available.as_secs_f64()
    );

    let started = Instant::now();
    // What `kubectl set image deployment/bench web=nginx:1.27` sends.
    api.patch(
        "bench",
        &PatchParams::default(),
        &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "nginx:1.27"}]}}}})),
    )
    .await
    .expect("setting the image");
    let rolled = wait_for(&api, "bench", started, "rollout complete", |d| {
        rolled_out(d, replicas) && d.metadata.generation.unwrap_or(0) >= 2
    })
    .await;
    println!(
        "workloads/rolling-update: new image on {replicas} replicas (maxSurge 25%, maxUnavailable 25%) complete in {:.2} s",
        rolled.as_secs_f64()
    );
    println!(
        "workloads/server-rss: {:.0} MiB after the rollout",
        rss_mib(server.0.id())
    );
}
