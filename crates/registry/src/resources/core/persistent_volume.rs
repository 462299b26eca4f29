//! PersistentVolume (v1): the rules of `persistentvolumes`: `Retain` reclaim policy and
//! `Filesystem` volume mode by default, new volumes `Pending`, and a spec with access modes,
//! a storage capacity and exactly one volume source.

use super::persistent_volume_claim::{VOLUME_MODES, validate_access_modes};
use super::pod::not_supported_unless;
use super::resources::parse_quantity;
use crate::strategy::TypedStrategy;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeSpec, PersistentVolumeStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use rkube_machinery::quantity::Quantity;
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath, Value};

/// The rules of PersistentVolume objects.
pub struct PersistentVolumeStrategy;

impl TypedStrategy for PersistentVolumeStrategy {
    type Object = PersistentVolume;

    fn default(&self, pv: &mut PersistentVolume) {
        let spec = pv.spec.get_or_insert_default();
        spec.persistent_volume_reclaim_policy
            .get_or_insert_with(|| "Retain".into());
        spec.volume_mode.get_or_insert_with(|| "Filesystem".into());
    }

    fn prepare_for_create(&self, pv: &mut PersistentVolume) {
        pv.status = Some(PersistentVolumeStatus {
            phase: Some("Pending".into()),
            last_phase_transition_time: Some(Time(now_seconds())),
            ..Default::default()
        });
    }

    fn validate(&self, pv: &PersistentVolume) -> ErrorList {
        validate_spec(
            pv.spec.as_ref().unwrap_or(&PersistentVolumeSpec::default()),
            &FieldPath::new("spec"),
        )
    }
}

/// Now, at the second precision the API serialises.
fn now_seconds() -> k8s_openapi::jiff::Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    k8s_openapi::jiff::Timestamp::from_second(secs)
        .unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH)
}

/// The JSON names of the volume sources a PV sets.
fn sources(spec: &PersistentVolumeSpec) -> Vec<&'static str> {
    let set = [
        ("hostPath", spec.host_path.is_some()),
        ("gcePersistentDisk", spec.gce_persistent_disk.is_some()),
        (
            "awsElasticBlockStore",
            spec.aws_elastic_block_store.is_some(),
        ),
        ("glusterfs", spec.glusterfs.is_some()),
        ("flocker", spec.flocker.is_some()),
        ("nfs", spec.nfs.is_some()),
        ("rbd", spec.rbd.is_some()),
        ("quobyte", spec.quobyte.is_some()),
        ("cephFS", spec.cephfs.is_some()),
        ("iscsi", spec.iscsi.is_some()),
        ("cinder", spec.cinder.is_some()),
        ("fc", spec.fc.is_some()),
        ("flexVolume", spec.flex_volume.is_some()),
        ("azureFile", spec.azure_file.is_some()),
        ("vsphereVolume", spec.vsphere_volume.is_some()),
        (
            "photonPersistentDisk",
            spec.photon_persistent_disk.is_some(),
        ),
        ("portworxVolume", spec.portworx_volume.is_some()),
        ("azureDisk", spec.azure_disk.is_some()),
        ("scaleIO", spec.scale_io.is_some()),
        ("local", spec.local.is_some()),
        ("storageos", spec.storageos.is_some()),
        ("csi", spec.csi.is_some()),
    ];
    set.into_iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| n)
        .collect()
}

