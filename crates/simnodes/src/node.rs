//! The Node objects: what a kubelet registers (labels, capacity, Ready condition, node info)
//! and how they are created or taken over when they already exist.

use crate::{SimConfig, ipam};
use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

/// A registered node.
#[derive(Debug, Clone)]
pub struct Registered {
    pub index: usize,
    pub name: String,
    pub uid: String,
}

/// The Node this process registers as node number `i`.
pub fn node_object(config: &SimConfig, i: usize) -> Value {
    let name = config.node_name(i);
    let mut labels = serde_json::Map::new();
    labels.insert("kubernetes.io/arch".into(), "amd64".into());
    labels.insert("kubernetes.io/os".into(), "linux".into());
    labels.insert("kubernetes.io/hostname".into(), name.clone().into());
    labels.insert("type".into(), "sim".into());
    for (k, v) in &config.labels {
        labels.insert(k.clone(), v.clone().into());
    }
    let taints: Vec<Value> = config
        .taints
        .iter()
        .map(|(k, v, e)| {
            let mut t = json!({"key": k, "effect": e});
            if !v.is_empty() {
                t["value"] = v.clone().into();
            }
            t
        })
        .collect();
    let mut spec = json!({"podCIDR": ipam::pod_cidr(config.first_index + i),
        "podCIDRs": [ipam::pod_cidr(config.first_index + i)]});
    if !taints.is_empty() {
        spec["taints"] = Value::Array(taints);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", "sim.rkube.io/simulated": "true"}
        },
        "spec": spec,
        "status": node_status(config, i),
    })
}

/// The status a healthy kubelet reports.
pub fn node_status(config: &SimConfig, i: usize) -> Value {
    let now = rkube_machinery::time::now_rfc3339();
    let name = config.node_name(i);
    let resources = json!({
        "cpu": config.cpu,
        "memory": config.memory,
        "pods": config.pods.to_string(),
        "ephemeral-storage": config.ephemeral_storage,
    });
    let cond = |kind: &str, status: &str, reason: &str, message: &str| {
        json!({"type": kind, "status": status, "lastHeartbeatTime": now,
            "lastTransitionTime": now, "reason": reason, "message": message})
    };
    json!({
        "capacity": resources,
        "allocatable": resources,
        "conditions": [
            cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
        "addresses": [
            {"type": "InternalIP", "address": ipam::node_ip(config.first_index + i).to_string()},
            {"type": "Hostname", "address": name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": format!("{:032x}", config.first_index + i),
            "systemUUID": format!("sim-{name}"),
            "bootID": format!("sim-boot-{name}"),
            "kernelVersion": "6.1.0-sim",
            "osImage": "rkube simulated node",
            "containerRuntimeVersion": "sim://1.0.0",
            "kubeletVersion": "v1.33.0",
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
    })
}

/// Create every node (or take over an existing one) and report its status as Ready.
pub async fn register_all(
    client: &kube::Client,
    config: &SimConfig,
) -> anyhow::Result<Vec<Registered>> {
    let api: Api<Node> = Api::all(client.clone());
    futures::stream::iter(0..config.count)
        .map(|i| {
            let api = api.clone();
            async move { register(&api, config, i).await }
        })
        .buffer_unordered(config.concurrency.max(1))
        .try_collect()
        .await
}

async fn register(api: &Api<Node>, config: &SimConfig, i: usize) -> anyhow::Result<Registered> {
    let name = config.node_name(i);
    let object = node_object(config, i);
    let node: Node = serde_json::from_value(object).context("building the Node")?;
    let created = match api.create(&PostParams::default(), &node).await {
        Ok(n) => n,
        Err(kube::Error::Api(e)) if e.code == 409 => api
            .get(&name)
            .await
            .with_context(|| format!("reading existing node {name}"))?,
        Err(e) => return Err(e).with_context(|| format!("registering node {name}")),
    };
    // The API may drop status on create; report it through the status subresource.
    api.patch_status(
        &name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": node_status(config, i)})),
    )
    .await
    .with_context(|| format!("reporting the status of node {name}"))?;
    Ok(Registered {
        index: i,
        name,
        uid: created.metadata.uid.unwrap_or_default(),
    })
}
