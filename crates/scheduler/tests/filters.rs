//! Each filter plugin, on simulated nodes against a real API server: where pods land, and the
//! PodScheduled condition and FailedScheduling event when they cannot.

mod common;

use common::{Cluster, nodes, pod, pod_cpu};
use serde_json::json;

#[tokio::test]
async fn pods_are_bound_run_and_get_scheduled_events() {
    let mut c = Cluster::start().await;
    c.add_nodes(nodes("n", 2, "2", &[], &[])).await;
    c.create(pod("web", &[("app", "web")], json!({}))).await;
    let node = c.node_of("web").await;
    assert!(node == "n0" || node == "n1", "{node}");
    let p = c.wait_phase("web", "Running").await;
    let status = p.status.unwrap();
    assert!(status.pod_ip.is_some() && status.host_ip.is_some() && status.start_time.is_some());
    let conds: Vec<_> = status
        .conditions
        .unwrap()
        .into_iter()
        .map(|c| (c.type_, c.status))
        .collect();
    assert!(
        conds.contains(&("Ready".into(), "True".into())),
        "{conds:?}"
    );
    assert!(
        conds.contains(&("PodScheduled".into(), "True".into())),
        "{conds:?}"
    );
    let cs = &status.container_statuses.unwrap()[0];
    assert!(cs.ready && cs.started == Some(true) && cs.restart_count == 0);
    assert_eq!(
        c.wait_event("web", "Scheduled").await,
        format!("Successfully assigned default/web to {node}")
    );
}

