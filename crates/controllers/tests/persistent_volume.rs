//! The PersistentVolume controller and the built-in local-path provisioner against a real API
//! server: static, pre-bound and dynamically provisioned claims, reclaim policies, events.

mod common;

use common::{Cluster, eventually};
use k8s_openapi::api::core::v1::{Event, PersistentVolume, PersistentVolumeClaim};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

fn claim(name: &str, spec: Value) -> PersistentVolumeClaim {
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
}

fn volume(v: Value) -> PersistentVolume {
    serde_json::from_value(v).unwrap()
}

fn phase_of_claim(c: &PersistentVolumeClaim) -> String {
    c.status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default()
}

fn phase_of_volume(v: &PersistentVolume) -> String {
    v.status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default()
}

async fn claim_phase(
    api: &Api<PersistentVolumeClaim>,
    name: &str,
    want: &str,
) -> PersistentVolumeClaim {
    eventually(20, &format!("claim {name} {want}"), || async {
        let c = api.get(name).await.map_err(|e| e.to_string())?;
        (phase_of_claim(&c) == want)
            .then_some(c.clone())
            .ok_or(phase_of_claim(&c))
    })
    .await
}

async fn volume_phase(api: &Api<PersistentVolume>, name: &str, want: &str) -> PersistentVolume {
    eventually(20, &format!("volume {name} {want}"), || async {
        let v = api.get(name).await.map_err(|e| e.to_string())?;
        (phase_of_volume(&v) == want)
            .then_some(v.clone())
            .ok_or(phase_of_volume(&v))
    })
    .await
}

/// Reason → message of the events about `name`.
async fn events_of(c: &Cluster, name: &str) -> Vec<(String, String)> {
    let events: Api<Event> = c.api();
    events
        .list(&ListParams::default().fields(&format!("involvedObject.name={name}")))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
        .collect()
}

async fn wait_event(c: &Cluster, name: &str, reason: &str) -> String {
    eventually(20, &format!("{reason} event for {name}"), || async {
        let all = events_of(c, name).await;
        all.iter()
            .find(|(r, _)| r == reason)
            .map(|(_, m)| m.clone())
            .ok_or(format!("{all:?}"))
    })
    .await
}

fn annotations(o: &impl kube::Resource) -> std::collections::BTreeMap<String, String> {
    o.meta().annotations.clone().unwrap_or_default()
}

#[tokio::test]
async fn a_claim_binds_to_the_smallest_fitting_volume_and_releases_it() {
    let c = Cluster::start().await;
    let pvs: Api<PersistentVolume> = Api::all(c.client.clone());
    let pvcs: Api<PersistentVolumeClaim> = c.api();
    for (name, size) in [("big", "10Gi"), ("fits", "3Gi"), ("small", "1Gi")] {
        let pv = volume(
            json!({"metadata": {"name": name}, "spec": {"capacity": {"storage": size},
            "accessModes": ["ReadWriteOnce"], "storageClassName": "",
            "hostPath": {"path": format!("/tmp/{name}")}}}),
        );
        pvs.create(&PostParams::default(), &pv).await.unwrap();
        volume_phase(&pvs, name, "Available").await;
    }
    let spec = json!({"accessModes": ["ReadWriteOnce"], "storageClassName": "",
        "resources": {"requests": {"storage": "2Gi"}}});
    pvcs.create(&PostParams::default(), &claim("data", spec))
        .await
        .unwrap();
    let bound = claim_phase(&pvcs, "data", "Bound").await;
    let spec = bound.spec.clone().unwrap();
    assert_eq!(spec.volume_name.as_deref(), Some("fits"));
    let status = bound.status.clone().unwrap();
    assert_eq!(status.capacity.unwrap()["storage"].0, "3Gi");
    assert_eq!(status.access_modes.unwrap(), ["ReadWriteOnce"]);
    let ann = annotations(&bound);
    assert_eq!(
        ann.get("pv.kubernetes.io/bind-completed")
            .map(String::as_str),
        Some("yes")
    );
    assert_eq!(
        ann.get("pv.kubernetes.io/bound-by-controller")
            .map(String::as_str),
        Some("yes")
    );
    let pv = volume_phase(&pvs, "fits", "Bound").await;
    let r = pv.spec.clone().unwrap().claim_ref.unwrap();
    assert_eq!(
        (r.namespace.as_deref(), r.name.as_deref()),
        (Some("default"), Some("data"))
    );
    assert_eq!(r.uid, bound.metadata.uid);
    assert_eq!(
        annotations(&pv)
            .get("pv.kubernetes.io/bound-by-controller")
            .map(String::as_str),
        Some("yes")
    );
    // Retain (the default of a manual volume): the volume outlives its claim as Released.
    pvcs.delete("data", &DeleteParams::default()).await.unwrap();
    volume_phase(&pvs, "fits", "Released").await;
    assert_eq!(
        phase_of_volume(&pvs.get("small").await.unwrap()),
        "Available"
    );
}

