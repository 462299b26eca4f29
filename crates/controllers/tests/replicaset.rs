//! The ReplicaSet and ReplicationController controllers against a real API server.

mod common;

use common::{Cluster, events, eventually, make_ready};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

fn rs(name: &str, replicas: i32) -> ReplicaSet {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}
    }))
    .unwrap()
}

async fn live_pods(pods: &Api<Pod>, selector: &str) -> Vec<Pod> {
    pods.list(&ListParams::default().labels(selector))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect()
}

async fn wait_count(pods: &Api<Pod>, selector: &str, n: usize) -> Vec<Pod> {
    eventually(20, &format!("{n} pods {selector}"), || async {
        let p = live_pods(pods, selector).await;
        if p.len() == n {
            Ok(p)
        } else {
            Err(format!("{} pods", p.len()))
        }
    })
    .await
}

#[tokio::test]
async fn a_replicaset_keeps_its_pods_owns_them_and_reports_status() {
    let c = Cluster::start().await;
    let sets: Api<ReplicaSet> = c.api();
    let pods: Api<Pod> = c.api();
    let created = sets
        .create(&PostParams::default(), &rs("web", 3))
        .await
        .unwrap();
    let uid = created.uid().unwrap();

    let three = wait_count(&pods, "app=web", 3).await;
    for p in &three {
        assert!(
            p.name_any().starts_with("web-") && p.name_any().len() == "web-".len() + 5,
            "{}",
            p.name_any()
        );
        let r = &p.owner_references()[0];
        assert_eq!(
            (r.kind.as_str(), r.name.as_str(), r.uid.as_str()),
            ("ReplicaSet", "web", uid.as_str())
        );
        assert_eq!(
            (r.controller, r.block_owner_deletion),
            (Some(true), Some(true))
        );
    }
    let msgs = eventually(10, "SuccessfulCreate events", || async {
        let m = events(&c.client, "default", "web", "SuccessfulCreate").await;
        if m.len() == 3 {
            Ok(m)
        } else {
            Err(format!("{m:?}"))
        }
    })
    .await;
    assert!(
        msgs.iter().all(|m| m.starts_with("Created pod: web-")),
        "{msgs:?}"
    );

    // One pod becomes ready: status counts it; scaling down keeps the ready one.
    let keeper = three[1].name_any();
    make_ready(&pods, &keeper).await;
    eventually(10, "status", || async {
        let s = sets.get("web").await.unwrap().status.unwrap();
        let got = (
            s.replicas,
            s.fully_labeled_replicas,
            s.ready_replicas,
            s.available_replicas,
            s.observed_generation,
        );
        if got == (3, Some(3), Some(1), Some(1), Some(1)) {
            Ok(())
        } else {
            Err(format!("{got:?}"))
        }
    })
    .await;
    sets.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .unwrap();
    let left = wait_count(&pods, "app=web", 1).await;
    assert_eq!(left[0].name_any(), keeper, "the ready pod is kept");

    // A deleted pod is replaced.
    pods.delete(&keeper, &Default::default()).await.unwrap();
    let again = wait_count(&pods, "app=web", 1).await;
    assert_ne!(again[0].name_any(), keeper);

    // An orphan with matching labels is adopted, and being the newer, not-ready one of two
    // it is the one deleted; a pod whose labels stop matching is released and replaced.
    let current = again[0].name_any();
    make_ready(&pods, &current).await;
    let orphan: Pod = serde_json::from_value(
        json!({"metadata": {"name": "stray", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}),
    )
    .unwrap();
    pods.create(&PostParams::default(), &orphan).await.unwrap();
    eventually(10, "the adopted orphan to be deleted", || async {
        let m = events(&c.client, "default", "web", "SuccessfulDelete").await;
        if m.iter().any(|m| m == "Deleted pod: stray") {
            Ok(())
        } else {
            Err(format!("{m:?}"))
        }
    })
    .await;
    let kept = wait_count(&pods, "app=web", 1).await;
    assert_eq!(kept[0].name_any(), current);
    pods.patch(
        &current,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "other"}}})),
    )
    .await
    .unwrap();
    eventually(10, "release", || async {
        let p = pods.get(&current).await.unwrap();
        if p.metadata.owner_references.is_none() {
            Ok(())
        } else {
            Err(format!("{:?}", p.metadata.owner_references))
        }
    })
    .await;
    let replaced = wait_count(&pods, "app=web", 1).await;
    assert_ne!(replaced[0].name_any(), current);
}

