//! The DaemonSet controller against a real API server: nodes are plain Node objects and the
//! test plays the kubelet by marking pods Ready or Failed.

mod common;

use common::{Cluster, events, eventually, finish, make_ready};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

async fn add_nodes(client: &Client, names: &[&str]) {
    let nodes: Api<Node> = Api::all(client.clone());
    for name in names {
        let n = json!({"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}});
        nodes
            .create(&PostParams::default(), &serde_json::from_value(n).unwrap())
            .await
            .unwrap();
    }
}

async fn taint(client: &Client, node: &str, effect: &str) {
    let nodes: Api<Node> = Api::all(client.clone());
    nodes
        .patch(
            node,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"taints": [{"key": "maintenance", "effect": effect}]}})),
        )
        .await
        .unwrap();
}

fn daemon_set(name: &str, extra_spec: Value, pod_spec: Value) -> DaemonSet {
    let mut spec = json!({
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec},
    });
    for (k, v) in extra_spec.as_object().unwrap() {
        spec[k] = v.clone();
    }
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
}

fn containers(image: &str) -> Value {
    json!({"containers": [{"name": "c", "image": image}]})
}

/// The set's pods that are not being deleted, sorted by name.
async fn live(pods: &Api<Pod>, app: &str) -> Vec<Pod> {
    let mut l: Vec<Pod> = pods
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    l.sort_by_key(|p| p.name_any());
    l
}

async fn wait_pods(pods: &Api<Pod>, app: &str, n: usize, what: &str) -> Vec<Pod> {
    eventually(20, what, || async {
        let l = live(pods, app).await;
        if l.len() == n {
            Ok(l)
        } else {
            Err(format!(
                "{:?}",
                l.iter().map(|p| p.name_any()).collect::<Vec<_>>()
            ))
        }
    })
    .await
}

#[tokio::test]
async fn a_no_schedule_taint_keeps_the_running_daemon_and_a_no_execute_taint_evicts_it() {
    let c = Cluster::start().await;
    add_nodes(&c.client, &["n1"]).await;
    let sets: Api<DaemonSet> = c.api();
    let pods: Api<Pod> = c.api();
    sets.create(
        &PostParams::default(),
        &daemon_set("agent", json!({}), containers("busybox")),
    )
    .await
    .unwrap();
    let before = wait_pods(&pods, "agent", 1, "the daemon").await;

    taint(&c.client, "n1", "NoSchedule").await;
    // The controller has seen the taint once it counts the daemon as misscheduled.
    eventually(20, "the daemon counted as misscheduled", || async {
        let s = sets.get("agent").await.unwrap().status.unwrap_or_default();
        if (s.desired_number_scheduled, s.number_misscheduled) == (0, 1) {
            Ok(())
        } else {
            Err(format!("{s:?}"))
        }
    })
    .await;
    let after = live(&pods, "agent").await;
    assert_eq!(
        after.iter().map(|p| p.uid()).collect::<Vec<_>>(),
        before.iter().map(|p| p.uid()).collect::<Vec<_>>(),
        "a NoSchedule taint leaves the running daemon alone"
    );

    taint(&c.client, "n1", "NoExecute").await;
    wait_pods(&pods, "agent", 0, "the daemon evicted by NoExecute").await;
}

/// Names of every pod of `app` the API server ever reports created, from a watch.
fn watch_creations(pods: &Api<Pod>, app: &str) -> Arc<Mutex<BTreeSet<String>>> {
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let (pods, selector, out) = (pods.clone(), format!("app={app}"), seen.clone());
    tokio::spawn(async move {
        let mut stream = pods
            .watch(&WatchParams::default().labels(&selector), "0")
            .await
            .unwrap()
            .boxed();
        while let Some(Ok(e)) = stream.next().await {
            if let WatchEvent::Added(p) = e {
                out.lock().unwrap().insert(p.name_any());
            }
        }
    });
    seen
}

#[tokio::test]
async fn a_rolling_update_creates_exactly_one_pod_per_node_and_revision() {
    let c = Cluster::start().await;
    let names = ["n1", "n2", "n3", "n4"];
    add_nodes(&c.client, &names).await;
    let sets: Api<DaemonSet> = c.api();
    let pods: Api<Pod> = c.api();
    let created = watch_creations(&pods, "agent");
    sets.create(
        &PostParams::default(),
        &daemon_set(
            "agent",
            json!({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}}),
            containers("agent:1"),
        ),
    )
    .await
    .unwrap();
    for p in wait_pods(&pods, "agent", 4, "four daemons").await {
        make_ready(&pods, &p.name_any()).await;
    }
    sets.patch(
        "agent",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "agent:2"}]}}}})),
    )
    .await
    .unwrap();
    // Play the kubelet: new pods become ready; at most one node is ever without a ready daemon.
    eventually(60, "the rollout", || async {
        let l = live(&pods, "agent").await;
        let mut ready = 0;
        for p in &l {
            if common_ready(p) {
                ready += 1;
            } else {
                make_ready(&pods, &p.name_any()).await;
            }
        }
        assert!(
            ready >= 3,
            "more than maxUnavailable daemons down: {ready} ready"
        );
        let images: Vec<String> = l
            .iter()
            .map(|p| {
                p.spec.as_ref().unwrap().containers[0]
                    .image
                    .clone()
                    .unwrap()
            })
            .collect();
        if l.len() == 4 && images.iter().all(|i| i == "agent:2") && ready == 4 {
            Ok(())
        } else {
            Err(format!("{images:?}, {ready} ready"))
        }
    })
    .await;
    let created = created.lock().unwrap().clone();
    assert_eq!(
        created.len(),
        8,
        "one pod per node per revision: {created:?}"
    );
}