#[tokio::test]
async fn a_pre_linked_pair_binds_and_stale_uids_leave_lost_and_released() {
    let c = Cluster::start().await;
    let pvs: Api<PersistentVolume> = Api::all(c.client.clone());
    let pvcs: Api<PersistentVolumeClaim> = c.api();
    let pv = volume(json!({"metadata": {"name": "pvc-f0fea6ae-e229"}, "spec": {
        "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "",
        "persistentVolumeReclaimPolicy": "Retain", "volumeMode": "Filesystem",
        "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": "redis-pvc-redis-0", "namespace": "default"},
        "csi": {"driver": "pd.csi.storage.gke.io", "volumeHandle": "disk"}}}));
    pvs.create(&PostParams::default(), &pv).await.unwrap();
    let spec = json!({"accessModes": ["ReadWriteOnce"], "storageClassName": "", "volumeMode": "Filesystem",
        "volumeName": "pvc-f0fea6ae-e229", "resources": {"requests": {"storage": "1Gi"}}});
    pvcs.create(
        &PostParams::default(),
        &claim("redis-pvc-redis-0", spec.clone()),
    )
    .await
    .unwrap();
    let bound = claim_phase(&pvcs, "redis-pvc-redis-0", "Bound").await;
    let ann = annotations(&bound);
    assert_eq!(
        ann.get("pv.kubernetes.io/bind-completed")
            .map(String::as_str),
        Some("yes")
    );
    assert!(
        !ann.contains_key("pv.kubernetes.io/bound-by-controller"),
        "{ann:?}"
    );
    let pv = volume_phase(&pvs, "pvc-f0fea6ae-e229", "Bound").await;
    assert_eq!(
        pv.spec.clone().unwrap().claim_ref.unwrap().uid,
        bound.metadata.uid
    );
    assert!(!annotations(&pv).contains_key("pv.kubernetes.io/bound-by-controller"));

    // Re-created from exported YAML (bind-completed kept, the old uid gone): Lost and Released.
    pvcs.delete("redis-pvc-redis-0", &DeleteParams::default())
        .await
        .unwrap();
    volume_phase(&pvs, "pvc-f0fea6ae-e229", "Released").await;
    let mut stale = claim("redis-pvc-redis-0", spec);
    stale.metadata.annotations = Some(
        [(
            "pv.kubernetes.io/bind-completed".to_string(),
            "yes".to_string(),
        )]
        .into(),
    );
    pvcs.create(&PostParams::default(), &stale).await.unwrap();
    claim_phase(&pvcs, "redis-pvc-redis-0", "Lost").await;
    let msg = wait_event(&c, "redis-pvc-redis-0", "ClaimMisbound").await;
    assert_eq!(
        msg,
        "Two claims are bound to the same volume, this one is bound incorrectly"
    );
    assert_eq!(
        phase_of_volume(&pvs.get("pvc-f0fea6ae-e229").await.unwrap()),
        "Released"
    );
}

