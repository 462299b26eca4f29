//! The fake kubelet of every simulated node: one watch of bound pods for the whole process,
//! a table of the pods it runs, one timer heap for container exits, and a bounded pool of
//! writers for the status updates and final deletions.

use crate::SimConfig;
use crate::ipam::{self, PodIps};
use crate::lifecycle::{self, Plan};
use crate::node::Registered;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::watcher;
use serde_json::{Value, json};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// A write the kubelet wants done.
#[derive(Debug)]
enum Work {
    Status {
        ns: String,
        name: String,
        patch: Value,
    },
    Delete {
        ns: String,
        name: String,
        uid: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Starting,
    Running,
    Finished,
    Deleting,
}

/// What the kubelet remembers about a pod it runs.
#[derive(Debug)]
struct SimPod {
    uid: String,
    /// Position of the node in the kubelet's slots.
    node: usize,
    ip: Option<Ipv4Addr>,
    stage: Stage,
    restarts: i32,
    plan: Plan,
    restart_policy: String,
    containers: Vec<(String, String)>,
    init_containers: Vec<(String, String)>,
    scheduled: Value,
    start_time: String,
}

struct NodeSlot {
    index: usize,
    ips: PodIps,
}

/// The fake kubelet of all nodes of one `sim-nodes` process.
pub struct Kubelet {
    client: kube::Client,
    config: Arc<SimConfig>,
    nodes: HashMap<String, usize>,
    slots: Vec<NodeSlot>,
    pods: HashMap<String, SimPod>,
    timers: BinaryHeap<Reverse<(Instant, String, String)>>,
}

impl Kubelet {
    pub fn new(client: kube::Client, config: Arc<SimConfig>, nodes: &[Registered]) -> Self {
        let slots: Vec<NodeSlot> = nodes
            .iter()
            .map(|n| {
                let index = config.first_index + n.index;
                NodeSlot {
                    index,
                    ips: PodIps::new(index),
                }
            })
            .collect();
        let nodes = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i))
            .collect();
        Self {
            client,
            config,
            nodes,
            slots,
            pods: HashMap::new(),
            timers: BinaryHeap::new(),
        }
    }

    /// Watch bound pods and act on those of our nodes until the watch ends.
    pub async fn run(mut self) -> anyhow::Result<()> {
        let (tx, rx) = mpsc::unbounded_channel::<Work>();
        let writer = tokio::spawn(write_loop(self.client.clone(), rx, self.config.concurrency));
        let api: Api<Pod> = Api::all(self.client.clone());
        let stream = watcher(
            api,
            watcher::Config::default()
                .fields("spec.nodeName!=")
                .any_semantic(),
        );
        let mut stream = std::pin::pin!(stream);
        loop {
            let next_timer = self.timers.peek().map(|Reverse((at, _, _))| *at);
            tokio::select! {
                event = stream.next() => match event {
                    Some(Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod))) => self.observe(&pod, &tx),
                    Some(Ok(watcher::Event::Delete(pod))) => self.forget(&pod),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        tracing::warn!("sim-nodes pod watch: {e}");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    None => break,
                },
                _ = sleep_until_opt(next_timer) => self.fire_timers(&tx),
            }
        }
        drop(tx);
        let _ = writer.await;
        Ok(())
    }

    fn observe(&mut self, pod: &Pod, tx: &mpsc::UnboundedSender<Work>) {
        let Some(node_name) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) else {
            return;
        };
        if !self.nodes.contains_key(node_name) {
            return;
        }
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let key = format!("{ns}/{name}");
        if self.pods.get(&key).is_some_and(|p| p.uid != uid) {
            self.release(&key);
        }
        if pod.metadata.deletion_timestamp.is_some() {
            let entry = self.track(&key, pod, node_name);
            if entry.stage != Stage::Deleting {
                entry.stage = Stage::Deleting;
                let _ = tx.send(Work::Delete { ns, name, uid });
            }
            return;
        }
        let phase = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .unwrap_or("Pending");
        match phase {
            "Succeeded" | "Failed" => {
                let entry = self.track(&key, pod, node_name);
                entry.stage = Stage::Finished;
            }
            "Running" => {
                let pod_ip = pod
                    .status
                    .as_ref()
                    .and_then(|s| s.pod_ip.as_deref())
                    .and_then(|ip| ip.parse().ok());
                let entry = self.track(&key, pod, node_name);
                if entry.stage < Stage::Running {
                    entry.stage = Stage::Running;
                    let arm = match entry.plan {
                        Plan::ExitAfter { after, .. } => Some(after),
                        Plan::RunForever => None,
                    };
                    if entry.ip.is_none() {
                        entry.ip = pod_ip;
                        if let (Some(ip), Some(slot)) = (
                            pod_ip,
                            self.nodes.get(node_name).map(|i| &mut self.slots[*i]),
                        ) {
                            slot.ips.claim(ip);
                        }
                    }
                    if let Some(after) = arm {
                        self.timers
                            .push(Reverse((Instant::now() + after, key, uid)));
                    }
                }
            }
            _ => {
                let fresh = !self.pods.contains_key(&key);
                let entry = self.track(&key, pod, node_name);
                if fresh || entry.stage > Stage::Starting {
                    entry.stage = Stage::Starting;
                    let node = node_name.to_string();
                    let slot = &mut self.slots[self.nodes[&node]];
                    let entry = self.pods.get_mut(&key).expect("tracked above");
                    if entry.ip.is_none() {
                        entry.ip = slot.ips.allocate();
                    }
                    let host_ip = ipam::node_ip(slot.index).to_string();
                    let patch = running_status(entry, &host_ip, None);
                    let _ = tx.send(Work::Status { ns, name, patch });
                }
            }
        }
    }

    /// The table entry of `pod`, created on first sight.
    fn track(&mut self, key: &str, pod: &Pod, node_name: &str) -> &mut SimPod {
        let index = self.nodes.get(node_name).copied().unwrap_or(0);
        self.pods.entry(key.to_string()).or_insert_with(|| {
            let spec = pod.spec.clone().unwrap_or_default();
            let scheduled = pod
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"))
                .and_then(|c| serde_json::to_value(c).ok())
                .unwrap_or_else(|| json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": rkube_machinery::time::now_rfc3339()}));
            SimPod {
                uid: pod.metadata.uid.clone().unwrap_or_default(),
                node: index,
                ip: None,
                stage: Stage::Starting,
                restarts: 0,
                plan: lifecycle::plan(pod),
                restart_policy: spec.restart_policy.clone().unwrap_or_else(|| "Always".into()),
                containers: spec.containers.iter().map(|c| (c.name.clone(), c.image.clone().unwrap_or_default())).collect(),
                init_containers: spec
                    .init_containers
                    .iter()
                    .flatten()
                    .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
                    .collect(),
                scheduled,
                start_time: rkube_machinery::time::now_rfc3339(),
            }
        })
    }

    fn forget(&mut self, pod: &Pod) {
        let key = format!(
            "{}/{}",
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            pod.metadata.name.as_deref().unwrap_or_default()
        );
        if self
            .pods
            .get(&key)
            .is_some_and(|p| Some(&p.uid) == pod.metadata.uid.as_ref())
        {
            self.release(&key);
        }
    }

    fn release(&mut self, key: &str) {
        if let Some(ip) = self
            .pods
            .remove(key)
            .and_then(|p| p.ip.map(|ip| (p.node, ip)))
        {
            self.slots[ip.0].ips.release(ip.1);
        }
    }

    fn fire_timers(&mut self, tx: &mpsc::UnboundedSender<Work>) {
        let now = Instant::now();
        while let Some(Reverse((at, _, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            let Reverse((_, key, uid)) = self.timers.pop().expect("peeked");
            let Some(p) = self.pods.get_mut(&key) else {
                continue;
            };
            if p.uid != uid || p.stage != Stage::Running {
                continue;
            }
            let Plan::ExitAfter { after, code } = p.plan else {
                continue;
            };
            let host_ip = ipam::node_ip(self.slots[p.node].index).to_string();
            let (ns, name) = key
                .split_once('/')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .unwrap_or_default();
            let restart = match p.restart_policy.as_str() {
                "Always" => true,
                "OnFailure" => code != 0,
                _ => false,
            };
            let patch = if restart {
                let finished = rkube_machinery::time::now_rfc3339();
                let last = json!({"terminated": {"exitCode": code, "reason": if code == 0 {"Completed"} else {"Error"},
                    "startedAt": p.start_time, "finishedAt": finished, "containerID": container_id(&p.uid, "", p.restarts)}});
                p.restarts += 1;
                self.timers.push(Reverse((now + after, key, uid)));
                running_status(p, &host_ip, Some(last))
            } else {
                p.stage = Stage::Finished;
                finished_status(p, &host_ip, code)
            };
            let _ = tx.send(Work::Status { ns, name, patch });
        }
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// A stable fake container ID.
fn container_id(uid: &str, name: &str, restarts: i32) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    let mut out = String::from("containerd://");
    for round in 0..4u64 {
        for b in uid
            .bytes()
            .chain(name.bytes())
            .chain(restarts.to_le_bytes())
            .chain(round.to_le_bytes())
        {
            h ^= b as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
        out.push_str(&format!("{h:016x}"));
    }
    out
}

fn condition(
    kind: &str,
    status: &str,
    reason: Option<&str>,
    message: Option<String>,
    now: &str,
) -> Value {
    let mut c =
        json!({"type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": now});
    if let Some(r) = reason {
        c["reason"] = r.into();
    }
    if let Some(m) = message {
        c["message"] = m.into();
    }
    c
}

fn ip_fields(p: &SimPod, host_ip: &str) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("hostIP".into(), host_ip.into());
    m.insert("hostIPs".into(), json!([{"ip": host_ip}]));
    if let Some(ip) = p.ip {
        m.insert("podIP".into(), ip.to_string().into());
        m.insert("podIPs".into(), json!([{"ip": ip.to_string()}]));
    }
    m.insert("startTime".into(), p.start_time.clone().into());
    m
}

fn init_statuses(p: &SimPod) -> Value {
    Value::Array(
        p.init_containers
            .iter()
            .map(|(name, image)| {
                json!({"name": name, "image": image, "imageID": image_id(image), "containerID": container_id(&p.uid, name, 0),
                    "ready": true, "started": false, "restartCount": 0, "lastState": {},
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": p.start_time,
                        "finishedAt": p.start_time, "containerID": container_id(&p.uid, name, 0)}}})
            })
            .collect(),
    )
}

fn image_id(image: &str) -> String {
    let repo = image.split('@').next().unwrap_or(image);
    let repo = repo
        .rsplit_once(':')
        .filter(|(_, tag)| !tag.contains('/'))
        .map(|(r, _)| r)
        .unwrap_or(repo);
    let digest = container_id(image, "", 0);
    format!("{repo}@sha256:{}", &digest["containerd://".len()..])
}

/// The status patch of a pod whose containers run (`last` is the previous run's state after a restart).
fn running_status(p: &SimPod, host_ip: &str, last: Option<Value>) -> Value {
    let now = rkube_machinery::time::now_rfc3339();
    let containers: Vec<Value> = p
        .containers
        .iter()
        .map(|(name, image)| {
            json!({"name": name, "image": image, "imageID": image_id(image),
                "containerID": container_id(&p.uid, name, p.restarts),
                "ready": true, "started": true, "restartCount": p.restarts,
                "lastState": last.clone().unwrap_or_else(|| json!({})),
                "state": {"running": {"startedAt": now}}})
        })
        .collect();
    let mut status = ip_fields(p, host_ip);
    status.insert("phase".into(), "Running".into());
    status.insert(
        "conditions".into(),
        json!([
            condition("PodReadyToStartContainers", "True", None, None, &now),
            condition("Initialized", "True", None, None, &now),
            condition("Ready", "True", None, None, &now),
            condition("ContainersReady", "True", None, None, &now),
            p.scheduled,
        ]),
    );
    status.insert("containerStatuses".into(), Value::Array(containers));
    if !p.init_containers.is_empty() {
        status.insert("initContainerStatuses".into(), init_statuses(p));
    }
    json!({"status": status})
}

/// The status patch of a pod whose containers exited with `code` and will not restart.
fn finished_status(p: &SimPod, host_ip: &str, code: i32) -> Value {
    let now = rkube_machinery::time::now_rfc3339();
    let succeeded = code == 0;
    let reason = if succeeded { "Completed" } else { "Error" };
    let containers: Vec<Value> = p
        .containers
        .iter()
        .map(|(name, image)| {
            let id = container_id(&p.uid, name, p.restarts);
            json!({"name": name, "image": image, "imageID": image_id(image), "containerID": id,
                "ready": false, "started": false, "restartCount": p.restarts, "lastState": {},
                "state": {"terminated": {"exitCode": code, "reason": reason, "startedAt": p.start_time,
                    "finishedAt": now, "containerID": id}}})
        })
        .collect();
    let names: Vec<&str> = p.containers.iter().map(|(n, _)| n.as_str()).collect();
    let (ready_reason, ready_message) = if succeeded {
        ("PodCompleted", None)
    } else {
        (
            "ContainersNotReady",
            Some(format!(
                "containers with unready status: [{}]",
                names.join(" ")
            )),
        )
    };
    let mut status = ip_fields(p, host_ip);
    status.insert(
        "phase".into(),
        if succeeded { "Succeeded" } else { "Failed" }.into(),
    );
    status.insert(
        "conditions".into(),
        json!([
            condition("PodReadyToStartContainers", "False", None, None, &now),
            condition(
                "Initialized",
                "True",
                if succeeded {
                    Some("PodCompleted")
                } else {
                    None
                },
                None,
                &now
            ),
            condition(
                "Ready",
                "False",
                Some(ready_reason),
                ready_message.clone(),
                &now
            ),
            condition(
                "ContainersReady",
                "False",
                Some(ready_reason),
                ready_message,
                &now
            ),
            p.scheduled,
        ]),
    );
    status.insert("containerStatuses".into(), Value::Array(containers));
    if !p.init_containers.is_empty() {
        status.insert("initContainerStatuses".into(), init_statuses(p));
    }
    json!({"status": status})
}

/// Carry out the kubelet's writes, `concurrency` at a time, retrying transient failures.
async fn write_loop(client: kube::Client, rx: mpsc::UnboundedReceiver<Work>, concurrency: usize) {
    let stream = tokio_stream::wrappers::UnboundedReceiverStream::new(rx);
    stream
        .for_each_concurrent(concurrency.max(1), |work| {
            let client = client.clone();
            async move {
                for attempt in 0..5u32 {
                    match write(&client, &work).await {
                        Ok(()) => return,
                        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => return,
                        Err(e) => {
                            tracing::debug!(
                                "sim-nodes write {work:?} failed (attempt {attempt}): {e}"
                            );
                            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                        }
                    }
                }
                tracing::warn!("sim-nodes gave up on {work:?}");
            }
        })
        .await;
}

async fn write(client: &kube::Client, work: &Work) -> Result<(), kube::Error> {
    match work {
        Work::Status { ns, name, patch } => {
            let api: Api<Pod> = Api::namespaced(client.clone(), ns);
            api.patch_status(name, &PatchParams::default(), &Patch::Merge(patch))
                .await?;
        }
        Work::Delete { ns, name, uid } => {
            let api: Api<Pod> = Api::namespaced(client.clone(), ns);
            let dp = DeleteParams {
                grace_period_seconds: Some(0),
                preconditions: Some(Preconditions {
                    uid: Some(uid.clone()),
                    resource_version: None,
                }),
                ..Default::default()
            };
            api.delete(name, &dp).await?;
        }
    }
    Ok(())
}
