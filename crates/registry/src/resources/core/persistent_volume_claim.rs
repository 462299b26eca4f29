//! PersistentVolumeClaim (v1): the rules of `persistentvolumeclaims`: `Filesystem` volume mode
//! by default, new claims `Pending`, access modes and a positive storage request required, and
//! a spec that is immutable after creation except for growing the request.

use super::resources::parse_quantity;
use crate::strategy::TypedStrategy;
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeClaimStatus,
};
use rkube_machinery::quantity::Quantity;
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath};

/// Access modes, in upstream's sorted order.
pub const ACCESS_MODES: [&str; 4] = [
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOnce",
    "ReadWriteOncePod",
];
/// Volume modes, in upstream's sorted order.
pub const VOLUME_MODES: [&str; 2] = ["Block", "Filesystem"];

/// The rules of PersistentVolumeClaim objects.
pub struct PersistentVolumeClaimStrategy;

impl TypedStrategy for PersistentVolumeClaimStrategy {
    type Object = PersistentVolumeClaim;

    fn default(&self, pvc: &mut PersistentVolumeClaim) {
        pvc.spec
            .get_or_insert_default()
            .volume_mode
            .get_or_insert_with(|| "Filesystem".into());
    }

    fn prepare_for_create(&self, pvc: &mut PersistentVolumeClaim) {
        pvc.status = Some(PersistentVolumeClaimStatus {
            phase: Some("Pending".into()),
            ..Default::default()
        });
    }

    fn validate(&self, pvc: &PersistentVolumeClaim) -> ErrorList {
        validate_claim_spec(
            pvc.spec
                .as_ref()
                .unwrap_or(&PersistentVolumeClaimSpec::default()),
            &FieldPath::new("spec"),
        )
    }

    fn validate_update(
        &self,
        new: &PersistentVolumeClaim,
        old: &PersistentVolumeClaim,
    ) -> ErrorList {
        let mut errs = self.validate(new);
        let empty = PersistentVolumeClaimSpec::default();
        let (n, o) = (
            new.spec.as_ref().unwrap_or(&empty),
            old.spec.as_ref().unwrap_or(&empty),
        );
        errs.extend(validate_claim_spec_update(n, o, old.status.as_ref()));
        errs
    }
}

/// Access modes: at least one, known ones, and `ReadWriteOncePod` alone.
pub fn validate_access_modes(
    modes: &[String],
    path: &FieldPath,
    required_detail: &str,
) -> ErrorList {
    let mut errs = ErrorList::new();
    if modes.is_empty() {
        errs.push(FieldError::required(path.clone(), required_detail));
    }
    for m in modes {
        if !ACCESS_MODES.contains(&m.as_str()) {
            errs.push(FieldError::not_supported(
                path.clone(),
                m.as_str(),
                &ACCESS_MODES,
            ));
        }
    }
    let rwop = modes.iter().any(|m| m == "ReadWriteOncePod");
    let others = modes
        .iter()
        .any(|m| m != "ReadWriteOncePod" && ACCESS_MODES.contains(&m.as_str()));
    if rwop && others {
        errs.push(FieldError::forbidden(
            path.clone(),
            "may not use ReadWriteOncePod with other access modes",
        ));
    }
    errs
}

fn validate_claim_spec(spec: &PersistentVolumeClaimSpec, path: &FieldPath) -> ErrorList {
    let modes = spec.access_modes.as_deref().unwrap_or(&[]);
    let mut errs = validate_access_modes(
        modes,
        &path.child("accessModes"),
        "at least 1 access mode is required",
    );
    let storage_path = path.child("resources").key("storage");
    match spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
    {
        None => errs.push(FieldError::required(storage_path, "")),
        Some(raw) => {
            if let Some(q) = parse_quantity(raw, &storage_path, &mut errs)
                && q <= Quantity::ZERO
            {
                errs.push(FieldError::invalid(
                    storage_path,
                    q.canonical(),
                    "must be greater than zero",
                ));
            }
        }
    }
    if let Some(sc) = spec.storage_class_name.as_deref().filter(|s| !s.is_empty()) {
        errs.extend(v::validate_dns1123_subdomain(
            sc,
            &path.child("storageClassName"),
        ));
    }
    if let Some(mode) = spec.volume_mode.as_deref() {
        errs.extend(super::pod::not_supported_unless(
            mode,
            &VOLUME_MODES,
            &path.child("volumeMode"),
        ));
    }
    errs
}

fn storage_request(spec: &PersistentVolumeClaimSpec) -> Option<Quantity> {
    let raw = spec.resources.as_ref()?.requests.as_ref()?.get("storage")?;
    Quantity::parse(&raw.0).ok()
}

fn validate_claim_spec_update(
    new: &PersistentVolumeClaimSpec,
    old: &PersistentVolumeClaimSpec,
    old_status: Option<&PersistentVolumeClaimStatus>,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut n = new.clone();
    let mut o = old.clone();
    if o.volume_name.as_deref().unwrap_or("").is_empty() {
        o.volume_name.clone_from(&n.volume_name);
    }
    let bound = old_status.and_then(|s| s.phase.as_deref()) == Some("Bound");
    if bound {
        n.resources.clone_from(&o.resources);
        n.volume_attributes_class_name
            .clone_from(&o.volume_attributes_class_name);
    }
    if serde_json::to_value(&n).ok() != serde_json::to_value(&o).ok() {
        errs.push(FieldError::forbidden(
            FieldPath::new("spec"),
            "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
        ));
    }
    let capacity = old_status
        .and_then(|s| s.capacity.as_ref())
        .and_then(|c| c.get("storage"))
        .and_then(|q| Quantity::parse(&q.0).ok())
        .unwrap_or(Quantity::ZERO);
    if let (Some(ns), Some(os)) = (storage_request(new), storage_request(old))
        && ns < os
        && ns <= capacity
    {
        errs.push(FieldError::forbidden(
            FieldPath::new("spec")
                .child("resources")
                .child("requests")
                .child("storage"),
            "field can not be less than status.capacity",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use crate::resources::core::testing::{create, create_error};
    use serde_json::{Value, json};

    fn pvc(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c"}, "spec": spec})
    }

    #[test]
    fn defaults_and_required_fields() {
        let (stored, errs) = create(
            "persistentvolumeclaims",
            pvc(
                json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}),
            ),
        );
        assert!(errs.is_empty(), "{}", errs.aggregate_message());
        assert_eq!(stored["spec"]["volumeMode"], "Filesystem");
        assert_eq!(stored["status"], json!({"phase": "Pending"}));
        assert_eq!(
            create_error("persistentvolumeclaims", pvc(json!({}))),
            "[spec.accessModes: Required value: at least 1 access mode is required, spec.resources[storage]: Required value]"
        );
    }
}