#[tokio::test]
async fn the_default_class_provisions_a_local_path_volume_on_the_selected_node() {
    let c = Cluster::start().await;
    let pvs: Api<PersistentVolume> = Api::all(c.client.clone());
    let pvcs: Api<PersistentVolumeClaim> = c.api();
    let spec =
        json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}});
    let created = pvcs
        .create(&PostParams::default(), &claim("mariadb-pvc", spec))
        .await
        .unwrap();
    // DefaultStorageClass admission named the default class.
    assert_eq!(
        created.spec.clone().unwrap().storage_class_name.as_deref(),
        Some("local-path")
    );
    let msg = wait_event(&c, "mariadb-pvc", "WaitForFirstConsumer").await;
    assert_eq!(
        msg,
        "waiting for first consumer to be created before binding"
    );
    assert_eq!(
        phase_of_claim(&pvcs.get("mariadb-pvc").await.unwrap()),
        "Pending"
    );

    // What the scheduler does once a pod using the claim has a node.
    let body =
        json!({"metadata": {"annotations": {"volume.kubernetes.io/selected-node": "node-1"}}});
    pvcs.patch("mariadb-pvc", &PatchParams::default(), &Patch::Merge(body))
        .await
        .unwrap();
    let bound = claim_phase(&pvcs, "mariadb-pvc", "Bound").await;
    let uid = bound.uid().unwrap();
    let name = format!("pvc-{uid}");
    assert_eq!(
        bound.spec.clone().unwrap().volume_name.as_deref(),
        Some(name.as_str())
    );
    assert_eq!(
        annotations(&bound)
            .get("volume.kubernetes.io/storage-provisioner")
            .map(String::as_str),
        Some("rancher.io/local-path")
    );
    let pv = volume_phase(&pvs, &name, "Bound").await;
    assert_eq!(
        annotations(&pv)
            .get("pv.kubernetes.io/provisioned-by")
            .map(String::as_str),
        Some("rancher.io/local-path")
    );
    let spec = pv.spec.clone().unwrap();
    assert_eq!(
        spec.persistent_volume_reclaim_policy.as_deref(),
        Some("Delete")
    );
    assert_eq!(spec.storage_class_name.as_deref(), Some("local-path"));
    assert_eq!(spec.capacity.unwrap()["storage"].0, "2Gi");
    let host = spec.host_path.unwrap();
    assert_eq!(host.type_.as_deref(), Some("DirectoryOrCreate"));
    assert!(
        host.path
            .ends_with(&format!("storage/{name}_default_mariadb-pvc")),
        "{}",
        host.path
    );
    assert!(std::path::Path::new(&host.path).is_dir());
    let term = &spec
        .node_affinity
        .unwrap()
        .required
        .unwrap()
        .node_selector_terms[0];
    let expr = &term.match_expressions.as_ref().unwrap()[0];
    assert_eq!(
        (expr.key.as_str(), expr.values.clone().unwrap()),
        ("kubernetes.io/hostname", vec!["node-1".to_string()])
    );
    let events = events_of(&c, "mariadb-pvc").await;
    let find = |r: &str| events.iter().find(|(x, _)| x == r).map(|(_, m)| m.clone());
    assert_eq!(
        find("ExternalProvisioning").as_deref(),
        Some(
            "Waiting for a volume to be created either by the external provisioner 'rancher.io/local-path' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered."
        )
    );
    assert_eq!(
        find("Provisioning").as_deref(),
        Some("External provisioner is provisioning volume for claim \"default/mariadb-pvc\"")
    );
    assert_eq!(
        find("ProvisioningSucceeded"),
        Some(format!("Successfully provisioned volume {name}"))
    );

    // Delete: the claim's volume and its directory go with it.
    pvcs.delete("mariadb-pvc", &DeleteParams::default())
        .await
        .unwrap();
    eventually(20, "the provisioned volume deleted", || async {
        match pvs.get_opt(&name).await.unwrap() {
            None => Ok(()),
            Some(v) => Err(phase_of_volume(&v)),
        }
    })
    .await;
    assert!(!std::path::Path::new(&host.path).exists());
}

#[tokio::test]
async fn a_claim_without_class_or_volume_waits_with_failed_binding() {
    let c = Cluster::start().await;
    let pvcs: Api<PersistentVolumeClaim> = c.api();
    let spec = json!({"accessModes": ["ReadWriteOnce"], "storageClassName": "",
        "resources": {"requests": {"storage": "1Gi"}}});
    pvcs.create(&PostParams::default(), &claim("orphan", spec))
        .await
        .unwrap();
    let msg = wait_event(&c, "orphan", "FailedBinding").await;
    assert_eq!(
        msg,
        "no persistent volumes available for this claim and no storage class is set"
    );
    assert_eq!(
        phase_of_claim(&pvcs.get("orphan").await.unwrap()),
        "Pending"
    );
}
