//! StatefulSet and DaemonSet controllers against a real API server (nodes are plain Node
//! objects; the test plays the kubelet by marking pods Ready).

mod common;

use common::{Cluster, eventually, make_ready};
use k8s_openapi::api::apps::v1::{DaemonSet, StatefulSet};
use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

async fn names(pods: &Api<Pod>, selector: &str) -> Vec<String> {
    let mut n: Vec<String> = pods
        .list(&ListParams::default().labels(selector))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| p.name_any())
        .collect();
    n.sort();
    n
}

#[tokio::test]
async fn a_statefulset_creates_ordered_pods_with_claims_and_scales_down_from_the_top() {
    let c = Cluster::start().await;
    let sets: Api<StatefulSet> = c.api();
    let pods: Api<Pod> = c.api();
    let pvcs: Api<PersistentVolumeClaim> = c.api();
    let sts: StatefulSet = serde_json::from_value(json!({
        "metadata": {"name": "db"},
        "spec": {"serviceName": "db", "replicas": 2, "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "c", "image": "postgres:16"}]}},
                 "volumeClaimTemplates": [{"metadata": {"name": "data"},
                     "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}
    }))
    .unwrap();
    sets.create(&PostParams::default(), &sts).await.unwrap();
    eventually(10, "db-0", || async {
        let n = names(&pods, "app=db").await;
        if n == ["db-0"] {
            Ok(())
        } else {
            Err(format!("{n:?}"))
        }
    })
    .await;
    let p = pods.get("db-0").await.unwrap();
    let spec = p.spec.clone().unwrap();
    assert_eq!(
        (spec.hostname.as_deref(), spec.subdomain.as_deref()),
        (Some("db-0"), Some("db"))
    );
    assert_eq!(p.labels()["statefulset.kubernetes.io/pod-name"], "db-0");
    let claim = spec
        .volumes
        .unwrap()
        .into_iter()
        .find(|v| v.name == "data")
        .unwrap();
    assert_eq!(
        claim.persistent_volume_claim.unwrap().claim_name,
        "data-db-0"
    );
    assert!(pvcs.get_opt("data-db-0").await.unwrap().is_some());
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        names(&pods, "app=db").await,
        ["db-0"],
        "db-1 waits for db-0 to be Ready"
    );

    make_ready(&pods, "db-0").await;
    eventually(10, "db-1", || async {
        let n = names(&pods, "app=db").await;
        if n == ["db-0", "db-1"] {
            Ok(())
        } else {
            Err(format!("{n:?}"))
        }
    })
    .await;
    make_ready(&pods, "db-1").await;
    eventually(10, "status", || async {
        let s = sets.get("db").await.unwrap().status.unwrap_or_default();
        if s.replicas == 2 && s.ready_replicas == Some(2) && s.updated_replicas == Some(2) {
            Ok(())
        } else {
            Err(format!("{s:?}"))
        }
    })
    .await;

    sets.patch(
        "db",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .unwrap();
    eventually(10, "scale down", || async {
        let n = names(&pods, "app=db").await;
        if n == ["db-0"] {
            Ok(())
        } else {
            Err(format!("{n:?}"))
        }
    })
    .await;
    assert!(
        pvcs.get_opt("data-db-1").await.unwrap().is_some(),
        "claims outlive their pods"
    );
}

#[tokio::test]
async fn a_daemonset_runs_one_pod_per_node_it_tolerates() {
    let c = Cluster::start().await;
    let nodes: Api<Node> = Api::all(c.client.clone());
    for (name, taint) in [
        ("n1", None),
        (
            "n2",
            Some(json!([{"key": "dedicated", "value": "db", "effect": "NoSchedule"}])),
        ),
    ] {
        let mut n = json!({"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}});
        if let Some(t) = taint {
            n["spec"] = json!({"taints": t});
        }
        nodes
            .create(&PostParams::default(), &serde_json::from_value(n).unwrap())
            .await
            .unwrap();
    }
    let sets: Api<DaemonSet> = c.api();
    let pods: Api<Pod> = c.api();
    let ds: DaemonSet = serde_json::from_value(json!({
        "metadata": {"name": "agent"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}}
    }))
    .unwrap();
    sets.create(&PostParams::default(), &ds).await.unwrap();
    let pod = eventually(10, "one daemon pod", || async {
        let l = pods
            .list(&ListParams::default().labels("app=agent"))
            .await
            .unwrap()
            .items;
        match l.as_slice() {
            [one] => Ok(one.clone()),
            other => Err(format!("{}", other.len())),
        }
    })
    .await;
    let affinity = serde_json::to_value(&pod.spec.as_ref().unwrap().affinity).unwrap();
    assert_eq!(
        affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
            [0]["matchFields"][0]["values"],
        json!(["n1"])
    );
    let tolerations = serde_json::to_value(&pod.spec.as_ref().unwrap().tolerations).unwrap();
    assert!(
        tolerations
            .to_string()
            .contains("node.kubernetes.io/unreachable")
    );
    eventually(10, "status", || async {
        let s = sets.get("agent").await.unwrap().status.unwrap_or_default();
        if (s.desired_number_scheduled, s.current_number_scheduled) == (1, 1) {
            Ok(())
        } else {
            Err(format!("{s:?}"))
        }
    })
    .await;
    // Untainting n2 makes room for a second daemon.
    nodes
        .patch(
            "n2",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"taints": null}})),
        )
        .await
        .unwrap();
    eventually(10, "two daemon pods", || async {
        let n = names(&pods, "app=agent").await;
        if n.len() == 2 {
            Ok(())
        } else {
            Err(format!("{n:?}"))
        }
    })
    .await;
}

