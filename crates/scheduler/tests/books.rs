//! The scheduling examples of the books (`books/`, copied from the shared manifests with their
//! `# expect:` lines) place pods as the books say. Deployments and DaemonSets are expanded into
//! the pods their controllers would create (the controllers are not part of this crate): a
//! Deployment into `replicas` pods of its template, a DaemonSet into one pod per node pinned
//! with a `metadata.name` match field, as upstream's DaemonSet controller does.

mod common;

use common::{Cluster, nodes, pod_cpu};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

fn book(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/books/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Create the book's objects; workloads become their pods. Returns pod names per workload.
async fn apply_book(c: &Cluster, name: &str) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let node_names: Vec<String> = c
        .nodes()
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    for doc in book(name).split("\n---") {
        let v: Value = serde_norway::from_str(doc).unwrap();
        if v.is_null() {
            continue;
        }
        let kind = v["kind"].as_str().unwrap();
        let wname = v["metadata"]["name"].as_str().unwrap().to_string();
        let template = &v["spec"]["template"];
        let make = |pod_name: &str, spec: Value| {
            json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": pod_name, "labels": template["metadata"]["labels"]}, "spec": spec})
        };
        match kind {
            "Deployment" => {
                let mut names = Vec::new();
                for i in 0..v["spec"]["replicas"].as_u64().unwrap_or(1) {
                    let pod_name = format!("{wname}-{i}");
                    c.create(make(&pod_name, template["spec"].clone())).await;
                    names.push(pod_name);
                }
                out.insert(wname, names);
            }
            "DaemonSet" => {
                let mut names = Vec::new();
                for node in &node_names {
                    let mut spec = template["spec"].clone();
                    let field = json!({"key": "metadata.name", "operator": "In", "values": [node]});
                    let terms = &mut spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
                        ["nodeSelectorTerms"];
                    match terms.as_array_mut() {
                        Some(ts) => ts
                            .iter_mut()
                            .for_each(|t| t["matchFields"] = json!([field])),
                        None => *terms = json!([{"matchFields": [field]}]),
                    }
                    let pod_name = format!("{wname}-{node}");
                    c.create(make(&pod_name, spec)).await;
                    names.push(pod_name);
                }
                out.insert(wname, names);
            }
            _ => c.create(v).await,
        }
    }
    out
}

/// Nodes of each pod (waiting for each to be bound).
async fn placed(c: &Cluster, pods: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for p in pods {
        out.push(c.node_of(p).await);
    }
    out
}

async fn three_nodes_one_arm() -> Cluster {
    let mut c = Cluster::start().await;
    c.add_nodes(nodes("amd", 2, "4", &[], &[])).await;
    c.add_nodes(nodes(
        "arm",
        1,
        "4",
        &[("kubernetes.io/arch", "arm64")],
        &[],
    ))
    .await;
    c
}

#[tokio::test]
async fn node_selector_and_required_affinity_pick_arm64() {
    let c = three_nodes_one_arm().await;
    let pods = apply_book(&c, "ch08-deploy-nodeselector-arm64.yaml").await;
    assert_eq!(placed(&c, &pods["timeserver"]).await, vec!["arm0"]);
    for p in &pods["timeserver"] {
        c.delete_pod(p).await;
        assert!(c.gone(p).await);
    }
    let pods = apply_book(&c, "ch08-deploy-nodeaffinity-arm64.yaml").await;
    assert_eq!(placed(&c, &pods["timeserver"]).await, vec!["arm0"]);
}

#[tokio::test]
async fn without_an_arm64_node_the_pod_stays_pending() {
    let mut c = Cluster::start().await;
    c.add_nodes(nodes("amd", 2, "4", &[], &[])).await;
    let pods = apply_book(&c, "ch08-deploy-nodeselector-arm64.yaml").await;
    let msg = c.unschedulable(&pods["timeserver"][0]).await;
    assert!(
        msg.starts_with(
            "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
        ),
        "{msg}"
    );
    assert_eq!(
        c.wait_event(&pods["timeserver"][0], "FailedScheduling")
            .await,
        msg
    );
}

#[tokio::test]
async fn multi_value_and_preferred_affinity() {
    let c = three_nodes_one_arm().await;
    let pods = apply_book(&c, "ch08-deploy-nodeaffinity-multi.yaml").await;
    assert!(
        placed(&c, &pods["timeserver"])
            .await
            .iter()
            .all(|n| n.starts_with("amd") || n.starts_with("arm"))
    );
    c.delete_pod(&pods["timeserver"][0]).await;
    assert!(c.gone(&pods["timeserver"][0]).await);
    let pods = apply_book(&c, "ch08-deploy-nodeaffinity-preferred.yaml").await;
    assert_eq!(placed(&c, &pods["timeserver"]).await, vec!["arm0"]);
}

#[tokio::test]
async fn spot_taint_keeps_intolerant_pods_off() {
    let mut c = Cluster::start().await;
    c.add_nodes(nodes("n", 2, "4", &[], &[])).await;
    c.add_nodes(nodes("spot", 1, "4", &[], &["spot=true:NoSchedule"]))
        .await;
    let pods = apply_book(&c, "ch08-deploy-tolerate-spot.yaml").await;
    placed(&c, &pods["timeserver"]).await;
    for i in 0..6 {
        let name = format!("plain{i}");
        c.create(common::pod(&name, &[], json!({}))).await;
        assert_ne!(c.node_of(&name).await, "spot0");
    }
}

