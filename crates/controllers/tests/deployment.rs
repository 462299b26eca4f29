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

/// The ReplicaSets of `app` as (revision, image, spec replicas), oldest revision first.
async fn replica_sets(sets: &Api<ReplicaSet>, app: &str) -> Vec<(i64, String, i32)> {
    let mut rows: Vec<(i64, String, i32)> = sets
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .unwrap()
        .items
        .iter()
        .filter(|r| r.metadata.deletion_timestamp.is_none())
        .map(|r| {
            let spec = r.spec.as_ref().unwrap();
            (
                revision_of(r),
                spec.template
                    .as_ref()
                    .unwrap()
                    .spec
                    .as_ref()
                    .unwrap()
                    .containers[0]
                    .image
                    .clone()
                    .unwrap(),
                spec.replicas.unwrap(),
            )
        })
        .collect();
    rows.sort();
    rows
}

fn revision_of(r: &ReplicaSet) -> i64 {
    r.annotations()
        .get("deployment.kubernetes.io/revision")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn set_image(deploys: &Api<Deployment>, name: &str, image: &str) {
    deploys
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}})),
        )
        .await
        .unwrap();
}

async fn patch_spec(deploys: &Api<Deployment>, name: &str, spec: serde_json::Value) {
    deploys
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": spec })),
        )
        .await
        .unwrap();
}

/// Wait for the ReplicaSets of `app` to be exactly `want` (revision, image, replicas).
async fn wait_sets(sets: &Api<ReplicaSet>, app: &str, want: &[(i64, &str, i32)]) {
    let want: Vec<(i64, String, i32)> = want
        .iter()
        .map(|(r, i, n)| (*r, i.to_string(), *n))
        .collect();
    eventually(30, &format!("replica sets {want:?}"), || async {
        let got = replica_sets(sets, app).await;
        if got == want {
            Ok(())
        } else {
            Err(format!("{got:?}"))
        }
    })
    .await;
}

