//! A real API server in this process (SQLite store in a temp dir, a free loopback port) with
//! the controller manager running against it, and helpers to wait for what controllers do.

#![allow(dead_code)]

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;
use std::future::Future;
use std::time::{Duration, Instant};

/// A running cluster: API server plus controllers.
pub struct Cluster {
    /// An administrator's client (group system:masters).
    pub client: Client,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Start the API server and the controllers.
    pub async fn start() -> Cluster {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().expect("temp dir");
        let store = rkube_store::sqlite::SqliteStore::open(&dir.path().join("state.db"))
            .expect("opening the store");
        let config = rkube_apiserver::Config::loopback(dir.path().to_path_buf());
        let running = rkube_apiserver::start(config, store, std::future::pending())
            .await
            .expect("starting the API server");
        let kcm = running
            .component_kubeconfig("system:kube-controller-manager", &["system:masters"])
            .unwrap();
        let kcm = rkube_controllers::client_from_kubeconfig(&kcm)
            .await
            .unwrap();
        let options = rkube_controllers::Options {
            root_ca_pem: running.pki.ca_cert_pem().to_string(),
            leader_elect: true,
            identity: None,
            local_path_root: Some(dir.path().join("storage")),
        };
        tokio::spawn(rkube_controllers::run(kcm, options));
        let admin = running
            .component_kubeconfig("test-admin", &["system:masters"])
            .unwrap();
        let client = rkube_controllers::client_from_kubeconfig(&admin)
            .await
            .unwrap();
        Cluster { client, _dir: dir }
    }

    /// A typed API in namespace `default`.
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), "default")
    }
}

/// Poll `check` until it returns `Some`, failing after `secs` seconds with the last `Err`.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match check().await {
            Ok(v) => return v,
            Err(last) if Instant::now() > deadline => {
                panic!("timed out waiting for {what}: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Do what a kubelet would: the pod runs and is Ready (no nodes exist in these tests).
pub async fn make_ready(pods: &Api<Pod>, name: &str) {
    let now = jiff::Timestamp::now().to_string();
    let status = json!({"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": now},
        {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
    ]}});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("patching pod status");
}

/// Finish a pod with `phase` (Succeeded or Failed), as a kubelet would.
pub async fn finish(pods: &Api<Pod>, name: &str, phase: &str) {
    let status = json!({"status": {"phase": phase}});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("patching pod status");
}

/// Messages of the events about `name` with `reason`.
pub async fn events(client: &Client, ns: &str, name: &str, reason: &str) -> Vec<String> {
    let api: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), ns);
    api.list(&Default::default())
        .await
        .map(|l| {
            l.items
                .into_iter()
                .filter(|e| {
                    e.involved_object.name.as_deref() == Some(name)
                        && e.reason.as_deref() == Some(reason)
                })
                .filter_map(|e| e.message)
                .collect()
        })
        .unwrap_or_default()
}