#[tokio::test]
async fn workload_separation_groups() {
    let mut c = Cluster::start().await;
    c.add_nodes(nodes("m01-", 1, "8", &[], &[])).await;
    c.add_nodes(nodes(
        "m02-",
        1,
        "8",
        &[("group", "1")],
        &["group=1:NoSchedule"],
    ))
    .await;
    c.add_nodes(nodes(
        "m03-",
        1,
        "8",
        &[("group", "2")],
        &["group=2:NoSchedule"],
    ))
    .await;
    let pods = apply_book(&c, "ch08-workload-separation-groups.yaml").await;
    assert_eq!(placed(&c, &pods["timeserver1"]).await, vec!["m02-0"; 5]);
    assert_eq!(placed(&c, &pods["timeserver2"]).await, vec!["m03-0"; 5]);
}

#[tokio::test]
async fn topology_spread_puts_three_replicas_on_three_nodes() {
    let mut c = Cluster::start().await;
    c.add_nodes(nodes("minikube-", 3, "2", &[], &[])).await;
    let pods = apply_book(&c, "ch08-deploy-topology-spread.yaml").await;
    let nodes: BTreeSet<_> = placed(&c, &pods["timeserver"]).await.into_iter().collect();
    assert_eq!(nodes.len(), 3, "{nodes:?}");
}

#[tokio::test]
async fn colocation_and_anti_affinity_with_the_database() {
    let mut c = Cluster::start().await;
    c.add_nodes(nodes("n", 3, "8", &[], &[])).await;
    let pods = apply_book(&c, "ch08-colocation-backend-frontend.yaml").await;
    let db = placed(&c, &pods["mariadb"]).await;
    assert_eq!(
        placed(&c, &pods["timeserver"]).await,
        vec![db[0].clone(); 3]
    );
    // The anti-affinity variant keeps timeserver pods away from the database's node.
    for p in &pods["timeserver"] {
        c.delete_pod(p).await;
        assert!(c.gone(p).await);
    }
    let pods = apply_book(&c, "ch08-podantiaffinity-frontend.yaml").await;
    assert!(
        placed(&c, &pods["timeserver"])
            .await
            .iter()
            .all(|n| *n != db[0])
    );
}

#[tokio::test]
async fn daemonsets_that_tolerate_all_taints_except_arm64() {
    let mut c = Cluster::start().await;
    c.add_nodes(nodes("n", 2, "4", &[], &[])).await;
    c.add_nodes(nodes(
        "tainted",
        1,
        "4",
        &[],
        &["dedicated=x:NoSchedule", "gone=y:NoExecute"],
    ))
    .await;
    c.add_nodes(nodes(
        "arm",
        1,
        "4",
        &[("kubernetes.io/arch", "arm64")],
        &[],
    ))
    .await;
    let pods = apply_book(&c, "ch08-daemonset-tolerate-all-taints.yaml").await;
    let all: BTreeSet<_> = placed(&c, &pods["example-ds"]).await.into_iter().collect();
    assert_eq!(all.len(), 4, "one pod on every node: {all:?}");
    for p in &pods["example-ds"] {
        c.delete_pod(p).await;
        assert!(c.gone(p).await);
    }
    let pods = apply_book(&c, "ch08-daemonset-tolerate-antiaffinity.yaml").await;
    let arm_pod = pods["example-ds"]
        .iter()
        .find(|p| p.ends_with("arm0"))
        .unwrap()
        .clone();
    let others: Vec<String> = pods["example-ds"]
        .iter()
        .filter(|p| **p != arm_pod)
        .cloned()
        .collect();
    assert_eq!(placed(&c, &others).await.len(), 3);
    assert!(
        c.unschedulable(&arm_pod)
            .await
            .contains("didn't match Pod's node affinity/selector")
    );
}

#[tokio::test]
async fn priority_classes_and_balloon_pods() {
    let mut c = Cluster::start().await;
    c.add_nodes(nodes("n", 2, "1200m", &[], &[])).await;
    // Ten 200m balloon pods fill most of the two nodes (2 × 1200m).
    let pods = apply_book(&c, "ch06-balloon-priorityclass-deploy.yaml").await;
    placed(&c, &pods["balloon-deploy"]).await;
    // A normal pod (priority 0, may preempt) that does not fit evicts balloon pods.
    c.create(pod_cpu("app", "500m", json!({}))).await;
    c.node_of("app").await;
    let mut alive = 0;
    for p in &pods["balloon-deploy"] {
        if c.pods()
            .get_opt(p)
            .await
            .unwrap()
            .is_some_and(|p| p.metadata.deletion_timestamp.is_none())
        {
            alive += 1;
        }
    }
    assert!((7..=9).contains(&alive), "balloons left: {alive}");
    // high-priority (preemptionPolicy Never) pods schedule where there is room but never preempt.
    apply_book(&c, "ch05-priorityclass-high-priority.yaml").await;
    apply_book(&c, "ch05-priorityclass-high-priority-preemption.yaml").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let pods = apply_book(&c, "ch05-deploy-timeserver-priority.yaml").await;
    let mut scheduled = 0;
    for p in &pods["timeserver"] {
        for _ in 0..40 {
            if c.pod(p).await.spec.unwrap().node_name.is_some() {
                scheduled += 1;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    let msg = c.unschedulable(pods["timeserver"].last().unwrap()).await;
    assert!(
        msg.ends_with("preemption: not eligible due to preemptionPolicy=Never."),
        "{msg} ({scheduled} scheduled)"
    );
    // A pod of the preempting class gets room by evicting balloon pods.
    c.create(pod_cpu(
        "critical",
        "400m",
        json!({"priorityClassName": "high-priority-preemption"}),
    ))
    .await;
    c.node_of("critical").await;
}
