//! Simulated nodes against a real in-process API server: registration, leases, and the fake
//! kubelet's pod lifecycle (Running, completion by annotation or command, graceful deletion).
//! Pods are bound directly with `spec.nodeName`, so no scheduler is involved.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, PostParams};
use rkube_simnodes::SimConfig;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

async fn server() -> (
    kube::Client,
    tokio::sync::oneshot::Sender<()>,
    tempfile::TempDir,
) {
    rkube_apiserver::pki::install_default_crypto_provider();
    let dir = tempfile::Builder::new()
        .prefix("rkube-sim")
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
        .component_kubeconfig("system:node:sim", &["system:masters"])
        .unwrap();
    tokio::spawn(async move {
        let _ = running.wait().await;
    });
    let kc = kube::config::Kubeconfig::from_yaml(&yaml).unwrap();
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(cfg).unwrap();
    let ns: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    for _ in 0..100 {
        if ns.get_opt("kube-node-lease").await.ok().flatten().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (client, tx, dir)
}

async fn bound_pod(client: &kube::Client, name: &str, node: &str, extra: serde_json::Value) {
    let mut v = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox:1.36"}]}});
    for (k, val) in extra.as_object().cloned().unwrap_or_default() {
        if k == "metadata" {
            v["metadata"]["annotations"] = val["annotations"].clone();
        } else {
            v["spec"][k] = val;
        }
    }
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &serde_json::from_value(v).unwrap())
        .await
        .unwrap();
}

async fn wait_phase(client: &kube::Client, name: &str, phase: &str) -> Pod {
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    for _ in 0..200 {
        let p = api.get(name).await.unwrap();
        if p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some(phase) {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{name} never reached {phase}: {:?}",
        api.get(name).await.unwrap().status
    );
}

#[tokio::test]
async fn nodes_register_ready_with_capacity_labels_taints_and_leases() {
    let (client, _stop, _dir) = server().await;
    let config = SimConfig {
        count: 3,
        prefix: "sim-".into(),
        cpu: "8".into(),
        labels: [("zone".to_string(), "z1".to_string())].into(),
        taints: vec![rkube_simnodes::parse_taint("dedicated=gpu:NoSchedule").unwrap()],
        lease_renew_interval: Duration::from_millis(300),
        ..Default::default()
    };
    let _sim = rkube_simnodes::start(client.clone(), config).await.unwrap();
    let nodes: Api<Node> = Api::all(client.clone());
    let n = nodes.get("sim-2").await.unwrap();
    let labels = n.metadata.labels.unwrap();
    assert_eq!(labels["kubernetes.io/hostname"], "sim-2");
    assert_eq!(labels["zone"], "z1");
    let taint = &n.spec.unwrap().taints.unwrap()[0];
    assert_eq!(
        (
            taint.key.as_str(),
            taint.value.as_deref(),
            taint.effect.as_str()
        ),
        ("dedicated", Some("gpu"), "NoSchedule")
    );
    let status = n.status.unwrap();
    assert_eq!(status.allocatable.unwrap()["cpu"].0, "8");
    let ready = status
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_deref()),
        ("True", Some("KubeletReady"))
    );
    assert_eq!(status.node_info.unwrap().kubelet_version, "v1.33.0");
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let first = leases.get("sim-0").await.unwrap().spec.unwrap();
    assert_eq!(first.holder_identity.as_deref(), Some("sim-0"));
    assert_eq!(first.lease_duration_seconds, Some(40));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let later = leases.get("sim-0").await.unwrap().spec.unwrap();
    assert!(
        later.renew_time.unwrap().0 > first.renew_time.unwrap().0,
        "the lease was renewed"
    );
}

#[tokio::test]
async fn pods_run_finish_and_are_deleted_gracefully() {
    let (client, _stop, _dir) = server().await;
    let _sim = rkube_simnodes::start(
        client.clone(),
        SimConfig {
            count: 1,
            prefix: "k-".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    bound_pod(&client, "server", "k-0", json!({})).await;
    let p = wait_phase(&client, "server", "Running").await;
    let st = p.status.unwrap();
    assert_eq!(st.host_ip.as_deref(), Some("172.16.0.1"));
    assert!(st.pod_ip.unwrap().starts_with("10.64.0."));
    // restartPolicy Never + a command that exits: Succeeded; `exit 3`: Failed with that code.
    bound_pod(&client, "job-ok", "k-0", json!({"restartPolicy": "Never",
        "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", "echo finished"]}]})).await;
    bound_pod(
        &client,
        "job-bad",
        "k-0",
        json!({"restartPolicy": "Never",
        "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", "exit 3"]}]}),
    )
    .await;
    bound_pod(&client, "annotated", "k-0", json!({"restartPolicy": "Never",
        "metadata": {"annotations": {"sim.rkube.io/exit-after": "200ms", "sim.rkube.io/exit-code": "1"}}})).await;
    let ok = wait_phase(&client, "job-ok", "Succeeded").await;
    let term = ok.status.unwrap().container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(
        (term.exit_code, term.reason.as_deref()),
        (0, Some("Completed"))
    );
    let bad = wait_phase(&client, "job-bad", "Failed").await;
    let term = bad.status.unwrap().container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!((term.exit_code, term.reason.as_deref()), (3, Some("Error")));
    wait_phase(&client, "annotated", "Failed").await;
    // OnFailure restarts the container in place.
    bound_pod(&client, "flaky", "k-0", json!({"restartPolicy": "OnFailure",
        "metadata": {"annotations": {"sim.rkube.io/exit-after": "200ms", "sim.rkube.io/exit-code": "2"}}})).await;
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut restarted = false;
    for _ in 0..100 {
        let p = api.get("flaky").await.unwrap();
        if p.status
            .and_then(|s| s.container_statuses)
            .is_some_and(|cs| cs[0].restart_count >= 1)
        {
            restarted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(restarted, "OnFailure pod was not restarted");
    // Graceful deletion of a running pod completes.
    api.delete("server", &DeleteParams::default())
        .await
        .unwrap();
    let mut gone = false;
    for _ in 0..100 {
        if api.get_opt("server").await.unwrap().is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "graceful deletion did not complete");
}
