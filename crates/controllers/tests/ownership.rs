//! Claiming orphans against a real API server: an owner read from a stale cache must not adopt
//! once it has been deleted or replaced by a namesake (upstream's RecheckDeletionTimestamp).

mod common;

use common::Cluster;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, ResourceExt};
use rkube_controllers::ownership::claim;
use serde_json::json;
use std::sync::Arc;

fn config_map(name: &str, extra: serde_json::Value) -> ConfigMap {
    let mut meta = json!({"name": name, "labels": {"app": "claimed"}});
    if let Some(m) = extra.as_object() {
        for (k, v) in m {
            meta[k] = v.clone();
        }
    }
    serde_json::from_value(json!({"metadata": meta})).unwrap()
}

/// Claim the orphan `child` for `owner` (as the caller last saw it).
async fn claim_orphan(
    api: &Api<ConfigMap>,
    owner: &ConfigMap,
    child: &str,
) -> anyhow::Result<Vec<Arc<ConfigMap>>> {
    let orphan = api.get(child).await.unwrap();
    claim(
        owner,
        |l| l.get("app").map(String::as_str) == Some("claimed"),
        vec![Arc::new(orphan)],
        api,
    )
    .await
}

#[tokio::test]
async fn a_stale_owner_does_not_adopt_once_replaced_or_deleted() {
    let c = Cluster::start().await;
    let api: Api<ConfigMap> = c.api();
    let pp = PostParams::default();
    api.create(&pp, &config_map("child", json!({})))
        .await
        .unwrap();

    // Replaced by a namesake: the cached copy's UID is gone.
    let stale = api
        .create(&pp, &config_map("owner", json!({})))
        .await
        .unwrap();
    api.delete("owner", &DeleteParams::default()).await.unwrap();
    api.create(&pp, &config_map("owner", json!({})))
        .await
        .unwrap();
    let err = claim_orphan(&api, &stale, "child").await.unwrap_err();
    assert!(format!("{err:#}").contains("is gone"), "{err:#}");
    assert!(
        api.get("child")
            .await
            .unwrap()
            .owner_references()
            .is_empty()
    );

    // Being deleted (held by a finalizer), though the cached copy does not show it yet.
    let stale = api
        .create(
            &pp,
            &config_map("held", json!({"finalizers": ["example.com/hold"]})),
        )
        .await
        .unwrap();
    api.delete("held", &DeleteParams::default()).await.unwrap();
    let err = claim_orphan(&api, &stale, "child").await.unwrap_err();
    assert!(
        format!("{err:#}").contains("has just been deleted"),
        "{err:#}"
    );
    assert!(
        api.get("child")
            .await
            .unwrap()
            .owner_references()
            .is_empty()
    );

    // The live owner adopts.
    let live = api.get("owner").await.unwrap();
    let claimed = claim_orphan(&api, &live, "child").await.unwrap();
    assert_eq!(claimed.len(), 1);
    let refs = api.get("child").await.unwrap().owner_references().to_vec();
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0].uid, live.uid().unwrap());

    api.patch(
        "held",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
}
