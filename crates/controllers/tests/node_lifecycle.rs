//! Node lifecycle and pod GC against a real API server: a node that stopped reporting becomes
//! Unknown and unreachable-tainted, and its untolerating pods are evicted; pods of a node that
//! does not exist are removed.

mod common;

use common::{Cluster, eventually};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::PostParams;
use kube::{Api, ResourceExt};
use serde_json::json;

#[tokio::test]
async fn a_silent_node_becomes_unknown_tainted_and_loses_its_pods() {
    let c = Cluster::start().await;
    let nodes: Api<Node> = Api::all(c.client.clone());
    let pods: Api<Pod> = c.api();
    let node: Node = serde_json::from_value(json!({"metadata": {"name": "quiet"}})).unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    let old = (jiff::Timestamp::now() - jiff::SignedDuration::from_secs(120))
        .round(jiff::Unit::Second)
        .unwrap()
        .to_string();
    nodes
        .patch_status("quiet", &Default::default(), &kube::api::Patch::Merge(json!({"status": {"conditions": [
            {"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": old, "lastTransitionTime": old}]}})))
        .await
        .unwrap();
    // Admission gives every pod 300 s of tolerance for unreachable nodes; these tolerate none, so
    // eviction follows the taint at once.
    let no_tolerance = json!([
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 0},
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 0}]);
    for (name, node) in [("victim", "quiet"), ("lost", "no-such-node")] {
        let p: Pod = serde_json::from_value(json!({"metadata": {"name": name},
            "spec": {"nodeName": node, "tolerations": no_tolerance,
                "containers": [{"name": "c", "image": "nginx:1.25"}]}}))
        .unwrap();
        pods.create(&PostParams::default(), &p).await.unwrap();
    }
    let n = eventually(15, "the node to become Unknown and tainted", || async {
        let n = nodes.get("quiet").await.unwrap();
        let ready = n
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .cloned();
        let taints: Vec<(String, String)> = n
            .spec
            .as_ref()
            .and_then(|s| s.taints.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.key, t.effect))
            .collect();
        if ready.as_ref().map(|r| r.status.as_str()) == Some("Unknown") && taints.len() == 2 {
            Ok((ready.unwrap(), taints))
        } else {
            Err(format!("{ready:?} {taints:?}"))
        }
    })
    .await;
    assert_eq!(n.0.reason.as_deref(), Some("NodeStatusUnknown"));
    assert_eq!(
        n.0.message.as_deref(),
        Some("Kubelet stopped posting node status.")
    );
    assert!(
        n.1.contains(&("node.kubernetes.io/unreachable".into(), "NoExecute".into())),
        "{:?}",
        n.1
    );
    assert!(
        n.1.contains(&("node.kubernetes.io/unreachable".into(), "NoSchedule".into())),
        "{:?}",
        n.1
    );
    eventually(15, "eviction", || async {
        match pods.get_opt("victim").await.unwrap() {
            Some(p) if p.metadata.deletion_timestamp.is_none() => Err("still running".to_string()),
            _ => Ok(()),
        }
    })
    .await;
    eventually(30, "the pod of a missing node to go", || async {
        match pods.get_opt("lost").await.unwrap() {
            None => Ok(()),
            Some(p) => Err(format!("{:?}", p.name_any())),
        }
    })
    .await;
}