fn validate_spec(spec: &PersistentVolumeSpec, path: &FieldPath) -> ErrorList {
    let mut errs = validate_access_modes(
        spec.access_modes.as_deref().unwrap_or(&[]),
        &path.child("accessModes"),
        "",
    );
    errs.extend(validate_capacity(spec, &path.child("capacity")));
    if let Some(p) = spec
        .persistent_volume_reclaim_policy
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        errs.extend(not_supported_unless(
            p,
            &["Delete", "Recycle", "Retain"],
            &path.child("persistentVolumeReclaimPolicy"),
        ));
    }
    let srcs = sources(spec);
    for extra in srcs.iter().skip(1) {
        errs.push(FieldError::forbidden(
            path.child(extra),
            "may not specify more than 1 volume type",
        ));
    }
    match srcs.first() {
        None => errs.push(FieldError::required(
            path.clone(),
            "must specify a volume type",
        )),
        Some(&"hostPath") => errs.extend(required_path(
            spec.host_path.as_ref().map(|h| h.path.as_str()),
            &path.child("hostPath"),
        )),
        Some(&"local") => errs.extend(required_path(
            spec.local.as_ref().map(|l| l.path.as_str()),
            &path.child("local"),
        )),
        Some(&"nfs") => {
            let nfs = spec.nfs.as_ref();
            if nfs.is_some_and(|n| n.server.is_empty()) {
                errs.push(FieldError::required(path.child("nfs").child("server"), ""));
            }
            errs.extend(required_path(
                nfs.map(|n| n.path.as_str()),
                &path.child("nfs"),
            ));
        }
        Some(&"csi") => {
            let csi = spec.csi.as_ref();
            if csi.is_some_and(|c| c.driver.is_empty()) {
                errs.push(FieldError::required(path.child("csi").child("driver"), ""));
            }
            if csi.is_some_and(|c| c.volume_handle.is_empty()) {
                errs.push(FieldError::required(
                    path.child("csi").child("volumeHandle"),
                    "",
                ));
            }
        }
        Some(_) => {}
    }
    if let Some(sc) = spec.storage_class_name.as_deref().filter(|s| !s.is_empty()) {
        errs.extend(v::validate_dns1123_subdomain(
            sc,
            &path.child("storageClassName"),
        ));
    }
    if let Some(mode) = spec.volume_mode.as_deref() {
        errs.extend(not_supported_unless(
            mode,
            &VOLUME_MODES,
            &path.child("volumeMode"),
        ));
    }
    errs
}

fn required_path(p: Option<&str>, source_path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    match p {
        Some("") => errs.push(FieldError::required(source_path.child("path"), "")),
        Some(p) if p.split('/').any(|part| part == "..") => errs.push(FieldError::invalid(
            source_path.child("path"),
            p,
            "must not contain '..'",
        )),
        _ => {}
    }
    errs
}

fn validate_capacity(spec: &PersistentVolumeSpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let capacity = spec.capacity.clone().unwrap_or_default();
    if capacity.is_empty() {
        errs.push(FieldError::required(path.clone(), ""));
    }
    if !capacity.contains_key("storage") || capacity.len() > 1 {
        let entries: Vec<String> = capacity
            .iter()
            .map(|(k, q)| format!("{}:{}", Value::quote(k), q.0))
            .collect();
        let value = Value::Raw(format!("core.ResourceList{{{}}}", entries.join(", ")));
        errs.push(FieldError::not_supported(path.clone(), value, &["storage"]));
    }
    for (name, raw) in &capacity {
        let p = path.key(name);
        if let Some(q) = parse_quantity(raw, &p, &mut errs)
            && q <= Quantity::ZERO
        {
            errs.push(FieldError::invalid(
                p,
                q.canonical(),
                "must be greater than zero",
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use crate::resources::core::testing::{create, create_error};
    use serde_json::json;

    #[test]
    fn defaults_and_sources() {
        let pv = json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "v"},
            "spec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}, "hostPath": {"path": "/data"}}});
        let (stored, errs) = create("persistentvolumes", pv);
        assert!(errs.is_empty(), "{}", errs.aggregate_message());
        assert_eq!(stored["spec"]["persistentVolumeReclaimPolicy"], "Retain");
        assert_eq!(stored["spec"]["volumeMode"], "Filesystem");
        assert_eq!(stored["status"]["phase"], "Pending");
        let no_source = json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "v"},
            "spec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}});
        assert_eq!(
            create_error("persistentvolumes", no_source),
            "spec: Required value: must specify a volume type"
        );
    }
}
