//! Node lifecycle and pod GC against a real API server: a node that stopped reporting becomes
//! Unknown and unreachable-tainted, its pods turn not Ready, and its untolerating pods are
//! evicted (marked DisruptionTarget); tolerations count from when the taint manager first saw
//! the pod, the shortest one deciding. (Pod GC is in tests/pod_gc.rs.)

mod common;

use common::{Cluster, eventually, make_ready};
use k8s_openapi::api::core::v1::{Node, Pod, PodCondition};
use kube::Api;
use kube::api::PostParams;
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
    let p: Pod = serde_json::from_value(json!({"metadata": {"name": "victim"},
        "spec": {"nodeName": "quiet", "tolerations": no_tolerance,
            "containers": [{"name": "c", "image": "nginx:1.25"}]}}))
    .unwrap();
    pods.create(&PostParams::default(), &p).await.unwrap();
    // One with admission's default 300 s tolerations, Ready as its kubelet last said.
    let p: Pod = serde_json::from_value(json!({"metadata": {"name": "steady"},
        "spec": {"nodeName": "quiet", "containers": [{"name": "c", "image": "nginx:1.25"}]}}))
    .unwrap();
    pods.create(&PostParams::default(), &p).await.unwrap();
    make_ready(&pods, "steady").await;
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
    // No kubelet finishes it: the pod stays, terminating, with the reason it is going.
    let victim = pods.get("victim").await.unwrap();
    let target = condition(&victim, "DisruptionTarget").expect("a DisruptionTarget condition");
    assert_eq!(target.status, "True");
    assert_eq!(target.reason.as_deref(), Some("DeletionByTaintManager"));
    assert_eq!(
        target.message.as_deref(),
        Some("Taint manager: deleting due to NoExecute taint")
    );

    // The pod of the silent node is no longer Ready, but its 300 s of tolerance keep it.
    eventually(
        15,
        "the pod of the silent node to turn not Ready",
        || async {
            let p = pods.get("steady").await.unwrap();
            match condition(&p, "Ready") {
                Some(c) if c.status == "False" => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    let warned = common::events(&c.client, "default", "steady", "NodeNotReady").await;
    assert_eq!(warned, ["Node is not ready"]);
    let steady = pods.get("steady").await.unwrap();
    assert!(steady.metadata.deletion_timestamp.is_none());
    assert!(condition(&steady, "DisruptionTarget").is_none());
}

fn condition(pod: &Pod, kind: &str) -> Option<PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
        .cloned()
}

#[tokio::test]
async fn the_shortest_toleration_counts_from_when_the_pod_is_first_seen() {
    let c = Cluster::start().await;
    let nodes: Api<Node> = Api::all(c.client.clone());
    let pods: Api<Pod> = c.api();
    // A node under maintenance for an hour already, now also being drained.
    let hour_ago = (jiff::Timestamp::now() - jiff::SignedDuration::from_secs(3600))
        .round(jiff::Unit::Second)
        .unwrap()
        .to_string();
    let node: Node = serde_json::from_value(json!({"metadata": {"name": "busy"},
        "spec": {"taints": [
            {"key": "example.com/maintenance", "effect": "NoExecute", "timeAdded": hour_ago},
            {"key": "example.com/drain", "effect": "NoExecute"}]}}))
    .unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();
    // Both tolerate the maintenance for 300 s; "brief" tolerates the drain for 1 s, "patient"
    // for ever.
    for (name, drain_secs) in [("patient", None), ("brief", Some(1))] {
        let p: Pod = serde_json::from_value(json!({"metadata": {"name": name},
            "spec": {"nodeName": "busy", "tolerations": [
                {"key": "example.com/maintenance", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "example.com/drain", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": drain_secs}],
                "containers": [{"name": "c", "image": "nginx:1.25"}]}}))
        .unwrap();
        pods.create(&PostParams::default(), &p).await.unwrap();
    }
    eventually(
        20,
        "the pod tolerating the drain briefly to be evicted",
        || async {
            match pods.get("brief").await.unwrap().metadata.deletion_timestamp {
                Some(_) => Ok(()),
                None => Err("still running".to_string()),
            }
        },
    )
    .await;
    let events = common::events(&c.client, "default", "brief", "TaintManagerEviction").await;
    assert_eq!(events, ["Marking for deletion Pod default/brief"]);
    // The maintenance taint is an hour old, but "patient" has had only seconds of its 300.
    let patient = pods.get("patient").await.unwrap();
    assert!(
        patient.metadata.deletion_timestamp.is_none(),
        "evicted at once: {:?}",
        patient.status
    );
}
