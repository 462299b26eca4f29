//! PodDisruptionBudget status from the disruption controller.

mod common;

use common::{Cluster, eventually, make_ready};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{EvictParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

#[tokio::test]
async fn a_budget_counts_expected_and_healthy_pods() {
    let c = Cluster::start().await;
    let sets: Api<ReplicaSet> = c.api();
    let pods: Api<Pod> = c.api();
    let pdbs: Api<PodDisruptionBudget> = c.api();
    let rs: ReplicaSet = serde_json::from_value(json!({"metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}}))
    .unwrap();
    sets.create(&PostParams::default(), &rs).await.unwrap();
    let names = eventually(10, "3 pods", || async {
        let l = pods
            .list(&ListParams::default().labels("app=web"))
            .await
            .unwrap()
            .items;
        if l.len() == 3 {
            Ok(l.iter().map(|p| p.name_any()).collect::<Vec<_>>())
        } else {
            Err(format!("{}", l.len()))
        }
    })
    .await;
    make_ready(&pods, &names[0]).await;
    make_ready(&pods, &names[1]).await;
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({"metadata": {"name": "web"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}}))
    .unwrap();
    pdbs.create(&PostParams::default(), &pdb).await.unwrap();
    eventually(10, "budget status", || async {
        let s = pdbs.get("web").await.unwrap().status.unwrap_or_default();
        let got = (
            s.expected_pods,
            s.current_healthy,
            s.desired_healthy,
            s.disruptions_allowed,
        );
        if got == (3, 2, 1, 1) {
            Ok(())
        } else {
            Err(format!("{got:?}"))
        }
    })
    .await;

    // The one allowed disruption: the evicted pod is marked before it goes (a finalizer keeps
    // it in sight).
    let hold = json!({"metadata": {"finalizers": ["example.com/hold"]}});
    pods.patch(&names[0], &PatchParams::default(), &Patch::Merge(&hold))
        .await
        .unwrap();
    pods.evict(&names[0], &EvictParams::default())
        .await
        .unwrap();
    let evicted = pods.get(&names[0]).await.unwrap();
    assert!(evicted.metadata.deletion_timestamp.is_some());
    let target = evicted
        .status
        .and_then(|s| s.conditions)
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
            Some("EvictionByEvictionAPI"),
            Some("Eviction API: evicting")
        )
    );
    let release = json!({"metadata": {"finalizers": null}});
    pods.patch(&names[0], &PatchParams::default(), &Patch::Merge(&release))
        .await
        .unwrap();
}
