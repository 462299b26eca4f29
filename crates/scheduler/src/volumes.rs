//! The scheduler's side of volume binding beyond the filter ([`plugins::volume_binding`]): the
//! watches of claims, volumes and storage classes it reads, and PreBind, which hands the chosen
//! node to the pod's delayed claims (`volume.kubernetes.io/selected-node`) and waits for the
//! PersistentVolume controller (and provisioner) to bind them before the pod is bound, as
//! upstream's VolumeBinding plugin does.
//!
//! [`plugins::volume_binding`]: crate::plugins::volume_binding

use crate::Shared;
use crate::informers::follow;
use crate::plugins::volume_binding::SELECTED_NODE;
use crate::pod_info::PodInfo;
use crate::queue::events;
use anyhow::Context;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::watcher;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// How long PreBind waits for the claims to be bound (upstream's `bindTimeoutSeconds`).
const BIND_TIMEOUT: Duration = Duration::from_secs(600);

fn claim_key(c: &PersistentVolumeClaim) -> String {
    format!(
        "{}/{}",
        c.metadata.namespace.as_deref().unwrap_or_default(),
        c.metadata.name.as_deref().unwrap_or_default()
    )
}

fn name_of<K: kube::Resource>(o: &K) -> String {
    o.meta().name.clone().unwrap_or_default()
}

/// Watch claims, volumes and classes into `shared.volumes` (sync bits 3, 4 and 5); every change
/// may make a parked pod schedulable.
pub fn watches(shared: Arc<Shared>, client: kube::Client) -> Vec<tokio::task::JoinHandle<()>> {
    let cfg = || watcher::Config::default().any_semantic();
    let mut tasks = Vec::new();
    let (s1, s2, s3) = (shared.clone(), shared.clone(), shared.clone());
    tasks.push(tokio::spawn(follow(
        watcher(Api::<PersistentVolumeClaim>::all(client.clone()), cfg()),
        move |c: PersistentVolumeClaim| {
            let mut v = s1.volumes.write().expect("volumes lock");
            v.claims.insert(claim_key(&c), Arc::new(c));
            drop(v);
            s1.cluster_event(events::VOLUME);
        },
        move |c: PersistentVolumeClaim| {
            s2.volumes
                .write()
                .expect("volumes lock")
                .claims
                .remove(&claim_key(&c));
            s2.cluster_event(events::VOLUME);
        },
        move || s3.synced(3),
    )));
    let (s1, s2, s3) = (shared.clone(), shared.clone(), shared.clone());
    tasks.push(tokio::spawn(follow(
        watcher(Api::<PersistentVolume>::all(client.clone()), cfg()),
        move |v: PersistentVolume| {
            let mut vols = s1.volumes.write().expect("volumes lock");
            vols.volumes.insert(name_of(&v), Arc::new(v));
            drop(vols);
            s1.cluster_event(events::VOLUME);
        },
        move |v: PersistentVolume| {
            s2.volumes
                .write()
                .expect("volumes lock")
                .volumes
                .remove(&name_of(&v));
            s2.cluster_event(events::VOLUME);
        },
        move || s3.synced(4),
    )));
    let (s1, s2, s3) = (shared.clone(), shared.clone(), shared);
    tasks.push(tokio::spawn(follow(
        watcher(Api::<StorageClass>::all(client), cfg()),
        move |c: StorageClass| {
            let mut vols = s1.volumes.write().expect("volumes lock");
            vols.classes.insert(name_of(&c), Arc::new(c));
            drop(vols);
            s1.cluster_event(events::VOLUME);
        },
        move |c: StorageClass| {
            s2.volumes
                .write()
                .expect("volumes lock")
                .classes
                .remove(&name_of(&c));
            s2.cluster_event(events::VOLUME);
        },
        move || s3.synced(5),
    )));
    tasks
}

/// PreBind: select `node` for each delayed claim, then wait until all are bound.
pub async fn bind_claims(
    client: &kube::Client,
    shared: &Shared,
    pod: &PodInfo,
    node: &str,
    claims: &[String],
) -> anyhow::Result<()> {
    let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &pod.namespace);
    for name in claims {
        let selected = {
            let v = shared.volumes.read().expect("volumes lock");
            if v.is_bound(&pod.namespace, name) {
                continue;
            }
            v.claim(&pod.namespace, name)
                .and_then(|c| c.metadata.annotations.as_ref()?.get(SELECTED_NODE).cloned())
        };
        if selected.as_deref() == Some(node) {
            continue;
        }
        let body = json!({"metadata": {"annotations": {SELECTED_NODE: node}}});
        api.patch(name, &PatchParams::default(), &Patch::Merge(body))
            .await
            .with_context(|| format!("selecting node {node} for claim {name}"))?;
    }
    let deadline = tokio::time::Instant::now() + BIND_TIMEOUT;
    loop {
        {
            let v = shared.volumes.read().expect("volumes lock");
            if claims.iter().all(|c| v.is_bound(&pod.namespace, c)) {
                return Ok(());
            }
            if let Some(gone) = claims.iter().find(|c| v.claim(&pod.namespace, c).is_none()) {
                anyhow::bail!("persistentvolumeclaim \"{gone}\" not found");
            }
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("timed out waiting for the condition");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