fn common_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

#[tokio::test]
async fn a_failed_daemon_is_reported_and_replaced() {
    let c = Cluster::start().await;
    add_nodes(&c.client, &["n1"]).await;
    let sets: Api<DaemonSet> = c.api();
    let pods: Api<Pod> = c.api();
    sets.create(
        &PostParams::default(),
        &daemon_set("agent", json!({}), containers("busybox")),
    )
    .await
    .unwrap();
    let first = wait_pods(&pods, "agent", 1, "the daemon").await.remove(0);
    finish(&pods, &first.name_any(), "Failed").await;
    let replacement = eventually(20, "a replacement", || async {
        match live(&pods, "agent").await.as_slice() {
            [p] if p.name_any() != first.name_any() => Ok(p.clone()),
            other => Err(format!(
                "{:?}",
                other.iter().map(|p| p.name_any()).collect::<Vec<_>>()
            )),
        }
    })
    .await;
    assert_eq!(
        events(&c.client, "default", "agent", "FailedDaemonPod").await,
        [format!(
            "Found failed daemon pod default/{} on node n1, will try to kill it",
            first.name_any()
        )]
    );
    // A second failure on the node is replaced too (after the back-off).
    finish(&pods, &replacement.name_any(), "Failed").await;
    eventually(20, "a second replacement", || async {
        match live(&pods, "agent").await.as_slice() {
            [p] if p.name_any() != replacement.name_any() && p.name_any() != first.name_any() => {
                Ok(())
            }
            other => Err(format!(
                "{:?}",
                other.iter().map(|p| p.name_any()).collect::<Vec<_>>()
            )),
        }
    })
    .await;
}

#[tokio::test]
async fn daemon_pods_keep_preferred_affinity_and_carry_the_revision_hash() {
    let c = Cluster::start().await;
    add_nodes(&c.client, &["n1"]).await;
    let sets: Api<DaemonSet> = c.api();
    let pods: Api<Pod> = c.api();
    let mut spec = containers("busybox");
    spec["affinity"] = json!({"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "Exists"}]}]},
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 10, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}}]
    }});
    sets.create(
        &PostParams::default(),
        &daemon_set("agent", json!({}), spec),
    )
    .await
    .unwrap();
    let pod = wait_pods(&pods, "agent", 1, "the daemon").await.remove(0);
    let affinity = serde_json::to_value(&pod.spec.as_ref().unwrap().affinity).unwrap();
    assert_eq!(
        affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"],
        json!({"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]})
    );
    assert_eq!(
        affinity["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["weight"],
        10
    );
    // As upstream: the hash alone (the revision is named <set>-<hash>) and the template
    // generation.
    let revs: Api<ControllerRevision> = c.api();
    let rev = revs
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .remove(0);
    let hash = &pod.labels()["controller-revision-hash"];
    assert_eq!(rev.name_any(), format!("agent-{hash}"));
    assert_eq!(pod.labels()["pod-template-generation"], "1");
}

#[tokio::test]
async fn revisions_carry_the_template_labels_and_are_pruned_to_the_history_limit() {
    let c = Cluster::start().await;
    add_nodes(&c.client, &["n1"]).await;
    let sets: Api<DaemonSet> = c.api();
    let pods: Api<Pod> = c.api();
    let revs: Api<ControllerRevision> = c.api();
    let ds: DaemonSet = serde_json::from_value(json!({
        "metadata": {"name": "agent"},
        "spec": {"revisionHistoryLimit": 1,
                 "selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["agent"]}]},
                 "template": {"metadata": {"labels": {"app": "agent", "tier": "node"}},
                              "spec": containers("agent:1")}}
    }))
    .unwrap();
    sets.create(&PostParams::default(), &ds).await.unwrap();
    wait_pods(&pods, "agent", 1, "the daemon").await;
    for image in ["agent:2", "agent:3", "agent:4"] {
        sets.patch(
            "agent",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}})),
        )
        .await
        .unwrap();
        eventually(20, image, || async {
            match live(&pods, "agent").await.as_slice() {
                [p] if p.spec.as_ref().unwrap().containers[0].image.as_deref() == Some(image) => {
                    Ok(())
                }
                other => Err(format!("{}", other.len())),
            }
        })
        .await;
    }
    let list = eventually(20, "history pruned to current + 1", || async {
        let l = revs
            .list(&ListParams::default().labels("app=agent,tier=node"))
            .await
            .unwrap()
            .items;
        if l.len() == 2 {
            Ok(l)
        } else {
            Err(format!(
                "{:?}",
                l.iter().map(|r| r.revision).collect::<Vec<_>>()
            ))
        }
    })
    .await;
    let mut numbers: Vec<i64> = list.iter().map(|r| r.revision).collect();
    numbers.sort();
    assert_eq!(numbers, [3, 4], "the oldest revisions go first");
}
