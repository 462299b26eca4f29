//! StatefulSet updates, revisions and ordering against a real API server (the test plays the
//! kubelet by marking pods Ready).

mod common;

use common::{Cluster, eventually, make_ready};
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

fn stateful_set(name: &str, replicas: i32, extra_spec: Value) -> StatefulSet {
    let mut spec = json!({
        "serviceName": name, "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}},
                     "spec": {"containers": [{"name": "c", "image": "app:1"}]}},
    });
    for (k, v) in extra_spec.as_object().unwrap() {
        spec[k] = v.clone();
    }
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
}

async fn set_image(sets: &Api<StatefulSet>, name: &str, image: &str) {
    sets.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(
            json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}}),
        ),
    )
    .await
    .unwrap();
}

fn is_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn image(p: &Pod) -> String {
    p.spec.as_ref().unwrap().containers[0]
        .image
        .clone()
        .unwrap_or_default()
}

/// Pods not being deleted, as (name, image) sorted by name.
async fn images(pods: &Api<Pod>, app: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = pods
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| (p.name_any(), image(&p)))
        .collect();
    v.sort();
    v
}

/// Play the kubelet until the set's live pods are exactly `want` (name, image), all Ready.
async fn settle(pods: &Api<Pod>, app: &str, want: &[(&str, &str)]) {
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(n, i)| (n.to_string(), i.to_string()))
        .collect();
    eventually(60, &format!("{want:?}"), || async {
        let list = pods
            .list(&ListParams::default().labels(&format!("app={app}")))
            .await
            .unwrap()
            .items;
        // One list for both checks: a pod created between two lists must be seen not Ready.
        let live: Vec<&Pod> = list
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        let mut all_ready = true;
        for p in &live {
            if !is_ready(p) {
                all_ready = false;
                make_ready(pods, &p.name_any()).await;
            }
        }
        let mut have: Vec<(String, String)> =
            live.iter().map(|p| (p.name_any(), image(p))).collect();
        have.sort();
        if have == want && all_ready {
            Ok(())
        } else {
            Err(format!("{have:?}"))
        }
    })
    .await;
}

async fn status(sets: &Api<StatefulSet>, name: &str) -> StatefulSetStatus {
    sets.get(name).await.unwrap().status.unwrap_or_default()
}

/// Wait for the status to satisfy `ok`.
async fn wait_status(
    sets: &Api<StatefulSet>,
    name: &str,
    what: &str,
    ok: impl Fn(&StatefulSetStatus) -> bool,
) -> StatefulSetStatus {
    eventually(30, what, || async {
        let s = status(sets, name).await;
        if ok(&s) { Ok(s) } else { Err(format!("{s:?}")) }
    })
    .await
}

#[tokio::test]
async fn a_partitioned_rolling_update_keeps_and_recreates_lower_ordinals_at_the_current_revision() {
    let c = Cluster::start().await;
    let sets: Api<StatefulSet> = c.api();
    let pods: Api<Pod> = c.api();
    let spec =
        json!({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}});
    sets.create(&PostParams::default(), &stateful_set("web", 3, spec))
        .await
        .unwrap();
    settle(
        &pods,
        "web",
        &[("web-0", "app:1"), ("web-1", "app:1"), ("web-2", "app:1")],
    )
    .await;
    let first = status(&sets, "web").await.current_revision.unwrap();
    assert!(first.starts_with("web-"), "{first}");
    assert_eq!(
        pods.get("web-0").await.unwrap().labels()["controller-revision-hash"],
        first,
        "pods carry the revision's full name"
    );

    set_image(&sets, "web", "app:2").await;
    settle(
        &pods,
        "web",
        &[("web-0", "app:1"), ("web-1", "app:1"), ("web-2", "app:2")],
    )
    .await;
    let s = wait_status(&sets, "web", "partitioned status", |s| {
        s.updated_replicas == Some(1) && s.current_replicas == Some(2)
    })
    .await;
    let update = s.update_revision.clone().unwrap();
    assert_eq!(s.current_revision.as_deref(), Some(first.as_str()));
    assert_ne!(update, first);
    assert_eq!(
        pods.get("web-2").await.unwrap().labels()["controller-revision-hash"],
        update
    );

    // A deleted pod below the partition comes back at the current revision.
    let old_uid = pods.get("web-0").await.unwrap().uid();
    pods.delete("web-0", &DeleteParams::default())
        .await
        .unwrap();
    eventually(30, "web-0 recreated", || async {
        match pods.get_opt("web-0").await.unwrap() {
            Some(p) if p.uid() != old_uid && p.metadata.deletion_timestamp.is_none() => Ok(p),
            _ => Err("not yet".to_string()),
        }
    })
    .await;
    let p = pods.get("web-0").await.unwrap();
    assert_eq!(image(&p), "app:1");
    assert_eq!(p.labels()["controller-revision-hash"], first);

    // Lowering the partition finishes the rollout, and only then does currentRevision move.
    sets.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}})),
    )
    .await
    .unwrap();
    settle(
        &pods,
        "web",
        &[("web-0", "app:2"), ("web-1", "app:2"), ("web-2", "app:2")],
    )
    .await;
    wait_status(&sets, "web", "rollout complete", |s| {
        s.current_revision.as_deref() == Some(update.as_str())
            && s.current_replicas == Some(3)
            && s.updated_replicas == Some(3)
    })
    .await;
}