#[tokio::test]
async fn insufficient_cpu_and_untolerated_taints_give_upstreams_message() {
    let mut c = Cluster::start().await;
    c.add_nodes(nodes("a", 2, "1", &[], &[])).await;
    c.add_nodes(nodes("t", 1, "64", &[], &["dedicated=db:NoSchedule"]))
        .await;
    c.create(pod_cpu("greedy", "2", json!({}))).await;
    let msg = c.unschedulable("greedy").await;
    assert_eq!(
        msg,
        "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: db}, 2 Insufficient cpu. \
         preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, \
         2 No preemption victims found for incoming pod."
    );
    assert_eq!(c.wait_event("greedy", "FailedScheduling").await, msg);
    // Tolerating the taint makes the big node usable.
    c.create(pod_cpu(
        "tolerant",
        "2",
        json!({"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}]}),
    ))
    .await;
    assert_eq!(c.node_of("tolerant").await, "t0");
}

#[tokio::test]
async fn node_unschedulable_and_node_selector_and_requeue_on_node_change() {
    let mut c = Cluster::start().await;
    c.add_nodes(nodes("n", 2, "2", &[], &[])).await;
    c.create(pod("picky", &[], json!({"nodeSelector": {"disk": "ssd"}})))
        .await;
    let msg = c.unschedulable("picky").await;
    assert!(
        msg.starts_with(
            "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
        ),
        "{msg}"
    );
    // Labelling a node is a cluster change that lets the pending pod fit.
    c.patch_node("n1", json!({"metadata": {"labels": {"disk": "ssd"}}}))
        .await;
    assert_eq!(c.node_of("picky").await, "n1");
    // Cordoned nodes take no new pods.
    c.patch_node("n0", json!({"spec": {"unschedulable": true}}))
        .await;
    c.patch_node("n1", json!({"spec": {"unschedulable": true}}))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    c.create(pod("late", &[], json!({}))).await;
    let msg = c.unschedulable("late").await;
    assert!(
        msg.starts_with("0/2 nodes are available: 2 node(s) were unschedulable."),
        "{msg}"
    );
}

#[tokio::test]
async fn required_node_affinity_operators() {
    let mut c = Cluster::start().await;
    c.add_nodes(nodes(
        "arm",
        1,
        "2",
        &[("kubernetes.io/arch-x", "arm64"), ("gen", "3")],
        &[],
    ))
    .await;
    c.add_nodes(nodes("amd", 1, "2", &[("gen", "5")], &[]))
        .await;
    let aff = |exprs: serde_json::Value| {
        json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": exprs}]}}}})
    };
    c.create(pod(
        "in",
        &[],
        aff(json!([{"key": "kubernetes.io/arch-x", "operator": "In", "values": ["arm64"]}])),
    ))
    .await;
    c.create(pod(
        "notin",
        &[],
        aff(json!([{"key": "kubernetes.io/arch-x", "operator": "NotIn", "values": ["arm64"]}])),
    ))
    .await;
    c.create(pod(
        "gt",
        &[],
        aff(json!([{"key": "gen", "operator": "Gt", "values": ["4"]}])),
    ))
    .await;
    c.create(pod(
        "none",
        &[],
        aff(json!([{"key": "gen", "operator": "Lt", "values": ["2"]}])),
    ))
    .await;
    assert_eq!(c.node_of("in").await, "arm0");
    assert_eq!(c.node_of("notin").await, "amd0");
    assert_eq!(c.node_of("gt").await, "amd0");
    assert!(
        c.unschedulable("none")
            .await
            .contains("2 node(s) didn't match Pod's node affinity/selector")
    );
}

#[tokio::test]
async fn host_ports_conflict() {
    let mut c = Cluster::start().await;
    c.add_nodes(nodes("n", 1, "4", &[], &[])).await;
    let ported = |name: &str| {
        let mut p = pod(name, &[], json!({}));
        p["spec"]["containers"][0]["ports"] = json!([{"containerPort": 80, "hostPort": 8080}]);
        p
    };
    c.create(ported("first")).await;
    assert_eq!(c.node_of("first").await, "n0");
    c.create(ported("second")).await;
    let msg = c.unschedulable("second").await;
    assert!(
        msg.starts_with(
            "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports."
        ),
        "{msg}"
    );
    // Freeing the port lets it in.
    c.delete_pod("first").await;
    assert_eq!(c.node_of("second").await, "n0");
}

#[tokio::test]
async fn too_many_pods_and_init_containers_count() {
    let mut c = Cluster::start().await;
    let mut cfg = nodes("n", 1, "2", &[], &[]);
    cfg.pods = 1;
    c.add_nodes(cfg).await;
    // An init container's request counts when larger than the containers'.
    let mut big_init = pod("init", &[], json!({}));
    big_init["spec"]["initContainers"] =
        json!([{"name": "i", "image": "busybox", "resources": {"requests": {"cpu": "3"}}}]);
    c.create(big_init).await;
    assert!(c.unschedulable("init").await.contains("1 Insufficient cpu"));
    c.create(pod("one", &[], json!({}))).await;
    c.node_of("one").await;
    c.create(pod("two", &[], json!({}))).await;
    assert!(c.unschedulable("two").await.contains("1 Too many pods"));
}

#[tokio::test]
async fn topology_spread_do_not_schedule() {
    let mut c = Cluster::start().await;
    c.add_nodes(nodes(
        "za",
        2,
        "8",
        &[("topology.kubernetes.io/zone", "a")],
        &[],
    ))
    .await;
    c.add_nodes(nodes(
        "zb",
        1,
        "8",
        &[("topology.kubernetes.io/zone", "b")],
        &[],
    ))
    .await;
    let spread = json!({"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
        "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "s"}}}]});
    let mut zones = Vec::new();
    for i in 0..4 {
        let name = format!("s{i}");
        c.create(pod(&name, &[("app", "s")], spread.clone())).await;
        let node = c.node_of(&name).await;
        zones.push(if node.starts_with("za") { "a" } else { "b" });
    }
    assert_eq!(zones.iter().filter(|z| **z == "a").count(), 2, "{zones:?}");
    // With zone b cordoned, a fifth pod still fits in a (3 vs 2), a sixth would make the skew 2.
    c.patch_node("zb0", json!({"spec": {"unschedulable": true}}))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    c.create(pod("s4", &[("app", "s")], spread.clone())).await;
    assert!(c.node_of("s4").await.starts_with("za"));
    c.create(pod("s5", &[("app", "s")], spread.clone())).await;
    let msg = c.unschedulable("s5").await;
    assert!(
        msg.starts_with("0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) didn't match pod topology spread constraints."),
        "{msg}"
    );
}

#[tokio::test]
async fn inter_pod_affinity_and_anti_affinity() {
    let mut c = Cluster::start().await;
    c.add_nodes(nodes("n", 3, "8", &[], &[])).await;
    let anti = json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "front"}}, "topologyKey": "kubernetes.io/hostname"}]}}});
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..3 {
        let name = format!("front{i}");
        c.create(pod(&name, &[("app", "front")], anti.clone()))
            .await;
        seen.insert(c.node_of(&name).await);
    }
    assert_eq!(seen.len(), 3, "one front pod per node: {seen:?}");
    c.create(pod("front3", &[("app", "front")], anti.clone()))
        .await;
    let msg = c.unschedulable("front3").await;
    assert!(
        msg.contains("3 node(s) didn't match pod anti-affinity rules"),
        "{msg}"
    );
    // Existing pods' anti-affinity keeps other matching pods away too.
    c.create(pod("plain-front", &[("app", "front")], json!({})))
        .await;
    let msg = c.unschedulable("plain-front").await;
    assert!(
        msg.contains("3 node(s) didn't satisfy existing pods anti-affinity rules"),
        "{msg}"
    );
    // Required affinity follows the target pod; none matching → pending.
    let aff = json!({"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}]}}});
    c.create(pod("follower", &[("app", "web")], aff.clone()))
        .await;
    assert!(
        c.unschedulable("follower")
            .await
            .contains("3 node(s) didn't match pod affinity rules")
    );
    c.create(pod("db", &[("app", "db")], json!({}))).await;
    let db_node = c.node_of("db").await;
    assert_eq!(c.node_of("follower").await, db_node);
}

#[tokio::test]
async fn gce_disks_are_exclusive_unless_read_only() {
    let mut c = Cluster::start().await;
    c.add_nodes(nodes("n", 1, "8", &[], &[])).await;
    let disk = |name: &str, ro: bool| {
        pod(
            name,
            &[],
            json!({"volumes": [{"name": "d", "gcePersistentDisk": {"pdName": "data", "readOnly": ro}}]}),
        )
    };
    c.create(disk("rw1", false)).await;
    c.node_of("rw1").await;
    c.create(disk("rw2", false)).await;
    assert!(
        c.unschedulable("rw2")
            .await
            .contains("1 node(s) had no available disk")
    );
}

#[tokio::test]
async fn gated_pods_wait_until_their_gates_are_removed() {
    let mut c = Cluster::start().await;
    c.add_nodes(nodes("n", 1, "2", &[], &[])).await;
    c.create(pod(
        "gated",
        &[],
        json!({"schedulingGates": [{"name": "example.com/wait"}]}),
    ))
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(c.pod("gated").await.spec.unwrap().node_name.is_none());
    assert!(c.events("gated", "FailedScheduling").await.is_empty());
    c.pods()
        .patch(
            "gated",
            &Default::default(),
            &kube::api::Patch::Merge(json!({"spec": {"schedulingGates": null}})),
        )
        .await
        .unwrap();
    assert_eq!(c.node_of("gated").await, "n0");
}

#[tokio::test]
async fn required_affinity_terms_must_all_match_one_pod() {
    let mut c = Cluster::start().await;
    c.add_nodes(nodes("n", 2, "8", &[], &[])).await;
    let on = |node: &str| json!({"nodeSelector": {"kubernetes.io/hostname": node}});
    c.create(pod("db", &[("app", "db")], on("n0"))).await;
    c.create(pod("cache", &[("tier", "cache")], on("n0"))).await;
    c.node_of("db").await;
    c.node_of("cache").await;
    let terms = json!({"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"},
        {"labelSelector": {"matchLabels": {"tier": "cache"}}, "topologyKey": "kubernetes.io/hostname"}]}}});
    // Two pods that each match one term are not a pod matching both.
    c.create(pod("follower", &[("app", "web")], terms.clone()))
        .await;
    let msg = c.unschedulable("follower").await;
    assert!(
        msg.starts_with("0/2 nodes are available: 2 node(s) didn't match pod affinity rules."),
        "{msg}"
    );
    c.create(pod("both", &[("app", "db"), ("tier", "cache")], on("n1")))
        .await;
    c.node_of("both").await;
    assert_eq!(c.node_of("follower").await, "n1");
}
