//! Priority and preemption: higher-priority pods evict lower-priority ones, `Never` classes
//! wait, balloon pods (negative priority) make room, nominatedNodeName is set.

mod common;

use common::{Cluster, nodes, pod, pod_cpu};
use rkube_simnodes::SimConfig;
use serde_json::json;

const CLASSES: &str = "apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 1000
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high-never}
value: 1000
preemptionPolicy: Never
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: balloon}
value: -10
preemptionPolicy: Never
";

#[tokio::test]
async fn higher_priority_pod_preempts_and_is_nominated() {
    let mut c = Cluster::start().await;
    c.apply(CLASSES).await;
    c.add_nodes(nodes("n", 1, "2", &[], &[])).await;
    c.create(pod_cpu("low", "1500m", json!({}))).await;
    c.node_of("low").await;
    c.wait_phase("low", "Running").await;
    c.create(pod_cpu(
        "never",
        "1",
        json!({"priorityClassName": "high-never"}),
    ))
    .await;
    let msg = c.unschedulable("never").await;
    assert_eq!(
        msg,
        "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."
    );
    c.create(pod_cpu("vip", "1", json!({"priorityClassName": "high"})))
        .await;
    // The victim is marked and deleted; the preemptor lands where it was nominated.
    assert!(
        c.gone("low").await,
        "the low-priority pod was not preempted"
    );
    assert_eq!(c.node_of("vip").await, "n0");
    let preempted = c.events("low", "Preempted").await;
    assert_eq!(preempted.len(), 1, "{preempted:?}");
    let vip = c.pod("vip").await;
    assert!(preempted[0].starts_with(&format!(
        "Preempted by pod {} on node n0",
        vip.metadata.uid.unwrap()
    )));
    assert_eq!(
        vip.status.unwrap().nominated_node_name.as_deref(),
        Some("n0")
    );
}

#[tokio::test]
async fn normal_pods_preempt_balloon_pods_only_as_needed() {
    let mut c = Cluster::start().await;
    c.apply(CLASSES).await;
    c.add_nodes(nodes("n", 2, "1", &[], &[])).await;
    for i in 0..4 {
        let name = format!("balloon{i}");
        c.create(pod_cpu(
            &name,
            "400m",
            json!({"priorityClassName": "balloon", "terminationGracePeriodSeconds": 0}),
        ))
        .await;
        c.node_of(&name).await;
    }
    // 200m free per node; a 500m pod needs one balloon gone from one node.
    c.create(pod_cpu("app", "500m", json!({}))).await;
    let node = c.node_of("app").await;
    let mut left = 0;
    for i in 0..4 {
        if c.pods()
            .get_opt(&format!("balloon{i}"))
            .await
            .unwrap()
            .is_some_and(|p| p.metadata.deletion_timestamp.is_none())
        {
            left += 1;
        }
    }
    assert_eq!(left, 3, "exactly one balloon preempted (app on {node})");
}

#[tokio::test]
async fn pdb_protected_pods_are_spared_when_possible() {
    let mut c = Cluster::start().await;
    c.apply(CLASSES).await;
    c.add_nodes(nodes("n", 2, "1", &[], &[])).await;
    c.create(pod_cpu(
        "guarded",
        "800m",
        json!({"nodeSelector": {"kubernetes.io/hostname": "n0"}}),
    ))
    .await;
    c.create(pod_cpu(
        "free",
        "800m",
        json!({"nodeSelector": {"kubernetes.io/hostname": "n1"}}),
    ))
    .await;
    c.node_of("guarded").await;
    c.node_of("free").await;
    c.apply("apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: guard}\nspec: {maxUnavailable: 0, selector: {matchLabels: {app: guarded}}}\n").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    c.create(pod_cpu("vip", "800m", json!({"priorityClassName": "high"})))
        .await;
    assert!(c.gone("free").await);
    assert_eq!(c.node_of("vip").await, "n1");
    assert!(c.pods().get_opt("guarded").await.unwrap().is_some());
}

#[tokio::test]
async fn preemption_removes_lower_priority_pods_that_anti_affinity_forbids() {
    let mut c = Cluster::start().await;
    c.apply(CLASSES).await;
    c.add_nodes(nodes("n", 1, "8", &[], &[])).await;
    c.create(pod("web", &[("app", "web")], json!({}))).await;
    c.node_of("web").await;
    let alone = json!({"priorityClassName": "high", "affinity": {"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchLabels":
        {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}}});
    c.create(pod("loner", &[("app", "loner")], alone)).await;
    // Only the lower-priority pod stands in the way: it is preempted and the pod takes its node.
    assert!(c.gone("web").await, "the web pod was not preempted");
    assert_eq!(c.node_of("loner").await, "n0");
}

