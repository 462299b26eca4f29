//! The scheduling queue as users see it: which changes make a waiting pod try again.

mod common;

use common::{Cluster, nodes, pod, pod_cpu};
use kube::api::{Patch, PatchParams};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn an_unschedulable_pod_is_not_retried_for_its_own_status_update() {
    let mut c = Cluster::start().await;
    c.add_nodes(nodes("n", 1, "1", &[], &[])).await;
    c.create(pod_cpu("greedy", "2", json!({}))).await;
    c.unschedulable("greedy").await;
    // The PodScheduled condition the scheduler wrote is no reason to try again; a retry after
    // the first back-off (one second) would report the failure a second time.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(c.event_count("greedy", "FailedScheduling").await, 1);
    // A node that fits is.
    c.add_nodes(rkube_simnodes::SimConfig {
        first_index: 1,
        ..nodes("n", 1, "4", &[], &[])
    })
    .await;
    assert_eq!(c.node_of("greedy").await, "n1");
}

#[tokio::test]
async fn relabelling_a_placed_pod_wakes_pods_waiting_for_affinity_to_it() {
    let mut c = Cluster::start().await;
    c.add_nodes(nodes("n", 3, "8", &[], &[])).await;
    c.create(pod("cache", &[("app", "cache")], json!({}))).await;
    let node = c.node_of("cache").await;
    let aff = json!({"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}]}}});
    c.create(pod("follower", &[("app", "web")], aff)).await;
    c.unschedulable("follower").await;
    c.pods()
        .patch(
            "cache",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"app": "db"}}})),
        )
        .await
        .unwrap();
    assert_eq!(c.node_of("follower").await, node);
}
