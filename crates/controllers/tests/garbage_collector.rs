//! The garbage collector against a real API server: background, orphan and foreground
//! propagation, and dependents of owners that never existed.

mod common;

use common::{Cluster, eventually};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{DeleteParams, PostParams, PropagationPolicy};
use kube::{Api, ResourceExt};
use serde_json::json;

async fn owner_and_dependent(cms: &Api<ConfigMap>, owner: &str, block: bool) -> String {
    let o: ConfigMap = serde_json::from_value(json!({"metadata": {"name": owner}})).unwrap();
    let o = cms.create(&PostParams::default(), &o).await.unwrap();
    let uid = o.uid().unwrap();
    let d: ConfigMap = serde_json::from_value(json!({"metadata": {"name": format!("{owner}-dep"),
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": owner, "uid": uid, "blockOwnerDeletion": block}]}}))
    .unwrap();
    cms.create(&PostParams::default(), &d).await.unwrap();
    uid
}

async fn gone(cms: &Api<ConfigMap>, name: &str) {
    eventually(20, &format!("{name} to be deleted"), || async {
        match cms.get_opt(name).await.map_err(|e| e.to_string())? {
            None => Ok(()),
            Some(cm) => Err(format!("still there: {:?}", cm.metadata)),
        }
    })
    .await
}

#[tokio::test]
async fn dependents_follow_their_owner_by_propagation_policy() {
    let c = Cluster::start().await;
    let cms: Api<ConfigMap> = c.api();

    // Background (the default): the owner goes at once, the dependent after it.
    owner_and_dependent(&cms, "bg", false).await;
    cms.delete("bg", &DeleteParams::default()).await.unwrap();
    gone(&cms, "bg-dep").await;

    // Orphan: the dependent stays, without the reference.
    owner_and_dependent(&cms, "orph", false).await;
    cms.delete(
        "orph",
        &DeleteParams {
            propagation_policy: Some(PropagationPolicy::Orphan),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    gone(&cms, "orph").await;
    let dep = cms.get("orph-dep").await.unwrap();
    assert!(
        dep.metadata.owner_references.is_none(),
        "{:?}",
        dep.metadata.owner_references
    );

    // Foreground: the owner waits (finalizer foregroundDeletion) until the blocking dependent
    // is gone.
    owner_and_dependent(&cms, "fg", true).await;
    let pending = cms
        .delete(
            "fg",
            &DeleteParams {
                propagation_policy: Some(PropagationPolicy::Foreground),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let owner = pending.left().expect("the owner waits for its dependents");
    assert_eq!(owner.finalizers(), ["foregroundDeletion"]);
    gone(&cms, "fg-dep").await;
    gone(&cms, "fg").await;
}

#[tokio::test]
async fn an_object_whose_owner_does_not_exist_is_deleted() {
    let c = Cluster::start().await;
    let cms: Api<ConfigMap> = c.api();
    let d: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "stray",
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "never", "uid": "00000000-0000-0000-0000-000000000001"}]}}))
    .unwrap();
    cms.create(&PostParams::default(), &d).await.unwrap();
    // One with a live owner stays.
    owner_and_dependent(&cms, "alive", false).await;
    gone(&cms, "stray").await;
    assert!(cms.get_opt("alive-dep").await.unwrap().is_some());
}

/// A dependent of two owners, `first` blocking its deletion.
async fn shared_dependent(cms: &Api<ConfigMap>, first: &str, second: &str, dep: &str) {
    let mut refs = Vec::new();
    for (owner, block) in [(first, true), (second, false)] {
        let o: ConfigMap = serde_json::from_value(json!({"metadata": {"name": owner}})).unwrap();
        let uid = cms
            .create(&PostParams::default(), &o)
            .await
            .unwrap()
            .uid()
            .unwrap();
        refs.push(json!({"apiVersion": "v1", "kind": "ConfigMap", "name": owner, "uid": uid, "blockOwnerDeletion": block}));
    }
    let d: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": dep, "ownerReferences": refs}}))
            .unwrap();
    cms.create(&PostParams::default(), &d).await.unwrap();
}

/// The names of the owners `name` refers to.
async fn owner_names(cms: &Api<ConfigMap>, name: &str) -> Vec<String> {
    cms.get(name)
        .await
        .unwrap()
        .metadata
        .owner_references
        .unwrap_or_default()
        .into_iter()
        .map(|o| o.name)
        .collect()
}

#[tokio::test]
async fn a_dependent_with_another_live_owner_survives_its_owners_deletion() {
    let c = Cluster::start().await;
    let cms: Api<ConfigMap> = c.api();

    // Foreground: the owner waits only until the dependent stops referring to it; the
    // dependent stays, owned by the other owner.
    shared_dependent(&cms, "fg-a", "fg-b", "fg-shared").await;
    cms.delete(
        "fg-a",
        &DeleteParams {
            propagation_policy: Some(PropagationPolicy::Foreground),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    gone(&cms, "fg-a").await;
    let dep = cms.get_opt("fg-shared").await.unwrap();
    assert!(
        dep.as_ref()
            .is_some_and(|d| d.metadata.deletion_timestamp.is_none()),
        "the dependent of a live owner was deleted: {dep:?}"
    );
    assert_eq!(owner_names(&cms, "fg-shared").await, ["fg-b"]);

    // Background: the dangling reference goes, the dependent stays.
    shared_dependent(&cms, "bg-a", "bg-b", "bg-shared").await;
    cms.delete("bg-a", &DeleteParams::default()).await.unwrap();
    eventually(20, "the dangling reference to go", || async {
        let owners = owner_names(&cms, "bg-shared").await;
        if owners == ["bg-b"] {
            Ok(())
        } else {
            Err(format!("{owners:?}"))
        }
    })
    .await;
    assert!(
        cms.get("bg-shared")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_none()
    );
}
