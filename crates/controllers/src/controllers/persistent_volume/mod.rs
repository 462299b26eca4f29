//! The PersistentVolume controller (upstream's `persistentvolume-binder`): binds claims to
//! volumes and keeps both sides' phases, as upstream's binder does.
//!
//! - A Pending claim binds to the best matching volume ([`matching`]): the volume gets
//!   `spec.claimRef` (and `pv.kubernetes.io/bound-by-controller` when the controller chose it),
//!   the claim `spec.volumeName`, `pv.kubernetes.io/bind-completed`, and `status.capacity` and
//!   `accessModes` of the volume; both become `Bound`. Pre-binding by the user (`volumeName`
//!   on the claim, `claimRef` without uid on the volume) is honoured.
//! - With no volume: a WaitForFirstConsumer class waits for the scheduler's
//!   `volume.kubernetes.io/selected-node` (`WaitForFirstConsumer` event); a class with a
//!   provisioner gets `volume.kubernetes.io/storage-provisioner` (`ExternalProvisioning`) and,
//!   for rkube's own `rancher.io/local-path`, a volume from [`provisioner`]; no class at all is
//!   `FailedBinding`.
//! - A bound claim whose volume vanished or went to another claim is `Lost`. A volume whose claim
//!   is gone is `Released` and then reclaimed: `Retain` keeps it, `Delete` deletes what the
//!   built-in provisioner made (directory included) and leaves other provisioners' volumes to
//!   them, anything else ends `Failed`.

pub mod matching;
pub mod provisioner;

use crate::events::{ComponentRecorder, EventType};
use crate::manager::Context;
use crate::runtime::informer::{Change, forward};
use crate::runtime::{Key, WorkQueue};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use matching::{best_volume, claim_class, is_bound_to, mismatch, volume_modes_match};
use serde_json::{Value, json};
use std::sync::Arc;

pub const COMPONENT: &str = "persistentvolume-controller";
/// On a claim: the controller finished binding it (its `volumeName` is authoritative).
pub const BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
/// On a claim or volume: the controller, not the user, set the binding.
pub const BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
/// On a claim: the node the scheduler chose for the first pod using it.
pub const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// On a claim: the provisioner expected to create its volume.
pub const STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
const STORAGE_PROVISIONER_BETA: &str = "volume.beta.kubernetes.io/storage-provisioner";
/// On a volume: the provisioner that created it.
pub const PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";

/// What the claim and volume workers share (the claim queue: a volume's sync may hand its
/// claim over).
struct Binder {
    ctx: Arc<Context>,
    claims: Arc<WorkQueue>,
    recorder: ComponentRecorder,
}

pub fn start(ctx: &Arc<Context>) {
    let claims = WorkQueue::new();
    let volumes = WorkQueue::new();
    let inf = &ctx.informers;
    forward(&inf.persistent_volume_claims, claims.clone(), |c| {
        vec![Key::of(c.object().as_ref())]
    });
    // A claim's change concerns its volume; a deleted claim releases the volume bound (or
    // provisioned) for it.
    let pvs = inf.persistent_volumes.clone();
    forward(&inf.persistent_volume_claims, volumes.clone(), move |c| {
        let claim = c.object();
        let mut keys: Vec<Key> = claim
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.clone())
            .filter(|n| !n.is_empty())
            .map(|n| Key::new("", n))
            .into_iter()
            .collect();
        if matches!(c, Change::Deleted(_)) {
            keys.extend(
                pvs.list()
                    .iter()
                    .filter(|v| claim_ref_uid(v) == claim.metadata.uid.as_deref())
                    .map(|v| Key::new("", v.name_any())),
            );
        }
        keys
    });
    forward(&inf.persistent_volumes, volumes.clone(), |c| {
        vec![Key::new("", c.object().name_any())]
    });
    forward(&inf.persistent_volumes, claims.clone(), |c| {
        c.object()
            .spec
            .as_ref()
            .and_then(|s| s.claim_ref.as_ref())
            .map(|r| {
                Key::new(
                    r.namespace.clone().unwrap_or_default(),
                    r.name.clone().unwrap_or_default(),
                )
            })
            .into_iter()
            .collect()
    });
    // A class appearing (or changing) concerns the claims still waiting in it.
    let pvcs = inf.persistent_volume_claims.clone();
    forward(&inf.storage_classes, claims.clone(), move |c| {
        let class = c.object().name_any();
        pvcs.list()
            .iter()
            .filter(|claim| {
                claim_class(claim) == class && !has_annotation(claim.as_ref(), BIND_COMPLETED)
            })
            .map(|claim| Key::of(claim.as_ref()))
            .collect()
    });
    let binder = Arc::new(Binder {
        recorder: ctx.recorder.for_component(COMPONENT),
        ctx: ctx.clone(),
        claims: claims.clone(),
    });
    let b = binder.clone();
    claims.run(COMPONENT, 1, move |key| {
        let b = b.clone();
        async move { b.sync_claim(&key).await.map(|_| None) }
    });
    volumes.run(COMPONENT, 1, move |key| {
        let b = binder.clone();
        async move { b.sync_volume(&key.name).await.map(|_| None) }
    });
}

