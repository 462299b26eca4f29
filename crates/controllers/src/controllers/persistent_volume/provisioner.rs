//! rkube's built-in dynamic provisioner, `rancher.io/local-path` (k3s's local-path
//! provisioner, in the controller manager): for a claim of its class that the scheduler gave a
//! node (`volume.kubernetes.io/selected-node`), a PersistentVolume `pvc-<claim uid>` on a
//! `hostPath` directory `<root>/pvc-<uid>_<namespace>_<claim>` (`DirectoryOrCreate`) pinned to
//! that node by node affinity, pre-bound to the claim (the binder completes the binding). When
//! such a volume is reclaimed with `Delete`, its directory and the volume are removed.
//!
//! The directory is made and removed on this host: rkube's nodes are its own (the server's agent
//! or simulated nodes) and share the data directory, where k3s runs a helper pod on the node.

use super::{PROVISIONED_BY, SELECTED_NODE, annotation};
use crate::events::ComponentRecorder;
use crate::manager::Context;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use std::path::{Path, PathBuf};

/// The provisioner name the default StorageClass `local-path` names.
pub const PROVISIONER: &str = "rancher.io/local-path";
/// Where volumes live when the manager is not told otherwise.
pub const DEFAULT_ROOT: &str = "/var/lib/rkube/storage";

/// The directory volumes are made under.
pub fn root(ctx: &Context) -> PathBuf {
    ctx.options
        .local_path_root
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT))
}

/// The volume's name and directory for `claim`.
pub fn volume_for(root: &Path, claim: &PersistentVolumeClaim) -> (String, PathBuf) {
    let uid = claim.metadata.uid.clone().unwrap_or_default();
    let name = format!("pvc-{uid}");
    let dir = root.join(format!(
        "{name}_{}_{}",
        claim.namespace().unwrap_or_default(),
        claim.name_any()
    ));
    (name, dir)
}

/// Create the volume of `claim` on its selected node (nothing when it exists already).
pub async fn provision(
    ctx: &Context,
    recorder: &ComponentRecorder,
    claim: &PersistentVolumeClaim,
    class: &StorageClass,
) -> anyhow::Result<()> {
    let class_name = class.name_any();
    let Some(node) = annotation(claim, SELECTED_NODE) else {
        recorder.warning(
            claim,
            "ProvisioningFailed",
            format!(
                "failed to provision volume with StorageClass \"{class_name}\": configuration error, no node was specified"
            ),
        );
        return Ok(());
    };
    let (name, dir) = volume_for(&root(ctx), claim);
    if ctx.informers.persistent_volumes.get(None, &name).is_some() {
        return Ok(());
    }
    let ns = claim.namespace().unwrap_or_default();
    recorder.normal(
        claim,
        "Provisioning",
        format!(
            "External provisioner is provisioning volume for claim \"{ns}/{}\"",
            claim.name_any()
        ),
    );
    if let Err(e) = std::fs::create_dir_all(&dir) {
        tracing::debug!(dir = %dir.display(), error = %e, "local-path: directory not created here");
    }
    let spec = claim.spec.clone().unwrap_or_default();
    let storage = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref()?.get("storage").cloned());
    let pv = json!({
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": name, "annotations": {PROVISIONED_BY: PROVISIONER}},
        "spec": {
            "capacity": {"storage": storage},
            "accessModes": spec.access_modes,
            "volumeMode": spec.volume_mode.as_deref().unwrap_or("Filesystem"),
            "persistentVolumeReclaimPolicy": class.reclaim_policy.as_deref().unwrap_or("Delete"),
            "storageClassName": class_name,
            "mountOptions": class.mount_options,
            "hostPath": {"path": dir.to_string_lossy(), "type": "DirectoryOrCreate"},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}},
            "claimRef": {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": ns,
                "name": claim.name_any(), "uid": claim.metadata.uid,
                "resourceVersion": claim.metadata.resource_version},
        },
    });
    let pv: PersistentVolume = serde_json::from_value(pv)?;
    let api: Api<PersistentVolume> = Api::all(ctx.client.clone());
    match api.create(&PostParams::default(), &pv).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 409 => return Ok(()),
        Err(e) => {
            recorder.warning(
                claim,
                "ProvisioningFailed",
                format!(
                    "failed to provision volume with StorageClass \"{class_name}\": {}",
                    crate::error_message(&e)
                ),
            );
            return Err(e.into());
        }
    }
    recorder.normal(
        claim,
        "ProvisioningSucceeded",
        format!("Successfully provisioned volume {name}"),
    );
    Ok(())
}

/// Remove a reclaimed volume this provisioner made: its directory (only one of ours, under the
/// root) and the PersistentVolume.
pub async fn delete(ctx: &Context, volume: &PersistentVolume) -> anyhow::Result<()> {
    let root = root(ctx);
    let path = volume
        .spec
        .as_ref()
        .and_then(|s| s.host_path.as_ref())
        .map(|h| PathBuf::from(&h.path));
    if let Some(dir) = path.filter(|p| {
        p.parent() == Some(root.as_path())
            && p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("pvc-"))
    }) {
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::info!(dir = %dir.display(), error = %e, "local-path: removing the volume's directory")
            }
        }
    }
    let api: Api<PersistentVolume> = Api::all(ctx.client.clone());
    match api
        .delete(&volume.name_any(), &DeleteParams::default())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_are_named_after_the_claim_uid() {
        let claim: PersistentVolumeClaim = serde_json::from_value(json!({
            "metadata": {"name": "data", "namespace": "shop", "uid": "1234-abcd"}}))
        .unwrap();
        let (name, dir) = volume_for(Path::new("/var/lib/rkube/storage"), &claim);
        assert_eq!(name, "pvc-1234-abcd");
        assert_eq!(
            dir,
            Path::new("/var/lib/rkube/storage/pvc-1234-abcd_shop_data")
        );
    }
}