/// The owners of a claim, as (kind, name, controller).
async fn claim_owners(pvcs: &Api<PersistentVolumeClaim>, name: &str) -> Option<Vec<String>> {
    let c = pvcs.get_opt(name).await.unwrap()?;
    if c.metadata.deletion_timestamp.is_some() {
        return None;
    }
    Some(
        c.owner_references()
            .iter()
            .map(|r| format!("{}/{} {:?}", r.kind, r.name, r.controller))
            .collect(),
    )
}

#[tokio::test]
async fn claim_retention_policy_deletes_claims_with_the_set_or_the_scaled_down_pod() {
    let c = Cluster::start().await;
    let sets: Api<StatefulSet> = c.api();
    let pods: Api<Pod> = c.api();
    let pvcs: Api<PersistentVolumeClaim> = c.api();
    let sts = |name: &str, when_deleted: &str, when_scaled: &str| -> StatefulSet {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"serviceName": name, "replicas": 2, "podManagementPolicy": "Parallel",
                     "selector": {"matchLabels": {"app": name}},
                     "persistentVolumeClaimRetentionPolicy": {"whenDeleted": when_deleted, "whenScaled": when_scaled},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "redis"}]}},
                     "volumeClaimTemplates": [{"metadata": {"name": "data"},
                         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}
        }))
        .unwrap()
    };
    // Delete on scale-down, Retain on deletion: no owner while in range; the condemned pod owns
    // its claim, which goes with it.
    sets.create(&PostParams::default(), &sts("scaled", "Retain", "Delete"))
        .await
        .unwrap();
    // Delete on both: the set owns the claims; deleting the set deletes them.
    sets.create(&PostParams::default(), &sts("gone", "Delete", "Delete"))
        .await
        .unwrap();
    for name in ["scaled-0", "scaled-1", "gone-0", "gone-1"] {
        eventually(10, name, || async {
            match pods.get_opt(name).await.unwrap() {
                Some(_) => Ok(()),
                None => Err("missing".to_string()),
            }
        })
        .await;
        make_ready(&pods, name).await;
    }
    assert_eq!(claim_owners(&pvcs, "data-scaled-1").await, Some(vec![]));
    let set_uid = sets.get("gone").await.unwrap().uid().unwrap();
    let gone = pvcs.get("data-gone-0").await.unwrap();
    let r = &gone.owner_references()[0];
    assert_eq!(
        (
            r.kind.as_str(),
            r.name.as_str(),
            r.uid.as_str(),
            r.controller,
            r.block_owner_deletion
        ),
        (
            "StatefulSet",
            "gone",
            set_uid.as_str(),
            Some(true),
            Some(true)
        )
    );

    sets.patch(
        "scaled",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .unwrap();
    eventually(20, "data-scaled-1 deleted with scaled-1", || async {
        match claim_owners(&pvcs, "data-scaled-1").await {
            None => Ok(()),
            Some(o) => Err(format!("{o:?}")),
        }
    })
    .await;
    assert_eq!(claim_owners(&pvcs, "data-scaled-0").await, Some(vec![]));

    sets.delete("gone", &Default::default()).await.unwrap();
    eventually(20, "the claims of gone deleted", || async {
        let left = (
            claim_owners(&pvcs, "data-gone-0").await,
            claim_owners(&pvcs, "data-gone-1").await,
        );
        if left == (None, None) {
            Ok(())
        } else {
            Err(format!("{left:?}"))
        }
    })
    .await;
    assert!(pvcs.get_opt("data-scaled-0").await.unwrap().is_some());
}
