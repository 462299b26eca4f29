//! Score plugins: where pods go when several nodes fit.

mod common;

use common::{Cluster, nodes, pod, pod_cpu};
use serde_json::json;

#[tokio::test]
async fn least_allocated_spreads_pods_over_nodes() {
    let mut c = Cluster::start().await;
    c.add_nodes(nodes("n", 3, "4", &[], &[])).await;
    let mut per_node = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..6 {
        let name = format!("p{i}");
        c.create(pod_cpu(&name, "500m", json!({}))).await;
        *per_node.entry(c.node_of(&name).await).or_default() += 1;
    }
    assert_eq!(
        per_node.values().copied().collect::<Vec<_>>(),
        vec![2, 2, 2],
        "{per_node:?}"
    );
}

#[tokio::test]
async fn preferred_node_affinity_and_prefer_no_schedule() {
    let mut c = Cluster::start().await;
    c.add_nodes(nodes("plain", 2, "4", &[], &[])).await;
    c.add_nodes(nodes(
        "arm",
        1,
        "4",
        &[("arch", "arm64")],
        &["spot=true:PreferNoSchedule"],
    ))
    .await;
    let prefers = json!({"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "preference": {"matchExpressions": [{"key": "arch", "operator": "In", "values": ["arm64"]}]}}]}},
        "tolerations": [{"key": "spot", "operator": "Exists"}]});
    c.create(pod("likes-arm", &[], prefers)).await;
    assert_eq!(c.node_of("likes-arm").await, "arm0");
    // Without the preference, the PreferNoSchedule taint steers pods away.
    for i in 0..4 {
        let name = format!("plain{i}");
        c.create(pod(&name, &[], json!({}))).await;
        assert_ne!(c.node_of(&name).await, "arm0");
    }
}

#[tokio::test]
async fn preferred_pod_affinity_and_soft_spread() {
    let mut c = Cluster::start().await;
    c.add_nodes(nodes("n", 3, "8", &[], &[])).await;
    c.create(pod("cache", &[("app", "cache")], json!({}))).await;
    let cache_node = c.node_of("cache").await;
    let near = json!({"affinity": {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "kubernetes.io/hostname"}}]}}});
    c.create(pod("near", &[], near)).await;
    assert_eq!(c.node_of("near").await, cache_node);
    // ScheduleAnyway spread puts 3 replicas on 3 nodes.
    let spread = json!({"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
        "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": {"app": "ts"}}}]});
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..3 {
        let name = format!("ts{i}");
        c.create(pod(&name, &[("app", "ts")], spread.clone())).await;
        seen.insert(c.node_of(&name).await);
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
}

#[tokio::test]
async fn pods_of_one_service_spread_by_default() {
    let mut c = Cluster::start().await;
    c.add_nodes(nodes("n", 3, "64", &[], &[])).await;
    // Fill n0 with unrelated pods so least-allocated alone would avoid it less than spreading does.
    c.apply("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {selector: {app: web}, ports: [{port: 80}]}\n").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut per_node = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..6 {
        let name = format!("web{i}");
        c.create(pod(&name, &[("app", "web")], json!({}))).await;
        *per_node.entry(c.node_of(&name).await).or_default() += 1;
    }
    assert_eq!(per_node.len(), 3, "{per_node:?}");
}