#[tokio::test]
async fn on_delete_updates_only_deleted_pods_and_counts_them_as_updated() {
    let c = Cluster::start().await;
    let sets: Api<StatefulSet> = c.api();
    let pods: Api<Pod> = c.api();
    let spec = json!({"updateStrategy": {"type": "OnDelete"}});
    sets.create(&PostParams::default(), &stateful_set("db", 2, spec))
        .await
        .unwrap();
    settle(&pods, "db", &[("db-0", "app:1"), ("db-1", "app:1")]).await;
    set_image(&sets, "db", "app:2").await;
    let s = wait_status(&sets, "db", "a new update revision", |s| {
        s.update_revision != s.current_revision && s.observed_generation == Some(2)
    })
    .await;
    assert_eq!((s.updated_replicas, s.current_replicas), (Some(0), Some(2)));
    assert_eq!(
        images(&pods, "db").await,
        [
            ("db-0".to_string(), "app:1".to_string()),
            ("db-1".to_string(), "app:1".to_string())
        ]
    );

    pods.delete("db-1", &DeleteParams::default()).await.unwrap();
    settle(&pods, "db", &[("db-0", "app:1"), ("db-1", "app:2")]).await;
    wait_status(&sets, "db", "one updated", |s| {
        s.updated_replicas == Some(1)
            && s.current_replicas == Some(1)
            && s.ready_replicas == Some(2)
            && s.current_revision != s.update_revision
    })
    .await;
}

async fn revision_numbers(revs: &Api<ControllerRevision>) -> Vec<(String, i64)> {
    let mut v: Vec<(String, i64)> = revs
        .list(&ListParams::default().labels("app=undo"))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|r| (r.name_any(), r.revision))
        .collect();
    v.sort_by_key(|(_, n)| *n);
    v
}

#[tokio::test]
async fn rolling_back_reuses_the_old_revision_and_renumbers_it_so_undo_toggles() {
    let c = Cluster::start().await;
    let sets: Api<StatefulSet> = c.api();
    let pods: Api<Pod> = c.api();
    let revs: Api<ControllerRevision> = c.api();
    sets.create(&PostParams::default(), &stateful_set("undo", 1, json!({})))
        .await
        .unwrap();
    settle(&pods, "undo", &[("undo-0", "app:1")]).await;
    let v1 = status(&sets, "undo").await.update_revision.unwrap();
    set_image(&sets, "undo", "app:2").await;
    settle(&pods, "undo", &[("undo-0", "app:2")]).await;
    let v2 = wait_status(&sets, "undo", "v2", |s| {
        s.update_revision.as_ref() != Some(&v1)
    })
    .await
    .update_revision
    .unwrap();
    assert_eq!(
        revision_numbers(&revs).await,
        [(v1.clone(), 1), (v2.clone(), 2)]
    );

    // `kubectl rollout undo`: the template goes back to revision 1's.
    set_image(&sets, "undo", "app:1").await;
    settle(&pods, "undo", &[("undo-0", "app:1")]).await;
    eventually(20, "v1 renumbered 3", || async {
        let n = revision_numbers(&revs).await;
        if n == [(v2.clone(), 2), (v1.clone(), 3)] {
            Ok(())
        } else {
            Err(format!("{n:?}"))
        }
    })
    .await;
    assert_eq!(
        pods.get("undo-0").await.unwrap().labels()["controller-revision-hash"],
        v1
    );
    // And undo again: back to the template of v2, renumbered 4.
    set_image(&sets, "undo", "app:2").await;
    settle(&pods, "undo", &[("undo-0", "app:2")]).await;
    eventually(20, "v2 renumbered 4", || async {
        let n = revision_numbers(&revs).await;
        if n == [(v1.clone(), 3), (v2.clone(), 4)] {
            Ok(())
        } else {
            Err(format!("{n:?}"))
        }
    })
    .await;
}

