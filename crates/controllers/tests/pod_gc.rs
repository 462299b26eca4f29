//! Pod garbage collection against a real API server: pods of a node that is gone are marked
//! Failed and DisruptionTarget and force-deleted, but only after the node has been missing for
//! the quarantine; terminating pods of an out-of-service node are force-deleted.

mod common;

use common::{Cluster, eventually, make_ready};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use kube::runtime::watcher::{self, Event};
use serde_json::json;
use std::time::{Duration, Instant};

fn pod_on(name: &str, node: &str) -> Pod {
    serde_json::from_value(json!({"metadata": {"name": name},
        "spec": {"nodeName": node, "tolerations": [{"operator": "Exists"}],
            "containers": [{"name": "c", "image": "nginx:1.25"}]}}))
    .unwrap()
}

#[tokio::test]
async fn pods_of_a_node_that_is_gone_are_failed_and_removed_after_the_quarantine() {
    let c = Cluster::start().await;
    let pods: Api<Pod> = c.api();
    // The pod's final state, from the watch's delete event.
    let mut watch = watcher::watcher(
        pods.clone(),
        watcher::Config::default().fields("metadata.name=lost"),
    )
    .boxed();
    let created = Instant::now();
    pods.create(&PostParams::default(), &pod_on("lost", "no-such-node"))
        .await
        .unwrap();
    make_ready(&pods, "lost").await;
    let last = tokio::time::timeout(Duration::from_secs(90), async {
        while let Some(ev) = watch.next().await {
            if let Ok(Event::Delete(p)) = ev {
                return p;
            }
        }
        panic!("the watch ended")
    })
    .await
    .expect("the pod of a missing node to be deleted");
    assert!(
        created.elapsed() >= Duration::from_secs(40),
        "deleted before the 40 s quarantine: after {:?}",
        created.elapsed()
    );
    let status = last.status.unwrap_or_default();
    assert_eq!(status.phase.as_deref(), Some("Failed"));
    let target = status
        .conditions
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "DisruptionTarget")
        .expect("a DisruptionTarget condition");
    assert_eq!(
        (
            target.status.as_str(),
            target.reason.as_deref(),
            target.message.as_deref()
        ),
        (
            "True",
            Some("DeletionByPodGC"),
            Some("PodGC: node no longer exists")
        )
    );
}

#[tokio::test]
async fn terminating_pods_of_an_out_of_service_node_are_force_deleted() {
    let c = Cluster::start().await;
    let nodes: Api<Node> = Api::all(c.client.clone());
    let pods: Api<Pod> = c.api();
    let now = jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap()
        .to_string();
    for (name, out_of_service) in [("sick", false), ("shut", true)] {
        let taints = if out_of_service {
            json!([{"key": "node.kubernetes.io/out-of-service", "value": "nodeshutdown", "effect": "NoExecute"}])
        } else {
            json!([])
        };
        let node: Node =
            serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"taints": taints}}))
                .unwrap();
        nodes.create(&PostParams::default(), &node).await.unwrap();
        nodes
            .patch_status(name, &Default::default(), &kube::api::Patch::Merge(json!({"status": {"conditions": [
                {"type": "Ready", "status": "False", "reason": "KubeletNotReady", "lastHeartbeatTime": now, "lastTransitionTime": now}]}})))
            .await
            .unwrap();
    }
    // Deleted with a grace period no kubelet will ever finish: they stay terminating.
    for (pod, node) in [("on-sick", "sick"), ("on-shut", "shut")] {
        pods.create(&PostParams::default(), &pod_on(pod, node))
            .await
            .unwrap();
        pods.delete(pod, &DeleteParams::default()).await.unwrap();
    }
    eventually(
        40,
        "the terminating pod of the out-of-service node to go",
        || async {
            match pods.get_opt("on-shut").await.unwrap() {
                None => Ok(()),
                Some(p) => Err(format!("{:?}", p.status.and_then(|s| s.phase))),
            }
        },
    )
    .await;
    // The same pass looked at the other one: a node merely not Ready keeps its pods.
    let sick = pods.get("on-sick").await.unwrap();
    assert!(sick.metadata.deletion_timestamp.is_some());
}
