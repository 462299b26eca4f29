//! Namespace lifecycle through the controllers: every namespace gets its `default`
//! ServiceAccount and `kube-root-ca.crt`, and a deleted namespace is emptied and removed.

mod common;

use common::{Cluster, eventually};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

#[tokio::test]
async fn namespaces_get_an_account_and_the_root_ca_and_are_emptied_when_deleted() {
    let c = Cluster::start().await;
    let namespaces: Api<Namespace> = Api::all(c.client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "team-a"}})).unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();

    let sas: Api<ServiceAccount> = Api::namespaced(c.client.clone(), "team-a");
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "team-a");
    eventually(10, "the default ServiceAccount", || async {
        sas.get_opt("default")
            .await
            .map_err(|e| e.to_string())?
            .ok_or("missing".to_string())
    })
    .await;
    let ca = eventually(10, "kube-root-ca.crt", || async {
        cms.get_opt("kube-root-ca.crt")
            .await
            .map_err(|e| e.to_string())?
            .ok_or("missing".to_string())
    })
    .await;
    let pem = ca
        .data
        .unwrap_or_default()
        .remove("ca.crt")
        .unwrap_or_default();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");

    // A deleted account comes back.
    sas.delete("default", &DeleteParams::default())
        .await
        .unwrap();
    eventually(10, "the default ServiceAccount again", || async {
        match sas.get_opt("default").await.map_err(|e| e.to_string())? {
            Some(sa) if sa.metadata.deletion_timestamp.is_none() => Ok(()),
            _ => Err("missing".to_string()),
        }
    })
    .await;

    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "settings"}, "data": {"a": "b"}}))
            .unwrap();
    cms.create(&PostParams::default(), &cm).await.unwrap();
    namespaces
        .delete("team-a", &DeleteParams::default())
        .await
        .unwrap();
    eventually(20, "the namespace to disappear", || async {
        match namespaces
            .get_opt("team-a")
            .await
            .map_err(|e| e.to_string())?
        {
            None => Ok(()),
            Some(ns) => Err(format!("still there: {:?}", ns.status)),
        }
    })
    .await;
    // Recreating the name starts empty again.
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    assert!(cms.get_opt("settings").await.unwrap().is_none());
}

/// The namespace's conditions as (type, status, reason, message), sorted by type.
fn conditions_of(ns: &Namespace) -> Vec<(String, String, String, String)> {
    let mut c: Vec<_> = ns
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|c| {
            (
                c.type_,
                c.status,
                c.reason.unwrap_or_default(),
                c.message.unwrap_or_default(),
            )
        })
        .collect();
    c.sort();
    c
}

#[tokio::test]
async fn a_namespace_stuck_on_a_finalizer_says_so_in_its_conditions() {
    let c = Cluster::start().await;
    let namespaces: Api<Namespace> = Api::all(c.client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "team-b"}})).unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(c.client.clone(), "team-b");
    let held: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "held", "finalizers": ["example.com/hold"]}
    }))
    .unwrap();
    cms.create(&PostParams::default(), &held).await.unwrap();
    namespaces
        .delete("team-b", &DeleteParams::default())
        .await
        .unwrap();

    let row = |t: &str, s: &str, r: &str, m: &str| {
        (t.to_string(), s.to_string(), r.to_string(), m.to_string())
    };
    let want = vec![
        row(
            "NamespaceContentRemaining",
            "True",
            "SomeResourcesRemain",
            "Some resources are remaining: configmaps. has 1 resource instances",
        ),
        row(
            "NamespaceDeletionContentFailure",
            "False",
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization",
        ),
        row(
            "NamespaceDeletionDiscoveryFailure",
            "False",
            "ResourcesDiscovered",
            "All resources successfully discovered",
        ),
        row(
            "NamespaceDeletionGroupVersionParsingFailure",
            "False",
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed",
        ),
        row(
            "NamespaceFinalizersRemaining",
            "True",
            "SomeFinalizerRemain",
            "Some finalizers are remaining: example.com/hold in 1 resource instances",
        ),
    ];
    eventually(20, "the terminating conditions", || async {
        let got = conditions_of(&namespaces.get("team-b").await.unwrap());
        if got == want {
            Ok(())
        } else {
            Err(format!("{got:#?}"))
        }
    })
    .await;
    let got = namespaces.get("team-b").await.unwrap();
    assert_eq!(
        got.status.and_then(|s| s.phase).as_deref(),
        Some("Terminating")
    );

    // The finalizer's owner lets go: the namespace is emptied and goes away.
    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    eventually(20, "the namespace to disappear", || async {
        match namespaces
            .get_opt("team-b")
            .await
            .map_err(|e| e.to_string())?
        {
            None => Ok(()),
            Some(ns) => Err(format!("still there: {:?}", ns.status)),
        }
    })
    .await;
}
