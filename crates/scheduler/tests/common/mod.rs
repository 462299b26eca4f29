//! A real API server in-process (on a free port, in a temp dir), simulated nodes and the
//! scheduler, all talking through the API as they do in `rkube server`.

#![allow(dead_code)]

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use rkube_simnodes::{SimConfig, SimNodes};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub struct Cluster {
    pub client: kube::Client,
    pub scheduler: Option<rkube_scheduler::Scheduler>,
    pub sims: Vec<SimNodes>,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

/// Nodes of one group: `count` nodes named `prefix0..`, with `labels` and `taints`.
pub fn nodes(
    prefix: &str,
    count: usize,
    cpu: &str,
    labels: &[(&str, &str)],
    taints: &[&str],
) -> SimConfig {
    SimConfig {
        count,
        prefix: prefix.into(),
        cpu: cpu.into(),
        memory: "8Gi".into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        taints: taints
            .iter()
            .map(|t| rkube_simnodes::parse_taint(t).unwrap())
            .collect(),
        ..Default::default()
    }
}

impl Cluster {
    /// Server + scheduler, no nodes yet.
    pub async fn start() -> Self {
        rkube_apiserver::pki::install_default_crypto_provider();
        let dir = tempfile::Builder::new()
            .prefix("rkube-sched")
            .tempdir()
            .unwrap();
        let store = rkube_store::sqlite::SqliteStore::open(&dir.path().join("state.db")).unwrap();
        let store: Arc<dyn rkube_store::Store> = store;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let config = rkube_apiserver::Config::loopback(dir.path().to_path_buf());
        let running = rkube_apiserver::start(config, store, async move {
            let _ = rx.await;
        })
        .await
        .unwrap();
        let yaml = running
            .component_kubeconfig("system:kube-scheduler", &["system:masters"])
            .unwrap();
        tokio::spawn(async move {
            let _ = running.wait().await;
        });
        let kc = kube::config::Kubeconfig::from_yaml(&yaml).unwrap();
        let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .unwrap();
        let client = kube::Client::try_from(cfg).unwrap();
        // The default namespace exists once bootstrap ran.
        let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
        for _ in 0..100 {
            if ns.get_opt("default").await.ok().flatten().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let scheduler = rkube_scheduler::start(client.clone(), Default::default());
        Self {
            client,
            scheduler: Some(scheduler),
            sims: vec![],
            _stop: tx,
            _dir: dir,
        }
    }

    pub async fn add_nodes(&mut self, config: SimConfig) {
        let sim = rkube_simnodes::start(self.client.clone(), config)
            .await
            .unwrap();
        self.sims.push(sim);
    }

    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }

    pub fn nodes(&self) -> Api<Node> {
        Api::all(self.client.clone())
    }

    /// Create any object from YAML (namespaced objects go to `default`).
    pub async fn apply(&self, yaml: &str) {
        for doc in yaml.split("\n---") {
            let v: Value = serde_norway::from_str(doc).unwrap();
            if v.is_null() {
                continue;
            }
            self.create(v).await;
        }
    }

    pub async fn create(&self, v: Value) {
        let obj: kube::api::DynamicObject = serde_json::from_value(v.clone()).unwrap();
        let (group, version) = match v["apiVersion"].as_str().unwrap().split_once('/') {
            Some((g, ver)) => (g.to_string(), ver.to_string()),
            None => (String::new(), v["apiVersion"].as_str().unwrap().to_string()),
        };
        let kind = v["kind"].as_str().unwrap();
        let gvk = kube::api::GroupVersionKind::gvk(&group, &version, kind);
        let (ar, caps) = kube::discovery::pinned_kind(&self.client, &gvk)
            .await
            .unwrap();
        let api: Api<kube::api::DynamicObject> = if caps.scope == kube::discovery::Scope::Namespaced
        {
            Api::namespaced_with(self.client.clone(), "default", &ar)
        } else {
            Api::all_with(self.client.clone(), &ar)
        };
        api.create(&PostParams::default(), &obj)
            .await
            .unwrap_or_else(|e| panic!("creating {kind}: {e}"));
    }

    pub async fn pod(&self, name: &str) -> Pod {
        self.pods().get(name).await.unwrap()
    }

    /// Wait until the pod is bound; its node.
    pub async fn node_of(&self, name: &str) -> String {
        for _ in 0..200 {
            if let Some(n) = self
                .pods()
                .get_opt(name)
                .await
                .unwrap()
                .and_then(|p| p.spec?.node_name)
            {
                return n;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "pod {name} was not scheduled: {:?}",
            self.pod(name).await.status
        );
    }

    /// Wait until the pod has phase `phase`.
    pub async fn wait_phase(&self, name: &str, phase: &str) -> Pod {
        for _ in 0..200 {
            let p = self.pod(name).await;
            if p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some(phase) {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "pod {name} never reached {phase}: {:?}",
            self.pod(name).await.status
        );
    }

    /// Wait until the pod is marked unschedulable; the condition's message.
    pub async fn unschedulable(&self, name: &str) -> String {
        for _ in 0..200 {
            let p = self.pod(name).await;
            let cond = p
                .status
                .and_then(|s| s.conditions)
                .into_iter()
                .flatten()
                .find(|c| c.type_ == "PodScheduled");
            if let Some(c) = cond.filter(|c| c.status == "False") {
                assert_eq!(c.reason.as_deref(), Some("Unschedulable"));
                assert!(p.spec.unwrap().node_name.is_none());
                return c.message.unwrap_or_default();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("pod {name} was never marked unschedulable");
    }

    /// Messages of the events of `reason` about pod `name`.
    pub async fn events(&self, name: &str, reason: &str) -> Vec<String> {
        let api: Api<Event> = Api::namespaced(self.client.clone(), "default");
        let lp =
            ListParams::default().fields(&format!("involvedObject.name={name},reason={reason}"));
        api.list(&lp)
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|e| e.message)
            .collect()
    }

    /// How many times events of `reason` about pod `name` were reported (repeats are folded
    /// into one Event with a count).
    pub async fn event_count(&self, name: &str, reason: &str) -> i32 {
        let api: Api<Event> = Api::namespaced(self.client.clone(), "default");
        let lp =
            ListParams::default().fields(&format!("involvedObject.name={name},reason={reason}"));
        api.list(&lp)
            .await
            .unwrap()
            .items
            .iter()
            .map(|e| e.count.unwrap_or(1))
            .sum()
    }

    /// Wait for at least one event.
    pub async fn wait_event(&self, name: &str, reason: &str) -> String {
        for _ in 0..100 {
            if let Some(m) = self.events(name, reason).await.pop() {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no {reason} event for {name}");
    }

    pub async fn patch_node(&self, name: &str, patch: Value) {
        self.nodes()
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .unwrap();
    }

    /// Wait until the pod's `status.nominatedNodeName` is `node` (None: unset); panics after
    /// ten seconds.
    pub async fn wait_nominated(&self, name: &str, node: Option<&str>) {
        let mut last = None;
        for _ in 0..200 {
            last = self
                .pod(name)
                .await
                .status
                .and_then(|s| s.nominated_node_name);
            if last.as_deref() == node {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("pod {name} is nominated to {last:?}, not {node:?}");
    }

    /// Remove the pod's finalizers (tests hold victims in Terminating with one).
    pub async fn release(&self, name: &str) {
        self.pods()
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"metadata": {"finalizers": null}})),
            )
            .await
            .unwrap();
    }

    /// Wait until the pod has a deletion timestamp.
    pub async fn wait_terminating(&self, name: &str) {
        for _ in 0..200 {
            if self.pod(name).await.metadata.deletion_timestamp.is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("pod {name} was never deleted");
    }

    pub async fn delete_pod(&self, name: &str) {
        let _ = self.pods().delete(name, &DeleteParams::default()).await;
    }

    pub async fn gone(&self, name: &str) -> bool {
        for _ in 0..200 {
            if self.pods().get_opt(name).await.unwrap().is_none() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
}

/// A bare pod: `spec` lines in YAML flow style merged into a minimal pod.
pub fn pod(name: &str, labels: &[(&str, &str)], spec: Value) -> Value {
    let mut s = serde_json::json!({"containers": [{"name": "app", "image": "nginx:1.25"}]});
    for (k, v) in spec.as_object().cloned().unwrap_or_default() {
        s[k] = v;
    }
    let labels: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect();
    serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels}, "spec": s})
}

/// A pod requesting `cpu`.
pub fn pod_cpu(name: &str, cpu: &str, extra: Value) -> Value {
    let mut p = pod(name, &[("app", name)], extra);
    p["spec"]["containers"][0]["resources"] = serde_json::json!({"requests": {"cpu": cpu}});
    p
}