fn has_annotation<K: kube::Resource>(o: &K, key: &str) -> bool {
    o.meta()
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(key))
}

fn annotation<'a, K: kube::Resource>(o: &'a K, key: &str) -> Option<&'a str> {
    o.meta().annotations.as_ref()?.get(key).map(String::as_str)
}

fn claim_ref_uid(v: &PersistentVolume) -> Option<&str> {
    v.spec
        .as_ref()?
        .claim_ref
        .as_ref()?
        .uid
        .as_deref()
        .filter(|u| !u.is_empty())
}

fn volume_phase(v: &PersistentVolume) -> &str {
    v.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

fn claim_phase(c: &PersistentVolumeClaim) -> &str {
    c.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// A 404 is what the informer will report as a deletion soon: not a failure.
fn ignore_not_found<T>(r: Result<T, kube::Error>) -> anyhow::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A merge patch that only applies to the object as we saw it (resourceVersion precondition).
fn guarded(o: &impl kube::Resource, mut body: Value) -> Patch<Value> {
    body["metadata"]["resourceVersion"] = json!(o.meta().resource_version);
    Patch::Merge(body)
}

impl Binder {
    fn claims_api(&self, ns: &str) -> Api<PersistentVolumeClaim> {
        Api::namespaced(self.ctx.client.clone(), ns)
    }

    fn volumes_api(&self) -> Api<PersistentVolume> {
        Api::all(self.ctx.client.clone())
    }

    fn class(&self, name: &str) -> Option<Arc<StorageClass>> {
        (!name.is_empty())
            .then(|| self.ctx.informers.storage_classes.get(None, name))
            .flatten()
    }

    async fn sync_claim(&self, key: &Key) -> anyhow::Result<()> {
        let Some(claim) = self
            .ctx
            .informers
            .persistent_volume_claims
            .get(Some(&key.namespace), &key.name)
        else {
            return Ok(());
        };
        if has_annotation(claim.as_ref(), BIND_COMPLETED) {
            self.sync_bound_claim(&claim).await
        } else {
            self.sync_unbound_claim(&claim).await
        }
    }

    async fn sync_unbound_claim(&self, claim: &PersistentVolumeClaim) -> anyhow::Result<()> {
        let inf = &self.ctx.informers;
        let wanted = claim
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.clone())
            .unwrap_or_default();
        if !wanted.is_empty() {
            return self.sync_prebound_claim(claim, &wanted).await;
        }
        let class_name = claim_class(claim);
        let class = self.class(&class_name);
        let selected = annotation(claim, SELECTED_NODE);
        let delay = selected.is_none()
            && class
                .as_ref()
                .is_some_and(|c| c.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer"));
        let node = selected.and_then(|n| inf.nodes.get(None, n));
        let volumes = inf.persistent_volumes.list();
        if let Some(volume) = best_volume(claim, &volumes, delay, node.as_deref()) {
            return self.bind(&volume, claim).await;
        }
        if delay {
            if claim.metadata.deletion_timestamp.is_none() {
                self.recorder.normal(
                    claim,
                    "WaitForFirstConsumer",
                    "waiting for first consumer to be created before binding",
                );
            }
            return self.set_claim_phase(claim, "Pending", None).await;
        }
        if class_name.is_empty() {
            self.recorder.normal(
                claim,
                "FailedBinding",
                "no persistent volumes available for this claim and no storage class is set",
            );
            return self.set_claim_phase(claim, "Pending", None).await;
        }
        self.set_claim_phase(claim, "Pending", None).await?;
        self.provision(claim, &class_name, class).await
    }

    /// No volume fits: ask the class's provisioner for one (rkube's own runs here).
    async fn provision(
        &self,
        claim: &PersistentVolumeClaim,
        class_name: &str,
        class: Option<Arc<StorageClass>>,
    ) -> anyhow::Result<()> {
        let Some(class) = class else {
            self.recorder.warning(
                claim,
                "ProvisioningFailed",
                format!("storageclass.storage.k8s.io \"{class_name}\" not found"),
            );
            return Ok(());
        };
        let name = &class.provisioner;
        let claim = if annotation(claim, STORAGE_PROVISIONER) != Some(name.as_str()) {
            let body = json!({"metadata": {"annotations": {
                STORAGE_PROVISIONER: name, STORAGE_PROVISIONER_BETA: name}}});
            let api = self.claims_api(claim.namespace().as_deref().unwrap_or_default());
            match ignore_not_found(
                api.patch(
                    &claim.name_any(),
                    &PatchParams::default(),
                    &guarded(claim, body),
                )
                .await,
            )? {
                Some(c) => c,
                None => return Ok(()),
            }
        } else {
            claim.clone()
        };
        self.recorder.normal(
            &claim,
            "ExternalProvisioning",
            format!(
                "Waiting for a volume to be created either by the external provisioner '{name}' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered."
            ),
        );
        if name == provisioner::PROVISIONER {
            provisioner::provision(&self.ctx, &self.recorder, &claim, &class).await?;
        }
        Ok(())
    }

    /// The claim names its volume (`spec.volumeName`) but is not bound yet.
    async fn sync_prebound_claim(
        &self,
        claim: &PersistentVolumeClaim,
        wanted: &str,
    ) -> anyhow::Result<()> {
        let Some(volume) = self.ctx.informers.persistent_volumes.get(None, wanted) else {
            return self.set_claim_phase(claim, "Pending", None).await;
        };
        let claimed = volume
            .spec
            .as_ref()
            .and_then(|s| s.claim_ref.as_ref())
            .is_some();
        if !claimed {
            if let Some(why) = mismatch(claim, &volume) {
                self.recorder.warning(
                    claim,
                    "VolumeMismatch",
                    format!("Cannot bind to requested volume \"{wanted}\": {why}"),
                );
                return self.set_claim_phase(claim, "Pending", None).await;
            }
            return self.bind(&volume, claim).await;
        }
        if is_bound_to(&volume, claim) {
            return self.bind(&volume, claim).await;
        }
        self.recorder.warning(
            claim,
            "FailedBinding",
            format!("volume \"{wanted}\" already bound to a different claim."),
        );
        self.set_claim_phase(claim, "Pending", None).await
    }

    async fn sync_bound_claim(&self, claim: &PersistentVolumeClaim) -> anyhow::Result<()> {
        let name = claim
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.clone())
            .unwrap_or_default();
        let lost = |msg: &'static str| (EventType::Warning, "ClaimLost", msg.to_string());
        if name.is_empty() {
            let e = lost(
                "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!",
            );
            return self.set_claim_phase(claim, "Lost", Some(e)).await;
        }
        let Some(volume) = self.ctx.informers.persistent_volumes.get(None, &name) else {
            let e = lost("Bound claim has lost its PersistentVolume. Data on the volume is lost!");
            return self.set_claim_phase(claim, "Lost", Some(e)).await;
        };
        match claim_ref_uid(&volume) {
            None => self.bind(&volume, claim).await,
            Some(uid) if Some(uid) == claim.metadata.uid.as_deref() => {
                self.bind(&volume, claim).await
            }
            Some(_) => {
                let e = (
                    EventType::Warning,
                    "ClaimMisbound",
                    "Two claims are bound to the same volume, this one is bound incorrectly"
                        .to_string(),
                );
                self.set_claim_phase(claim, "Lost", Some(e)).await
            }
        }
    }

    /// Bind both ways, volume first (its claimRef is what reserves it), then the claim, then
    /// both phases. Every step is skipped when already done, so a retry resumes.
    async fn bind(
        &self,
        volume: &PersistentVolume,
        claim: &PersistentVolumeClaim,
    ) -> anyhow::Result<()> {
        let ns = claim.namespace().unwrap_or_default();
        let claim_name = claim.name_any();
        let volume_name = volume.name_any();
        let mut volume = volume.clone();
        if claim_ref_uid(&volume) != claim.metadata.uid.as_deref() {
            let mut body = json!({"spec": {"claimRef": {
                "kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": ns,
                "name": claim_name, "uid": claim.metadata.uid,
                "resourceVersion": claim.metadata.resource_version}}});
            if volume
                .spec
                .as_ref()
                .and_then(|s| s.claim_ref.as_ref())
                .is_none()
            {
                body["metadata"]["annotations"] = json!({BOUND_BY_CONTROLLER: "yes"});
            }
            let patched = self
                .volumes_api()
                .patch(
                    &volume_name,
                    &PatchParams::default(),
                    &guarded(&volume, body),
                )
                .await;
            match ignore_not_found(patched)? {
                Some(v) => volume = v,
                None => return Ok(()),
            }
        }
        if volume_phase(&volume) != "Bound" {
            self.patch_volume_status(&volume, json!({"phase": "Bound", "message": null}))
                .await?;
        }
        let mut claim = claim.clone();
        let named = claim.spec.as_ref().and_then(|s| s.volume_name.as_deref())
            == Some(volume_name.as_str());
        if !named || !has_annotation(&claim, BIND_COMPLETED) {
            let mut annotations = json!({BIND_COMPLETED: "yes"});
            if !named {
                annotations[BOUND_BY_CONTROLLER] = json!("yes");
            }
            let body = json!({"metadata": {"annotations": annotations},
                "spec": {"volumeName": volume_name}});
            let patched = self
                .claims_api(&ns)
                .patch(&claim_name, &PatchParams::default(), &guarded(&claim, body))
                .await;
            match ignore_not_found(patched)? {
                Some(c) => claim = c,
                None => return Ok(()),
            }
        }
        let spec = volume.spec.clone().unwrap_or_default();
        let status = claim.status.clone().unwrap_or_default();
        if claim_phase(&claim) != "Bound"
            || status.capacity != spec.capacity
            || status.access_modes != spec.access_modes
        {
            let body = json!({"status": {"phase": "Bound", "capacity": spec.capacity,
                "accessModes": spec.access_modes}});
            ignore_not_found(
                self.claims_api(&ns)
                    .patch_status(&claim_name, &PatchParams::default(), &Patch::Merge(body))
                    .await,
            )?;
        }
        Ok(())
    }

    /// Set a claim's phase (clearing capacity and modes, which only a bound claim has), with an
    /// event when the phase changes.
    async fn set_claim_phase(
        &self,
        claim: &PersistentVolumeClaim,
        phase: &str,
        event: Option<(EventType, &str, String)>,
    ) -> anyhow::Result<()> {
        if claim_phase(claim) == phase {
            return Ok(());
        }
        let body = json!({"status": {"phase": phase, "capacity": null, "accessModes": null}});
        let api = self.claims_api(claim.namespace().as_deref().unwrap_or_default());
        let done = ignore_not_found(
            api.patch_status(
                &claim.name_any(),
                &PatchParams::default(),
                &Patch::Merge(body),
            )
            .await,
        )?;
        if let (Some(_), Some((kind, reason, message))) = (done, event) {
            self.recorder.record(claim, kind, reason, message);
        }
        Ok(())
    }

    async fn patch_volume_status(
        &self,
        volume: &PersistentVolume,
        mut status: Value,
    ) -> anyhow::Result<()> {
        status["lastPhaseTransitionTime"] = json!(rkube_machinery::time::now_rfc3339());
        ignore_not_found(
            self.volumes_api()
                .patch_status(
                    &volume.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": status})),
                )
                .await,
        )?;
        Ok(())
    }

    /// Set a volume's phase, with an event (and the status message) when it changes.
    async fn set_volume_phase(
        &self,
        volume: &PersistentVolume,
        phase: &str,
        event: Option<(EventType, &str, String)>,
    ) -> anyhow::Result<()> {
        if volume_phase(volume) == phase {
            return Ok(());
        }
        let message = event.as_ref().map(|e| e.2.clone());
        self.patch_volume_status(volume, json!({"phase": phase, "message": message}))
            .await?;
        if let Some((kind, reason, message)) = event {
            self.recorder.record(volume, kind, reason, message);
        }
        Ok(())
    }

    async fn sync_volume(&self, name: &str) -> anyhow::Result<()> {
        let Some(volume) = self.ctx.informers.persistent_volumes.get(None, name) else {
            return Ok(());
        };
        let Some(r) = volume.spec.as_ref().and_then(|s| s.claim_ref.clone()) else {
            return self.set_volume_phase(&volume, "Available", None).await;
        };
        let Some(uid) = claim_ref_uid(&volume).map(str::to_string) else {
            // Pre-bound by the user to a claim that is not bound yet.
            return self.set_volume_phase(&volume, "Available", None).await;
        };
        let (ns, claim_name) = (
            r.namespace.clone().unwrap_or_default(),
            r.name.clone().unwrap_or_default(),
        );
        let mut claim = self
            .ctx
            .informers
            .persistent_volume_claims
            .get(Some(&ns), &claim_name);
        if claim.is_none() {
            // The cache may lag: ask the server before releasing anything.
            claim = ignore_not_found(self.claims_api(&ns).get(&claim_name).await)?.map(Arc::new);
        }
        let claim = claim.filter(|c| c.metadata.uid.as_deref() == Some(uid.as_str()));
        let Some(claim) = claim else {
            if volume_phase(&volume) != "Released" && volume_phase(&volume) != "Failed" {
                self.set_volume_phase(&volume, "Released", None).await?;
            }
            return self.reclaim(&volume).await;
        };
        let bound_to = claim
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.clone())
            .unwrap_or_default();
        if bound_to.is_empty() {
            if !volume_modes_match(&claim, &volume) {
                self.recorder.warning(
                    volume.as_ref(),
                    "VolumeMismatch",
                    format!(
                        "Cannot bind PersistentVolume to requested PersistentVolumeClaim \"{claim_name}\" due to incompatible volumeMode."
                    ),
                );
                return Ok(());
            }
            // Binding in progress (or a dangling user binding): the claim's sync finishes it.
            self.claims.add(Key::new(ns, claim_name));
            return Ok(());
        }
        if bound_to == name {
            return self.set_volume_phase(&volume, "Bound", None).await;
        }
        // The claim is bound to another volume.
        let policy = volume
            .spec
            .as_ref()
            .and_then(|s| s.persistent_volume_reclaim_policy.as_deref());
        if has_annotation(volume.as_ref(), PROVISIONED_BY) && policy == Some("Delete") {
            if volume_phase(&volume) != "Released" && volume_phase(&volume) != "Failed" {
                self.set_volume_phase(&volume, "Released", None).await?;
            }
            return self.reclaim(&volume).await;
        }
        if has_annotation(volume.as_ref(), BOUND_BY_CONTROLLER) {
            // Our choice lost a race to another volume: make this one available again.
            let body = json!({"metadata": {"annotations": {BOUND_BY_CONTROLLER: null}},
                "spec": {"claimRef": null}});
            if let Some(v) = ignore_not_found(
                self.volumes_api()
                    .patch(
                        name,
                        &PatchParams::default(),
                        &guarded(volume.as_ref(), body),
                    )
                    .await,
            )? {
                self.set_volume_phase(&v, "Available", None).await?;
            }
        }
        Ok(())
    }

    /// What a Released volume's reclaim policy asks for.
    async fn reclaim(&self, volume: &PersistentVolume) -> anyhow::Result<()> {
        let policy = volume
            .spec
            .as_ref()
            .and_then(|s| s.persistent_volume_reclaim_policy.as_deref())
            .unwrap_or("Retain");
        match policy {
            "Retain" => Ok(()),
            "Delete" => {
                let by = annotation(volume, PROVISIONED_BY);
                if by == Some(provisioner::PROVISIONER) {
                    return provisioner::delete(&self.ctx, volume).await;
                }
                let csi = volume.spec.as_ref().and_then(|s| s.csi.as_ref()).is_some();
                if by.is_some() || csi {
                    // Another provisioner's volume: it deletes it.
                    return Ok(());
                }
                let message = format!(
                    "error getting deleter volume plugin for volume \"{}\": no deletable volume plugin matched",
                    volume.name_any()
                );
                let e = (EventType::Warning, "VolumeFailedDelete", message);
                self.set_volume_phase(volume, "Failed", Some(e)).await
            }
            _ => {
                let e = (
                    EventType::Warning,
                    "VolumeFailedRecycle",
                    "No recycler plugin found for the volume!".to_string(),
                );
                self.set_volume_phase(volume, "Failed", Some(e)).await
            }
        }
    }
}