#[tokio::test]
async fn a_replication_controller_keeps_its_pods() {
    let c = Cluster::start().await;
    let rcs: Api<ReplicationController> = c.api();
    let pods: Api<Pod> = c.api();
    let rc: ReplicationController = serde_json::from_value(json!({
        "metadata": {"name": "legacy"},
        "spec": {"replicas": 2, "selector": {"app": "legacy"},
                 "template": {"metadata": {"labels": {"app": "legacy"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}
    }))
    .unwrap();
    rcs.create(&PostParams::default(), &rc).await.unwrap();
    let two = wait_count(&pods, "app=legacy", 2).await;
    assert_eq!(two[0].owner_references()[0].kind, "ReplicationController");
    eventually(10, "rc status", || async {
        let s = rcs.get("legacy").await.unwrap().status.unwrap();
        if s.replicas == 2 && s.observed_generation == Some(1) {
            Ok(())
        } else {
            Err(format!("{s:?}"))
        }
    })
    .await;
}

/// Bind `pod` to `node` as a scheduler would, and make it Ready since `ready_secs_ago`.
async fn bind_and_ready(pods: &Api<Pod>, pod: &str, node: &str, ready_secs_ago: i64) {
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod},
                         "target": {"kind": "Node", "name": node}});
    pods.create_subresource::<_, serde_json::Value>(
        "binding",
        pod,
        &PostParams::default(),
        &binding,
    )
    .await
    .expect("binding the pod");
    let since =
        (jiff::Timestamp::now() - jiff::SignedDuration::from_secs(ready_secs_ago)).to_string();
    let status = json!({"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": since},
    ]}});
    pods.patch_status(pod, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("patching pod status");
}

#[tokio::test]
async fn scale_down_thins_the_most_crowded_node_then_takes_the_cheapest_pod() {
    use k8s_openapi::api::apps::v1::Deployment;
    let c = Cluster::start().await;
    let deploys: Api<Deployment> = c.api();
    let pods: Api<Pod> = c.api();
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "spread"},
        "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "spread"}},
                 "template": {"metadata": {"labels": {"app": "spread"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}
    }))
    .unwrap();
    deploys.create(&PostParams::default(), &d).await.unwrap();
    let four: Vec<String> = wait_count(&pods, "app=spread", 4)
        .await
        .iter()
        .map(|p| p.name_any())
        .collect();
    // Two pods share n1 and were ready long ago; the others are alone on n2 and n3 and ready
    // only recently, so only the colocation rank (not readiness age) makes an n1 pod go first.
    bind_and_ready(&pods, &four[0], "n1", 3000).await;
    bind_and_ready(&pods, &four[1], "n1", 3000).await;
    bind_and_ready(&pods, &four[2], "n2", 10).await;
    bind_and_ready(&pods, &four[3], "n3", 10).await;
    let scale = |n: i32| {
        let deploys = deploys.clone();
        async move {
            deploys
                .patch(
                    "spread",
                    &PatchParams::default(),
                    &Patch::Merge(json!({"spec": {"replicas": n}})),
                )
                .await
                .unwrap();
        }
    };
    scale(3).await;
    let left: Vec<String> = wait_count(&pods, "app=spread", 3)
        .await
        .iter()
        .map(|p| p.name_any())
        .collect();
    assert!(
        left.contains(&four[2]) && left.contains(&four[3]),
        "a pod of the crowded node n1 is deleted: {left:?}"
    );

    // Every node holds one pod now; the one made cheapest by its deletion cost goes next,
    // though it has been ready the longest.
    let survivor = left
        .iter()
        .find(|n| **n != four[2] && **n != four[3])
        .unwrap()
        .clone();
    pods.patch(
        &survivor,
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {"controller.kubernetes.io/pod-deletion-cost": "-10"}}})),
    )
    .await
    .unwrap();
    scale(2).await;
    let left: Vec<String> = wait_count(&pods, "app=spread", 2)
        .await
        .iter()
        .map(|p| p.name_any())
        .collect();
    assert!(
        !left.contains(&survivor),
        "the cheap pod is deleted: {left:?}"
    );
}