#[tokio::test]
async fn history_is_pruned_to_the_limit_but_keeps_revisions_in_use() {
    let c = Cluster::start().await;
    let sets: Api<StatefulSet> = c.api();
    let pods: Api<Pod> = c.api();
    let revs: Api<ControllerRevision> = c.api();
    // Only matchExpressions: the revisions are still found by the template's labels.
    let mut set = stateful_set(
        "hist",
        2,
        json!({"revisionHistoryLimit": 1,
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}}),
    );
    set.spec.as_mut().unwrap().selector = serde_json::from_value(
        json!({"matchExpressions": [{"key": "app", "operator": "In", "values": ["hist"]}]}),
    )
    .unwrap();
    sets.create(&PostParams::default(), &set).await.unwrap();
    settle(&pods, "hist", &[("hist-0", "app:1"), ("hist-1", "app:1")]).await;
    for image in ["app:2", "app:3", "app:4"] {
        set_image(&sets, "hist", image).await;
        settle(&pods, "hist", &[("hist-0", "app:1"), ("hist-1", image)]).await;
    }
    // hist-0 still runs revision 1 (the current revision) and hist-1 revision 4; of the
    // unused 2 and 3 the limit keeps only the newer.
    eventually(20, "pruned history", || async {
        let mut n: Vec<i64> = revs
            .list(&ListParams::default().labels("app=hist"))
            .await
            .unwrap()
            .items
            .iter()
            .map(|r| r.revision)
            .collect();
        n.sort();
        if n == [1, 3, 4] {
            Ok(())
        } else {
            Err(format!("{n:?}"))
        }
    })
    .await;
}

#[tokio::test]
async fn ordered_scale_down_waits_for_every_lower_ordinal_to_be_ready() {
    let c = Cluster::start().await;
    let sets: Api<StatefulSet> = c.api();
    let pods: Api<Pod> = c.api();
    sets.create(&PostParams::default(), &stateful_set("ord", 3, json!({})))
        .await
        .unwrap();
    settle(
        &pods,
        "ord",
        &[("ord-0", "app:1"), ("ord-1", "app:1"), ("ord-2", "app:1")],
    )
    .await;
    // ord-0 stops being ready; scaling down to 1 must wait for it.
    pods.patch_status(
        "ord-0",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}})),
    )
    .await
    .unwrap();
    sets.patch(
        "ord",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .unwrap();
    wait_status(&sets, "ord", "the scale-down observed", |s| {
        s.observed_generation == Some(2) && s.ready_replicas == Some(2)
    })
    .await;
    assert_eq!(
        images(&pods, "ord").await.len(),
        3,
        "nothing is deleted while ord-0 is not ready"
    );
    make_ready(&pods, "ord-0").await;
    settle(&pods, "ord", &[("ord-0", "app:1")]).await;
}

#[tokio::test]
async fn a_rolling_update_waits_min_ready_seconds_between_pods() {
    let c = Cluster::start().await;
    let sets: Api<StatefulSet> = c.api();
    let pods: Api<Pod> = c.api();
    sets.create(
        &PostParams::default(),
        &stateful_set("slow", 2, json!({"minReadySeconds": 5})),
    )
    .await
    .unwrap();
    settle(&pods, "slow", &[("slow-0", "app:1"), ("slow-1", "app:1")]).await;
    wait_status(&sets, "slow", "both available", |s| {
        s.available_replicas == Some(2)
    })
    .await;
    set_image(&sets, "slow", "app:2").await;
    eventually(30, "slow-1 updated", || async {
        match pods.get_opt("slow-1").await.unwrap() {
            Some(p) if image(&p) == "app:2" && p.metadata.deletion_timestamp.is_none() => Ok(()),
            _ => Err("not yet".to_string()),
        }
    })
    .await;
    make_ready(&pods, "slow-1").await;
    wait_status(&sets, "slow", "slow-1 ready but not yet available", |s| {
        s.ready_replicas == Some(2) && s.available_replicas == Some(1)
    })
    .await;
    assert_eq!(
        image(&pods.get("slow-0").await.unwrap()),
        "app:1",
        "slow-0 waits until slow-1 has been ready for minReadySeconds"
    );
    settle(&pods, "slow", &[("slow-0", "app:2"), ("slow-1", "app:2")]).await;
}

#[tokio::test]
async fn ordinals_start_at_spec_ordinals_start() {
    let c = Cluster::start().await;
    let sets: Api<StatefulSet> = c.api();
    let pods: Api<Pod> = c.api();
    sets.create(
        &PostParams::default(),
        &stateful_set("off", 2, json!({"ordinals": {"start": 5}})),
    )
    .await
    .unwrap();
    settle(&pods, "off", &[("off-5", "app:1"), ("off-6", "app:1")]).await;
    assert_eq!(
        pods.get("off-5").await.unwrap().labels()["apps.kubernetes.io/pod-index"],
        "5"
    );
    sets.patch(
        "off",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"ordinals": {"start": 6}}})),
    )
    .await
    .unwrap();
    settle(&pods, "off", &[("off-6", "app:1"), ("off-7", "app:1")]).await;
}