#[tokio::test]
async fn preemption_removes_lower_priority_pods_that_a_spread_constraint_counts() {
    let mut c = Cluster::start().await;
    c.apply(CLASSES).await;
    c.add_nodes(nodes("n", 1, "8", &[], &[])).await;
    // A second node the pod cannot use still counts as an empty domain.
    c.add_nodes(SimConfig {
        first_index: 1,
        ..nodes("n", 1, "8", &[], &["dedicated=other:NoSchedule"])
    })
    .await;
    c.create(pod(
        "web0",
        &[("app", "web")],
        json!({"nodeSelector": {"kubernetes.io/hostname": "n0"}}),
    ))
    .await;
    assert_eq!(c.node_of("web0").await, "n0");
    let spread = json!({"priorityClassName": "high", "topologySpreadConstraints": [{"maxSkew": 1,
        "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"app": "web"}}}]});
    c.create(pod("web1", &[("app", "web")], spread)).await;
    // n0 holds one more web pod than the empty n1: removing the lower-priority one evens it.
    assert!(c.gone("web0").await, "web0 was not preempted");
    assert_eq!(c.node_of("web1").await, "n0");
}

/// A low-priority pod that stays Terminating once preempted, until [`Cluster::release`].
fn held_victim(name: &str, cpu: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut p = pod_cpu(name, cpu, extra);
    p["metadata"]["finalizers"] = json!(["test.rkube.io/hold"]);
    p
}

const MID: &str = "apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: mid}
value: 500
";

#[tokio::test]
async fn pods_nominated_to_a_node_count_there_with_their_anti_affinity() {
    let mut c = Cluster::start().await;
    c.apply(CLASSES).await;
    c.add_nodes(nodes("n", 1, "4", &[], &[])).await;
    let port = |extra: serde_json::Value| {
        let mut v = extra;
        v["containers"] = json!([{"name": "app", "image": "nginx:1.25",
            "ports": [{"containerPort": 80, "hostPort": 8080}]}]);
        v
    };
    c.create(held_victim("low", "100m", port(json!({})))).await;
    c.node_of("low").await;
    let vip = port(
        json!({"priorityClassName": "high", "affinity": {"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchLabels":
        {"app": "batch"}}, "topologyKey": "kubernetes.io/hostname"}]}}}),
    );
    c.create(pod("vip", &[("app", "vip")], vip)).await;
    c.wait_terminating("low").await;
    c.wait_nominated("vip", Some("n0")).await;
    // While vip waits for the port, its anti-affinity already keeps batch pods off the node.
    c.create(pod("batch", &[("app", "batch")], json!({}))).await;
    let msg = c.unschedulable("batch").await;
    assert!(
        msg.starts_with(
            "0/1 nodes are available: 1 node(s) didn't satisfy existing pods anti-affinity rules."
        ),
        "{msg}"
    );
    c.release("low").await;
    assert_eq!(c.node_of("vip").await, "n0");
}

#[tokio::test]
async fn a_nomination_that_no_longer_holds_is_cleared() {
    let mut c = Cluster::start().await;
    c.apply(CLASSES).await;
    c.add_nodes(nodes("n", 1, "2", &[], &[])).await;
    c.create(held_victim("low", "1500m", json!({}))).await;
    c.node_of("low").await;
    c.create(pod_cpu("vip", "1", json!({"priorityClassName": "high"})))
        .await;
    c.wait_terminating("low").await;
    c.wait_nominated("vip", Some("n0")).await;
    // The node stops taking the pod: no preemption can help any more, the nomination goes.
    c.patch_node(
        "n0",
        json!({"spec": {"taints": [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]}}),
    )
    .await;
    c.wait_nominated("vip", None).await;
    assert_eq!(
        c.unschedulable("vip").await,
        "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: x}. preemption: \
         0/1 nodes are available: 1 Preemption is not helpful for scheduling."
    );
    c.release("low").await;
}

#[tokio::test]
async fn preempting_onto_a_node_clears_lower_priority_nominations_there() {
    let mut c = Cluster::start().await;
    c.apply(CLASSES).await;
    c.apply(MID).await;
    c.add_nodes(nodes("n", 1, "2", &[], &[])).await;
    c.create(held_victim("low", "1500m", json!({}))).await;
    c.node_of("low").await;
    c.create(pod_cpu("middle", "1", json!({"priorityClassName": "mid"})))
        .await;
    c.wait_terminating("low").await;
    c.wait_nominated("middle", Some("n0")).await;
    c.create(pod_cpu(
        "vip",
        "1500m",
        json!({"priorityClassName": "high"}),
    ))
    .await;
    c.wait_nominated("vip", Some("n0")).await;
    c.wait_nominated("middle", None).await;
    c.release("low").await;
    assert_eq!(c.node_of("vip").await, "n0");
}
