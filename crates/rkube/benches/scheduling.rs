//! Scheduler and simulated-node benchmark, with real processes: `rkube server` (scheduler
//! disabled), `rkube sim-nodes` and `rkube scheduler`, each measured on its own.
//!
//! `cargo bench -p rkube --bench scheduling` prints:
//! - pods scheduled per second for BENCH_PODS (10,000) pending pods on each of BENCH_NODES
//!   (1,000 and 5,000) simulated nodes, and the scheduler's resident memory at the end;
//! - sim-nodes' resident memory with BENCH_SIM_NODES (5,000) nodes running BENCH_SIM_PODS
//!   (100,000) pods (bound directly through `spec.nodeName`), and how long they took to run.
//!
//! The scheduler half also prints the CPU time per pod of each process. Like upstream's
//! scheduler_perf, its server runs without controllers (BENCH_CONTROLLERS=1 keeps them).
//!
//! Set BENCH_SKIP_SIM=1 or BENCH_SKIP_SCHED=1 to run one half.

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::watcher;
use serde_json::json;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
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
impl Proc {
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// (current RSS, peak RSS) in MiB.
fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU seconds (user + system) a process has used, from /proc/PID/stat; `pid` 0 means this
/// benchmark process.
fn cpu_seconds(pid: u32) -> f64 {
    let path = if pid == 0 {
        "/proc/self/stat".to_string()
    } else {
        format!("/proc/{pid}/stat")
    };
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 1..]);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz.max(1.0)
}

fn spawn(args: &[&str], log: &Path) -> Proc {
    let log = std::fs::File::create(log).unwrap();
    let level = if args[0] == "scheduler" {
        "info"
    } else {
        "warn"
    };
    Proc(
        Command::new(RKUBE)
            .args(args)
            .env("RKUBE_LOG", level)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting rkube"),
    )
}

