//! PodDisruptionBudget status from the disruption controller: expected pods from any
//! controller with a scale (others than the usual ones through /scale), the fail-safe when a controller cannot
//! be found, unmanaged pods; and the DisruptionTarget condition the eviction API sets.

mod common;

use common::{Cluster, eventually, make_ready};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
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

/// A Ready pod labelled `app`, controlled by `owner` (apiVersion, kind, name, uid) if given.
async fn ready_pod(
    pods: &Api<Pod>,
    name: &str,
    app: &str,
    owner: Option<(&str, &str, &str, &str)>,
) {
    let refs: Vec<serde_json::Value> = owner
        .into_iter()
        .map(|(api_version, kind, owner, uid)| {
            json!({"apiVersion": api_version, "kind": kind,
            "name": owner, "uid": uid, "controller": true})
        })
        .collect();
    // A finalizer keeps the pod should the garbage collector take it for an orphan.
    let p: Pod = serde_json::from_value(json!({"metadata": {"name": name, "labels": {"app": app},
        "ownerReferences": refs, "finalizers": ["example.com/hold"]},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}))
    .unwrap();
    pods.create(&PostParams::default(), &p).await.unwrap();
    make_ready(pods, name).await;
}

async fn budget(pdbs: &Api<PodDisruptionBudget>, name: &str, app: &str, rule: serde_json::Value) {
    let mut spec = json!({"selector": {"matchLabels": {"app": app}}});
    spec.as_object_mut()
        .unwrap()
        .extend(rule.as_object().unwrap().clone());
    let pdb: PodDisruptionBudget =
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap();
    pdbs.create(&PostParams::default(), &pdb).await.unwrap();
}

/// (expectedPods, currentHealthy, desiredHealthy, disruptionsAllowed, condition reason, message)
type Summary = (i32, i32, i32, i32, String, String);

async fn summary_becomes(pdbs: &Api<PodDisruptionBudget>, name: &str, want: Summary) {
    eventually(60, &format!("the status of budget {name}"), || async {
        let s = pdbs.get(name).await.unwrap().status.unwrap_or_default();
        let c = s
            .conditions
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.type_ == "DisruptionAllowed")
            .map(|c| (c.reason, c.message))
            .unwrap_or_default();
        let got = (
            s.expected_pods,
            s.current_healthy,
            s.desired_healthy,
            s.disruptions_allowed,
            c.0,
            c.1,
        );
        if got == want {
            Ok(())
        } else {
            Err(format!("{got:?}"))
        }
    })
    .await
}

#[tokio::test]
async fn budgets_count_any_scalable_controller_and_fail_safe_without_one() {
    let c = Cluster::start().await;
    let pods: Api<Pod> = c.api();
    let pdbs: Api<PodDisruptionBudget> = c.api();

    // A controller the caches do not look up for pods (a Deployment controlling a pod
    // directly), counted through its /scale subresource: it wants 4 replicas, one is Ready.
    let deployments: Api<Deployment> = c.api();
    let d: Deployment = serde_json::from_value(json!({"metadata": {"name": "scaled"},
        "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "scaled-template"}},
            "template": {"metadata": {"labels": {"app": "scaled-template"}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}}))
    .unwrap();
    let uid = deployments
        .create(&PostParams::default(), &d)
        .await
        .unwrap()
        .uid()
        .unwrap();
    ready_pod(
        &pods,
        "scaled-0",
        "scaled",
        Some(("apps/v1", "Deployment", "scaled", &uid)),
    )
    .await;
    budget(&pdbs, "scaled", "scaled", json!({"maxUnavailable": "50%"})).await;

    // A pod whose controller cannot be found.
    let ghost = "00000000-0000-0000-0000-00000000beef";
    ready_pod(
        &pods,
        "ghost-0",
        "ghost",
        Some(("apps/v1", "StatefulSet", "ghost", ghost)),
    )
    .await;
    budget(&pdbs, "ghost", "ghost", json!({"maxUnavailable": 1})).await;

    // Pods without a controller: a percentage cannot count them, an integer can.
    for name in ["bare-0", "bare-1"] {
        ready_pod(&pods, name, "bare", None).await;
    }
    budget(&pdbs, "bare-int", "bare", json!({"minAvailable": 1})).await;
    budget(&pdbs, "bare-pct", "bare", json!({"minAvailable": "50%"})).await;

    summary_becomes(
        &pdbs,
        "scaled",
        (4, 1, 2, 0, "InsufficientPods".into(), String::new()),
    )
    .await;
    summary_becomes(
        &pdbs,
        "ghost",
        (
            0,
            0,
            0,
            0,
            "SyncFailed".into(),
            r#"found no controllers for pod "ghost-0""#.into(),
        ),
    )
    .await;
    let failed = common::events(
        &c.client,
        "default",
        "ghost",
        "CalculateExpectedPodCountFailed",
    )
    .await;
    assert_eq!(
        failed,
        [
            r#"Failed to calculate the number of expected pods: found no controllers for pod "ghost-0""#
        ]
    );
    summary_becomes(
        &pdbs,
        "bare-int",
        (2, 2, 1, 1, "SufficientPods".into(), String::new()),
    )
    .await;
    summary_becomes(
        &pdbs,
        "bare-pct",
        (0, 2, 0, 0, "InsufficientPods".into(), String::new()),
    )
    .await;
    let unmanaged = common::events(&c.client, "default", "bare-pct", "UnmanagedPods").await;
    assert_eq!(
        unmanaged,
        [
            "Pods selected by this PodDisruptionBudget (selector: &LabelSelector{MatchLabels:map[string]string{app: bare,},MatchExpressions:[]LabelSelectorRequirement{},}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value."
        ]
    );

    // Let the pods go.
    for name in ["scaled-0", "ghost-0", "bare-0", "bare-1"] {
        let release = json!({"metadata": {"finalizers": null}});
        pods.patch(name, &PatchParams::default(), &Patch::Merge(&release))
            .await
            .unwrap();
    }
}