async fn wait_progressing(deploys: &Api<Deployment>, name: &str, status: &str, reason: &str) {
    eventually(30, &format!("Progressing {status} {reason}"), || async {
        let d = deploys.get(name).await.map_err(|e| e.to_string())?;
        match condition(&d, "Progressing") {
            Some((s, r)) if s == status && r == reason => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
}

fn progressing_message(d: &Deployment) -> String {
    d.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Progressing"))
        .and_then(|c| c.message.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_rollout_without_progress_exceeds_its_deadline_and_recovers_when_pods_get_ready() {
    let c = Cluster::start().await;
    let deploys: Api<Deployment> = c.api();
    let pods: Api<Pod> = c.api();
    let mut d = deployment("stuck", 2, "nginx:1.25");
    d.spec.as_mut().unwrap().progress_deadline_seconds = Some(2);
    deploys.create(&PostParams::default(), &d).await.unwrap();
    // No pod ever becomes ready.
    wait_progressing(&deploys, "stuck", "False", "ProgressDeadlineExceeded").await;
    let d = deploys.get("stuck").await.unwrap();
    let rs = replica_sets_named(&c, "stuck").await;
    assert_eq!(
        progressing_message(&d),
        format!("ReplicaSet \"{rs}\" has timed out progressing.")
    );
    assert_eq!(
        condition(&d, "Available"),
        Some(("False".into(), "MinimumReplicasUnavailable".into()))
    );
    // Progress after the deadline: the rollout completes.
    roll_to_completion(&deploys, &pods, "stuck", 2).await;
}

#[tokio::test]
async fn without_a_progress_deadline_there_is_no_progressing_condition() {
    let c = Cluster::start().await;
    let deploys: Api<Deployment> = c.api();
    let pods: Api<Pod> = c.api();
    let mut d = deployment("untracked", 2, "nginx:1.25");
    d.spec.as_mut().unwrap().progress_deadline_seconds = Some(i32::MAX);
    deploys.create(&PostParams::default(), &d).await.unwrap();
    eventually(30, "a finished rollout", || async {
        ready_all(&pods, "untracked").await;
        let d = deploys.get("untracked").await.unwrap();
        let s = d.status.clone().unwrap_or_default();
        if s.available_replicas == Some(2) && s.updated_replicas == Some(2) {
            Ok(())
        } else {
            Err(format!("{s:?}"))
        }
    })
    .await;
    // Paused and resumed: still nothing to report progress on.
    patch_spec(&deploys, "untracked", json!({"paused": true})).await;
    patch_spec(&deploys, "untracked", json!({"paused": false})).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let d = deploys.get("untracked").await.unwrap();
    assert_eq!(condition(&d, "Progressing"), None);
    assert_eq!(
        condition(&d, "Available"),
        Some(("True".into(), "MinimumReplicasAvailable".into()))
    );
}

async fn replica_sets_named(c: &Cluster, app: &str) -> String {
    let sets: Api<ReplicaSet> = c.api();
    let list = sets
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .unwrap();
    list.items[0].name_any()
}

#[tokio::test]
async fn scaling_mid_rollout_shares_replicas_proportionally_between_replica_sets() {
    let c = Cluster::start().await;
    let deploys: Api<Deployment> = c.api();
    let sets: Api<ReplicaSet> = c.api();
    let pods: Api<Pod> = c.api();
    let mut d = deployment("prop", 10, "nginx:1.25");
    d.spec.as_mut().unwrap().strategy = Some(
        serde_json::from_value(
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}}),
        )
        .unwrap(),
    );
    deploys.create(&PostParams::default(), &d).await.unwrap();
    roll_to_completion(&deploys, &pods, "prop", 10).await;

    // An image whose pods never get ready: the rollout stops at 10 - 2 old and 13 - 8 new.
    set_image(&deploys, "prop", "nginx:broken").await;
    wait_sets(
        &sets,
        "prop",
        &[(1, "nginx:1.25", 8), (2, "nginx:broken", 5)],
    )
    .await;

    // Scaled to 30 mid-rollout: the 20 more (33 allowed with the surge) go 8/13 and 5/13.
    patch_spec(&deploys, "prop", json!({"replicas": 30})).await;
    wait_sets(
        &sets,
        "prop",
        &[(1, "nginx:1.25", 20), (2, "nginx:broken", 13)],
    )
    .await;
    for rs in sets.list(&ListParams::default()).await.unwrap().items {
        let a = rs.annotations();
        assert_eq!(
            (
                a["deployment.kubernetes.io/desired-replicas"].as_str(),
                a["deployment.kubernetes.io/max-replicas"].as_str()
            ),
            ("30", "33"),
            "{}",
            rs.name_any()
        );
    }

    // And scaled down to 5: 33 - 8 = 25 to shed, the larger (older) set first: 20 * 8/33
    // rounds to 5 (15 fewer), 13 * 8/33 rounds to 3 (10 fewer).
    let names: Vec<String> = {
        let mut l = sets.list(&ListParams::default()).await.unwrap().items;
        l.sort_by_key(revision_of);
        l.iter().map(|r| r.name_any()).collect()
    };
    patch_spec(&deploys, "prop", json!({"replicas": 5})).await;
    let want = [
        format!("Scaled down replica set {} to 5 from 20", names[0]),
        format!("Scaled down replica set {} to 3 from 13", names[1]),
    ];
    eventually(30, "the proportional scale-down", || async {
        let got = events(&c.client, "default", "prop", "ScalingReplicaSet").await;
        if want.iter().all(|w| got.contains(w)) {
            Ok(())
        } else {
            Err(format!("{got:?}"))
        }
    })
    .await;
    // The rollout then goes on: maxUnavailable lets 2 of the old ready pods go for new ones.
    wait_sets(
        &sets,
        "prop",
        &[(1, "nginx:1.25", 3), (2, "nginx:broken", 5)],
    )
    .await;
}

#[tokio::test]
async fn old_replica_sets_beyond_the_history_limit_are_deleted_only_once_empty() {
    let c = Cluster::start().await;
    let deploys: Api<Deployment> = c.api();
    let sets: Api<ReplicaSet> = c.api();
    let pods: Api<Pod> = c.api();
    let mut d = deployment("hist", 1, "app:v1");
    d.spec.as_mut().unwrap().revision_history_limit = Some(1);
    deploys.create(&PostParams::default(), &d).await.unwrap();
    roll_to_completion(&deploys, &pods, "hist", 1).await;
    for image in ["app:v2", "app:v3"] {
        set_image(&deploys, "hist", image).await;
        roll_to_completion(&deploys, &pods, "hist", 1).await;
    }
    wait_sets(&sets, "hist", &[(2, "app:v2", 0), (3, "app:v3", 1)]).await;

    // Mid-rollout (v4 never ready, v3 still serving), pausing cleans up: with a limit of 0,
    // the empty v2 goes but v3 keeps its pod and its ReplicaSet.
    set_image(&deploys, "hist", "app:v4").await;
    wait_sets(
        &sets,
        "hist",
        &[(2, "app:v2", 0), (3, "app:v3", 1), (4, "app:v4", 1)],
    )
    .await;
    patch_spec(
        &deploys,
        "hist",
        json!({"paused": true, "revisionHistoryLimit": 0}),
    )
    .await;
    wait_sets(&sets, "hist", &[(3, "app:v3", 1), (4, "app:v4", 1)]).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        replica_sets(&sets, "hist").await.len(),
        2,
        "a ReplicaSet with replicas is never cleaned up"
    );

    // Resumed and finished: v3 is empty now and goes too.
    patch_spec(&deploys, "hist", json!({"paused": false})).await;
    roll_to_completion(&deploys, &pods, "hist", 1).await;
    wait_sets(&sets, "hist", &[(4, "app:v4", 1)]).await;
}

#[tokio::test]
async fn pods_count_as_available_only_after_min_ready_seconds() {
    let c = Cluster::start().await;
    let deploys: Api<Deployment> = c.api();
    let pods: Api<Pod> = c.api();
    let min_ready = 4;
    let mut d = deployment("slow", 2, "nginx:1.25");
    d.spec.as_mut().unwrap().min_ready_seconds = Some(min_ready);
    deploys.create(&PostParams::default(), &d).await.unwrap();
    let names: Vec<String> = eventually(20, "2 pods", || async {
        let l = pods
            .list(&ListParams::default().labels("app=slow"))
            .await
            .unwrap();
        if l.items.len() == 2 {
            Ok(l.items.iter().map(|p| p.name_any()).collect())
        } else {
            Err(format!("{}", l.items.len()))
        }
    })
    .await;
    let ready_at = std::time::Instant::now();
    for n in &names {
        make_ready(&pods, n).await;
    }
    // Ready at once, available only later; the server keeps whole seconds, hence the slack.
    let (ready_seen, available_seen) = eventually(30, "available replicas", || async {
        let s = deploys
            .get("slow")
            .await
            .unwrap()
            .status
            .unwrap_or_default();
        match (s.ready_replicas, s.available_replicas) {
            (Some(2), Some(2)) => Ok((s.ready_replicas, ready_at.elapsed())),
            (Some(2), available) => {
                let early = ready_at.elapsed() < std::time::Duration::from_secs(3);
                if early {
                    assert_eq!(
                        available.unwrap_or(0),
                        0,
                        "available before minReadySeconds"
                    );
                }
                Err(format!("ready 2, available {available:?}"))
            }
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(ready_seen, Some(2));
    assert!(
        available_seen >= std::time::Duration::from_secs(min_ready as u64 - 1),
        "available after {available_seen:?}, minReadySeconds is {min_ready}"
    );
    let d = deploys.get("slow").await.unwrap();
    assert_eq!(
        condition(&d, "Available"),
        Some(("True".into(), "MinimumReplicasAvailable".into()))
    );
}

/// What `kubectl rollout undo [--to-revision=N]` does (1.33): find the ReplicaSet of that
/// revision (0: the one before the newest) and JSON-patch its template and annotations into
/// the Deployment.
async fn kubectl_undo(
    client: &kube::Client,
    deploys: &Api<Deployment>,
    sets: &Api<ReplicaSet>,
    name: &str,
    to_revision: i64,
) -> Result<String, String> {
    const SKIP: &[&str] = &[
        "kubectl.kubernetes.io/last-applied-configuration",
        "deployment.kubernetes.io/revision",
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    ];
    let d = deploys.get(name).await.unwrap();
    if d.spec.as_ref().unwrap().paused == Some(true) {
        return Err("you cannot rollback a paused deployment".into());
    }
    let uid = d.uid().unwrap();
    let mut owned: Vec<ReplicaSet> = sets
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|r| r.owner_references().iter().any(|o| o.uid == uid))
        .collect();
    owned.sort_by_key(revision_of);
    let rs = if to_revision == 0 {
        owned
            .iter()
            .rev()
            .nth(1)
            .ok_or("no rollout history found")?
    } else {
        owned
            .iter()
            .find(|r| revision_of(r) == to_revision)
            .ok_or(format!(
                "unable to find specified revision {to_revision} in history"
            ))?
    };
    let mut template = rs.spec.as_ref().unwrap().template.clone().unwrap();
    template
        .metadata
        .as_mut()
        .unwrap()
        .labels
        .as_mut()
        .unwrap()
        .remove("pod-template-hash");
    let mut annotations: std::collections::BTreeMap<String, String> = d
        .annotations()
        .iter()
        .filter(|(k, _)| SKIP.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in rs.annotations() {
        if !SKIP.contains(&k.as_str()) {
            annotations.insert(k.clone(), v.clone());
        }
    }
    let ops = json!([
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]);
    let req = http::Request::patch(format!(
        "/apis/apps/v1/namespaces/default/deployments/{name}"
    ))
    .header("Content-Type", "application/json-patch+json")
    .body(serde_json::to_vec(&ops).unwrap())
    .unwrap();
    client
        .request::<Deployment>(req)
        .await
        .map_err(|e| format!("failed restoring revision {to_revision}: {e}"))?;
    Ok("rolled back".into())
}

fn history_of(sets: &[ReplicaSet], image: &str) -> (String, String) {
    let rs = sets
        .iter()
        .find(|r| {
            r.spec
                .as_ref()
                .unwrap()
                .template
                .as_ref()
                .unwrap()
                .spec
                .as_ref()
                .unwrap()
                .containers[0]
                .image
                .as_deref()
                == Some(image)
        })
        .unwrap();
    let a = rs.annotations();
    (
        a.get("deployment.kubernetes.io/revision")
            .cloned()
            .unwrap_or_default(),
        a.get("deployment.kubernetes.io/revision-history")
            .cloned()
            .unwrap_or_default(),
    )
}

#[tokio::test]
async fn undo_reuses_the_old_replica_set_as_the_newest_revision() {
    let c = Cluster::start().await;
    let deploys: Api<Deployment> = c.api();
    let sets: Api<ReplicaSet> = c.api();
    let pods: Api<Pod> = c.api();
    deploys
        .create(&PostParams::default(), &deployment("undo", 1, "app:v1"))
        .await
        .unwrap();
    roll_to_completion(&deploys, &pods, "undo", 1).await;
    for image in ["app:v2", "app:v3"] {
        set_image(&deploys, "undo", image).await;
        roll_to_completion(&deploys, &pods, "undo", 1).await;
    }

    // kubectl rollout undo --to-revision=1: v1's ReplicaSet becomes revision 4.
    kubectl_undo(&c.client, &deploys, &sets, "undo", 1)
        .await
        .unwrap();
    roll_to_completion(&deploys, &pods, "undo", 1).await;
    wait_sets(
        &sets,
        "undo",
        &[(2, "app:v2", 0), (3, "app:v3", 0), (4, "app:v1", 1)],
    )
    .await;
    let all = sets.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(history_of(&all, "app:v1"), ("4".into(), "1".into()));
    let d = deploys.get("undo").await.unwrap();
    assert_eq!(d.annotations()["deployment.kubernetes.io/revision"], "4");

    // kubectl rollout undo: back to the previous revision, 3 (v3), now 5.
    kubectl_undo(&c.client, &deploys, &sets, "undo", 0)
        .await
        .unwrap();
    roll_to_completion(&deploys, &pods, "undo", 1).await;
    wait_sets(
        &sets,
        "undo",
        &[(2, "app:v2", 0), (4, "app:v1", 0), (5, "app:v3", 1)],
    )
    .await;
    let all = sets.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(history_of(&all, "app:v3"), ("5".into(), "3".into()));

    // A revision that does not exist: kubectl refuses before touching anything.
    assert_eq!(
        kubectl_undo(&c.client, &deploys, &sets, "undo", 9).await,
        Err("unable to find specified revision 9 in history".into())
    );

    // The server-side request (the old rollback subresource's annotation) for a missing
    // revision fails with a warning and is cleared; the template stays.
    let rollback_to = |rev: &str| json!({"metadata": {"annotations": {"deprecated.deployment.rollback.to": rev}}});
    deploys
        .patch(
            "undo",
            &PatchParams::default(),
            &Patch::Merge(rollback_to("9")),
        )
        .await
        .unwrap();
    eventually(20, "the rollback to fail", || async {
        let m = events(
            &c.client,
            "default",
            "undo",
            "DeploymentRollbackRevisionNotFound",
        )
        .await;
        let d = deploys.get("undo").await.unwrap();
        let cleared = !d
            .annotations()
            .contains_key("deprecated.deployment.rollback.to");
        if m == ["Unable to find the revision to rollback to."] && cleared {
            Ok(())
        } else {
            Err(format!("{m:?}, cleared {cleared}"))
        }
    })
    .await;
    assert_eq!(
        replica_sets(&sets, "undo").await.last().unwrap().1,
        "app:v3"
    );

    // ... and for revision 4 (v1) it rolls back: v1 becomes revision 6, history "1,4".
    deploys
        .patch(
            "undo",
            &PatchParams::default(),
            &Patch::Merge(rollback_to("4")),
        )
        .await
        .unwrap();
    roll_to_completion(&deploys, &pods, "undo", 1).await;
    wait_sets(
        &sets,
        "undo",
        &[(2, "app:v2", 0), (5, "app:v3", 0), (6, "app:v1", 1)],
    )
    .await;
    let all = sets.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(history_of(&all, "app:v1"), ("6".into(), "1,4".into()));
    assert_eq!(
        events(&c.client, "default", "undo", "DeploymentRollback").await,
        vec!["Rolled back deployment \"undo\" to revision 4".to_string()]
    );

    // Rolling back to the template already in use changes nothing but says so.
    deploys
        .patch(
            "undo",
            &PatchParams::default(),
            &Patch::Merge(rollback_to("6")),
        )
        .await
        .unwrap();
    eventually(20, "the unchanged-template warning", || async {
        let m = events(
            &c.client,
            "default",
            "undo",
            "DeploymentRollbackTemplateUnchanged",
        )
        .await;
        if m == ["The rollback revision contains the same template as current deployment \"undo\""]
        {
            Ok(())
        } else {
            Err(format!("{m:?}"))
        }
    })
    .await;
}

#[tokio::test]
async fn a_paused_deployment_neither_rolls_out_nor_times_out_and_resumes() {
    let c = Cluster::start().await;
    let deploys: Api<Deployment> = c.api();
    let sets: Api<ReplicaSet> = c.api();
    let pods: Api<Pod> = c.api();
    let mut d = deployment("pause", 2, "app:v1");
    d.spec.as_mut().unwrap().progress_deadline_seconds = Some(2);
    deploys.create(&PostParams::default(), &d).await.unwrap();
    roll_to_completion(&deploys, &pods, "pause", 2).await;

    patch_spec(&deploys, "pause", json!({"paused": true})).await;
    wait_progressing(&deploys, "pause", "Unknown", "DeploymentPaused").await;
    set_image(&deploys, "pause", "app:v2").await;
    // Scaling still applies while paused, to the current ReplicaSet.
    patch_spec(&deploys, "pause", json!({"replicas": 3})).await;
    wait_sets(&sets, "pause", &[(1, "app:v1", 3)]).await;
    // Well past the 2 s deadline: still paused, never ProgressDeadlineExceeded.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let d = deploys.get("pause").await.unwrap();
    assert_eq!(
        condition(&d, "Progressing"),
        Some(("Unknown".into(), "DeploymentPaused".into()))
    );
    assert_eq!(progressing_message(&d), "Deployment is paused");
    assert_eq!(
        replica_sets(&sets, "pause").await.len(),
        1,
        "no rollout while paused"
    );

    patch_spec(&deploys, "pause", json!({"paused": false})).await;
    roll_to_completion(&deploys, &pods, "pause", 3).await;
    wait_sets(&sets, "pause", &[(1, "app:v1", 0), (2, "app:v2", 3)]).await;
}