async fn start_server(dir: &Path, controllers: bool) -> (Proc, PathBuf, kube::Client) {
    let port = free_port().to_string();
    let mut args = vec![
        "server",
        "--data-dir",
        dir.to_str().unwrap(),
        "--bind-address",
        "127.0.0.1",
        "--port",
        &port,
        "--disable-agent",
        "--disable-scheduler",
    ];
    if !controllers {
        args.push("--disable-controllers");
    }
    let server = spawn(&args, &dir.join("server.log"));
    let kubeconfig = dir.join("admin.kubeconfig");
    for _ in 0..300 {
        if kubeconfig.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    let kc = kube::config::Kubeconfig::from_yaml(&text).unwrap();
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(cfg).unwrap();
    let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    for _ in 0..300 {
        if ns.get_opt("kube-node-lease").await.ok().flatten().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (server, kubeconfig, client)
}

async fn start_nodes(
    dir: &Path,
    kubeconfig: &Path,
    client: &kube::Client,
    count: usize,
    run_pods: bool,
) -> (Proc, Duration) {
    let started = Instant::now();
    let mut args = vec![
        "sim-nodes".to_string(),
        "--kubeconfig".into(),
        kubeconfig.to_str().unwrap().into(),
        "--count".into(),
        count.to_string(),
        "--cpu".into(),
        "32".into(),
        "--memory".into(),
        "256Gi".into(),
        "--pods".into(),
        "110".into(),
        "--concurrency".into(),
        "64".into(),
    ];
    if !run_pods {
        args.push("--no-pods".into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let sim = spawn(&args, &dir.join("sim-nodes.log"));
    let nodes: Api<Node> = Api::all(client.clone());
    loop {
        let n = nodes
            .list_metadata(&ListParams::default().limit(1))
            .await
            .map(|l| l.metadata.remaining_item_count.unwrap_or(0) as usize + l.items.len());
        if n.unwrap_or(0) >= count
            && std::fs::read_to_string(dir.join("sim-nodes.log"))
                .unwrap_or_default()
                .contains("registered")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    (sim, started.elapsed())
}

async fn create_pods(
    client: &kube::Client,
    count: usize,
    node_of: impl Fn(usize) -> Option<String>,
) -> Duration {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let started = Instant::now();
    futures::stream::iter(0..count)
        .map(|i| {
            let api = api.clone();
            let mut spec = json!({"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]});
            if let Some(n) = node_of(i) {
                spec["nodeName"] = n.into();
            }
            let pod: Pod = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("bench-{i}"), "labels": {"app": "bench"}}, "spec": spec})).unwrap();
            async move { api.create(&PostParams::default(), &pod).await.map(|_| ()) }
        })
        .buffer_unordered(64)
        .try_collect::<()>()
        .await
        .expect("creating pods");
    started.elapsed()
}

/// Wait until `want` pods satisfy `done`; returns when the last one did.
async fn wait_pods(
    client: &kube::Client,
    want: usize,
    done: impl Fn(&Pod) -> bool,
    timeout: Duration,
) -> Option<(Instant, Instant)> {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut seen = HashSet::new();
    let mut first = None;
    let stream = watcher(api, watcher::Config::default().page_size(5000));
    let mut stream = std::pin::pin!(stream);
    let deadline = tokio::time::Instant::now() + timeout;
    while seen.len() < want {
        let ev = tokio::time::timeout_at(deadline, stream.next())
            .await
            .ok()??;
        if let Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) = ev
            && done(&p)
            && seen.insert(p.metadata.uid.clone().unwrap_or_default())
            && first.is_none()
        {
            first = Some(Instant::now());
        }
    }
    Some((first.unwrap_or_else(Instant::now), Instant::now()))
}

async fn bench_scheduler(nodes: usize, pods: usize) {
    let dir = tempfile::Builder::new()
        .prefix("rkube-bench")
        .tempdir()
        .unwrap();
    let controllers = std::env::var("BENCH_CONTROLLERS").is_ok();
    let (server, kubeconfig, client) = start_server(dir.path(), controllers).await;
    let (sim, reg) = start_nodes(dir.path(), &kubeconfig, &client, nodes, false).await;
    let created = create_pods(&client, pods, |_| None).await;
    println!(
        "scheduler  {nodes:>5} nodes: registered in {:.1}s; {pods} pending pods created in {:.1}s ({:.0}/s)",
        reg.as_secs_f64(),
        created.as_secs_f64(),
        pods as f64 / created.as_secs_f64()
    );
    let cpu_before = [server.pid(), sim.pid(), 0].map(cpu_seconds);
    let started = Instant::now();
    let scheduler = spawn(
        &["scheduler", "--kubeconfig", kubeconfig.to_str().unwrap()],
        &dir.path().join("scheduler.log"),
    );
    let bound = |p: &Pod| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some();
    match wait_pods(&client, pods, bound, Duration::from_secs(600)).await {
        Some((first, last)) => {
            let total = last - started;
            let steady = last - first;
            let (rss, peak) = memory_mib(scheduler.pid());
            println!(
                "scheduler  {nodes:>5} nodes: {pods} pods bound in {:.2}s from start = {:.0} pods/s \
                 (first to last bind {:.2}s = {:.0} pods/s); scheduler RSS {rss:.0} MiB (peak {peak:.0} MiB)",
                total.as_secs_f64(),
                pods as f64 / total.as_secs_f64(),
                steady.as_secs_f64(),
                pods as f64 / steady.as_secs_f64().max(1e-3)
            );
            let cpu = [server.pid(), sim.pid(), 0].map(cpu_seconds);
            let per_pod = |secs: f64| secs * 1e6 / pods as f64;
            println!(
                "scheduler  {nodes:>5} nodes: CPU per pod: scheduler {:.0} µs, server {:.0} µs, \
                 sim-nodes {:.0} µs, benchmark's watcher {:.0} µs{}",
                per_pod(cpu_seconds(scheduler.pid())),
                per_pod(cpu[0] - cpu_before[0]),
                per_pod(cpu[1] - cpu_before[1]),
                per_pod(cpu[2] - cpu_before[2]),
                if controllers {
                    " (server with controllers)"
                } else {
                    ""
                },
            );
            let log = std::fs::read_to_string(dir.path().join("scheduler.log")).unwrap_or_default();
            if let Some(line) = log.lines().find(|l| l.contains("scheduling queue drained")) {
                let text = line
                    .split("scheduling queue drained: ")
                    .nth(1)
                    .unwrap_or(line);
                println!(
                    "scheduler  {nodes:>5} nodes: decisions (filter, score, assume; binds run behind): {text}"
                );
            }
        }
        None => println!(
            "scheduler  {nodes:>5} nodes: timed out; see {}",
            dir.keep().display()
        ),
    }
}

async fn bench_sim_nodes(nodes: usize, pods: usize) {
    let dir = tempfile::Builder::new()
        .prefix("rkube-bench")
        .tempdir()
        .unwrap();
    let (_server, kubeconfig, client) = start_server(dir.path(), true).await;
    let (sim, reg) = start_nodes(dir.path(), &kubeconfig, &client, nodes, true).await;
    let (rss0, _) = memory_mib(sim.pid());
    println!(
        "sim-nodes  {nodes} nodes registered (with leases) in {:.1}s; sim-nodes RSS {rss0:.0} MiB",
        reg.as_secs_f64()
    );
    let started = Instant::now();
    let created = create_pods(&client, pods, |i| Some(format!("sim-node-{}", i % nodes))).await;
    println!(
        "sim-nodes  {pods} bound pods created in {:.1}s ({:.0}/s)",
        created.as_secs_f64(),
        pods as f64 / created.as_secs_f64()
    );
    let running = |p: &Pod| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
    match wait_pods(&client, pods, running, Duration::from_secs(900)).await {
        Some((_, last)) => {
            let (rss, peak) = memory_mib(sim.pid());
            println!(
                "sim-nodes  {nodes} nodes / {pods} pods Running {:.1}s after the first create; \
                 sim-nodes RSS {rss:.0} MiB (peak {peak:.0} MiB)",
                (last - started).as_secs_f64()
            );
        }
        None => println!("sim-nodes: timed out; see {}", dir.keep().display()),
    }
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("scheduling: benchmark");
        return;
    }
    let pods = env_list("BENCH_PODS", "10000")[0];
    if std::env::var("BENCH_SKIP_SCHED").is_err() {
        for nodes in env_list("BENCH_NODES", "1000,5000") {
            bench_scheduler(nodes, pods).await;
        }
    }
    if std::env::var("BENCH_SKIP_SIM").is_err() {
        bench_sim_nodes(
            env_list("BENCH_SIM_NODES", "5000")[0],
            env_list("BENCH_SIM_PODS", "100000")[0],
        )
        .await;
    }
}
