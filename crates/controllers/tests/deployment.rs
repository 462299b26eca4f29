//! The Deployment controller against a real API server, with pods made Ready by the test
//! (there are no nodes here).

mod common;

use common::{Cluster, events, eventually, make_ready};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

fn deployment(name: &str, replicas: i32, image: &str) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": image}]}}}
    }))
    .unwrap()
}

/// Make every live pod of `app` Ready; returns how many live pods there are.
async fn ready_all(pods: &Api<Pod>, app: &str) -> usize {
    let list = pods
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .unwrap();
    let live: Vec<&Pod> = list
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    for p in &live {
        let ready = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
        if !ready {
            make_ready(pods, &p.name_any()).await;
        }
    }
    live.len()
}

fn condition(d: &Deployment, t: &str) -> Option<(String, String)> {
    d.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == t)
        .map(|c| (c.status.clone(), c.reason.clone().unwrap_or_default()))
}

/// Keep pods ready until the Deployment reports a finished rollout; returns the most pods
/// seen at once.
async fn roll_to_completion(
    deploys: &Api<Deployment>,
    pods: &Api<Pod>,
    name: &str,
    replicas: i32,
) -> usize {
    let most = std::sync::atomic::AtomicUsize::new(0);
    eventually(30, "rollout to finish", || {
        let most = &most;
        async move {
            most.fetch_max(
                ready_all(pods, name).await,
                std::sync::atomic::Ordering::SeqCst,
            );
            let d = deploys.get(name).await.map_err(|e| e.to_string())?;
            let s = d.status.clone().unwrap_or_default();
            let done = s.updated_replicas == Some(replicas)
                && s.replicas == Some(replicas)
                && s.available_replicas == Some(replicas)
                && s.observed_generation == d.metadata.generation
                && condition(&d, "Progressing")
                    == Some(("True".into(), "NewReplicaSetAvailable".into()));
            if done { Ok(()) } else { Err(format!("{s:?}")) }
        }
    })
    .await;
    most.into_inner()
}

#[tokio::test]
async fn a_deployment_rolls_out_within_its_surge_and_keeps_revisions() {
    let c = Cluster::start().await;
    let deploys: Api<Deployment> = c.api();
    let sets: Api<ReplicaSet> = c.api();
    let pods: Api<Pod> = c.api();
    deploys
        .create(&PostParams::default(), &deployment("web", 4, "nginx:1.25"))
        .await
        .unwrap();
    roll_to_completion(&deploys, &pods, "web", 4).await;

    let d = deploys.get("web").await.unwrap();
    assert_eq!(
        d.metadata.generation,
        Some(1),
        "the revision annotation does not bump the generation"
    );
    assert_eq!(
        d.annotations()
            .get("deployment.kubernetes.io/revision")
            .map(String::as_str),
        Some("1")
    );
    assert_eq!(
        condition(&d, "Available"),
        Some(("True".into(), "MinimumReplicasAvailable".into()))
    );
    let rs = sets.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(rs.len(), 1);
    let hash = rs[0].labels()["pod-template-hash"].clone();
    assert_eq!(rs[0].name_any(), format!("web-{hash}"));
    let a = rs[0].annotations();
    assert_eq!(
        (
            a["deployment.kubernetes.io/desired-replicas"].as_str(),
            a["deployment.kubernetes.io/max-replicas"].as_str()
        ),
        ("4", "5")
    );
    let scaled = events(&c.client, "default", "web", "ScalingReplicaSet").await;
    assert_eq!(
        scaled,
        vec![format!("Scaled up replica set web-{hash} to 4")]
    );

    // A new image: a second ReplicaSet, revision 2; never more than 4 + 25% surge pods.
    deploys
        .patch("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}}})))
        .await
        .unwrap();
    let most = roll_to_completion(&deploys, &pods, "web", 4).await;
    assert!(most <= 5, "{most} pods at once, maxSurge allows 5");
    let mut rs = sets.list(&ListParams::default()).await.unwrap().items;
    rs.sort_by_key(|r| r.annotations()["deployment.kubernetes.io/revision"].clone());
    let rows: Vec<(String, i32)> = rs
        .iter()
        .map(|r| {
            (
                r.annotations()["deployment.kubernetes.io/revision"].clone(),
                r.spec.as_ref().unwrap().replicas.unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, vec![("1".to_string(), 0), ("2".to_string(), 4)]);

    // Paused: template changes wait; resumed: they roll out.
    deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"paused": true}})),
        )
        .await
        .unwrap();
    eventually(10, "paused condition", || async {
        let d = deploys.get("web").await.unwrap();
        match condition(&d, "Progressing") {
            Some((s, r)) if s == "Unknown" && r == "DeploymentPaused" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    deploys
        .patch("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.28"}]}}}})))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(
        sets.list(&ListParams::default()).await.unwrap().items.len(),
        2,
        "no rollout while paused"
    );
    deploys
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"paused": false}})),
        )
        .await
        .unwrap();
    roll_to_completion(&deploys, &pods, "web", 4).await;
    assert_eq!(
        sets.list(&ListParams::default()).await.unwrap().items.len(),
        3
    );
}

#[tokio::test]
async fn recreate_removes_old_pods_before_creating_new_ones() {
    let c = Cluster::start().await;
    let deploys: Api<Deployment> = c.api();
    let pods: Api<Pod> = c.api();
    let mut d = deployment("db", 2, "postgres:15");
    d.spec.as_mut().unwrap().strategy =
        Some(serde_json::from_value(json!({"type": "Recreate"})).unwrap());
    deploys.create(&PostParams::default(), &d).await.unwrap();
    roll_to_completion(&deploys, &pods, "db", 2).await;
    deploys
        .patch("db", &PatchParams::default(), &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "postgres:16"}]}}}})))
        .await
        .unwrap();
    // Pods without a node are deleted at once, so old and new never coexist.
    let most = roll_to_completion(&deploys, &pods, "db", 2).await;
    assert!(most <= 2, "{most} pods at once");
    let images: Vec<String> = pods
        .list(&ListParams::default().labels("app=db"))
        .await
        .unwrap()
        .items
        .iter()
        .map(|p| {
            p.spec.as_ref().unwrap().containers[0]
                .image
                .clone()
                .unwrap()
        })
        .collect();
    assert_eq!(images, vec!["postgres:16", "postgres:16"]);
}
