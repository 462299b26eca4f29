//! StorageClass (storage.k8s.io/v1): the rules of `storageclasses`.
//!
//! Upstream: `SetDefaults_StorageClass` (delete volumes when released, bind immediately) and
//! `ValidateStorageClass`/`ValidateStorageClassUpdate` (`pkg/apis/storage/validation`): a
//! provisioner, known policies, and provisioner, parameters and policies fixed once created.

use crate::resources::apps::shared::{IMMUTABLE_MSG, str_value};
use crate::strategy::TypedStrategy;
use k8s_openapi::api::storage::v1::StorageClass;
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath};

/// The most parameters a class may have.
const MAX_PARAMETERS: usize = 512;
/// The most bytes all parameter keys and values may take together.
const MAX_PARAMETERS_SIZE: usize = 256 * 1024;

/// The rules of StorageClass objects.
pub struct StorageClassStrategy;

impl TypedStrategy for StorageClassStrategy {
    type Object = StorageClass;

    fn default(&self, obj: &mut StorageClass) {
        obj.reclaim_policy.get_or_insert_with(|| "Delete".into());
        obj.volume_binding_mode
            .get_or_insert_with(|| "Immediate".into());
    }

    fn validate(&self, obj: &StorageClass) -> ErrorList {
        let mut errs = validate_provisioner(&obj.provisioner);
        errs.extend(validate_parameters(obj));
        if let Some(policy) = obj
            .reclaim_policy
            .as_deref()
            .filter(|p| !p.is_empty() && *p != "Delete" && *p != "Retain")
        {
            errs.push(FieldError::not_supported(
                FieldPath::new("reclaimPolicy"),
                policy,
                &["Delete", "Retain"],
            ));
        }
        match obj.volume_binding_mode.as_deref() {
            None => errs.push(FieldError::required(
                FieldPath::new("volumeBindingMode"),
                "",
            )),
            Some("Immediate" | "WaitForFirstConsumer") => {}
            Some(other) => errs.push(FieldError::not_supported(
                FieldPath::new("volumeBindingMode"),
                other,
                &["Immediate", "WaitForFirstConsumer"],
            )),
        }
        errs
    }

    fn validate_update(&self, new: &StorageClass, old: &StorageClass) -> ErrorList {
        let mut errs = self.validate(new);
        if new.parameters != old.parameters {
            errs.push(FieldError::forbidden(
                FieldPath::new("parameters"),
                "updates to parameters are forbidden.",
            ));
        }
        if new.provisioner != old.provisioner {
            errs.push(FieldError::forbidden(
                FieldPath::new("provisioner"),
                "updates to provisioner are forbidden.",
            ));
        }
        if new.reclaim_policy != old.reclaim_policy {
            errs.push(FieldError::forbidden(
                FieldPath::new("reclaimPolicy"),
                "updates to reclaimPolicy are forbidden.",
            ));
        }
        if new.volume_binding_mode != old.volume_binding_mode {
            errs.push(FieldError::invalid(
                FieldPath::new("volumeBindingMode"),
                str_value(new.volume_binding_mode.as_ref()),
                IMMUTABLE_MSG,
            ));
        }
        errs
    }
}

/// A provisioner is required and is a qualified name (compared in lower case).
fn validate_provisioner(provisioner: &str) -> ErrorList {
    let mut errs = ErrorList::new();
    let path = FieldPath::new("provisioner");
    if provisioner.is_empty() {
        errs.push(FieldError::required(path, ""));
        return errs;
    }
    for m in v::is_qualified_name(&provisioner.to_lowercase()) {
        errs.push(FieldError::invalid(
            path.clone(),
            provisioner.to_lowercase(),
            m,
        ));
    }
    errs
}

/// At most 512 parameters of at most 256 KiB in all, with non-empty keys.
fn validate_parameters(obj: &StorageClass) -> ErrorList {
    let mut errs = ErrorList::new();
    let path = FieldPath::new("parameters");
    let Some(params) = &obj.parameters else {
        return errs;
    };
    if params.len() > MAX_PARAMETERS {
        errs.push(FieldError::too_long(path, MAX_PARAMETERS));
        return errs;
    }
    if params.keys().any(String::is_empty) {
        errs.push(FieldError::invalid(
            path.clone(),
            "",
            "field can not be empty.",
        ));
    }
    let size: usize = params.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_PARAMETERS_SIZE {
        errs.push(FieldError::too_long(path, MAX_PARAMETERS_SIZE));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn class(v: serde_json::Value) -> StorageClass {
        let mut sc: StorageClass = serde_json::from_value(v).unwrap();
        StorageClassStrategy.default(&mut sc);
        sc
    }

    fn messages(errs: ErrorList) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn defaults_and_messages() {
        let sc = class(
            json!({"metadata": {"name": "standard"}, "provisioner": "rancher.io/local-path"}),
        );
        assert_eq!(
            (
                sc.reclaim_policy.as_deref(),
                sc.volume_binding_mode.as_deref()
            ),
            (Some("Delete"), Some("Immediate"))
        );
        assert!(StorageClassStrategy.validate(&sc).is_empty());
        let bad = class(
            json!({"metadata": {"name": "x"}, "reclaimPolicy": "Recycle", "volumeBindingMode": "Later"}),
        );
        assert_eq!(
            messages(StorageClassStrategy.validate(&bad)),
            vec![
                "provisioner: Required value",
                r#"reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain""#,
                r#"volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer""#,
            ]
        );
        let mut changed = sc.clone();
        changed.parameters = Some([("type".to_string(), "ssd".to_string())].into());
        assert_eq!(
            messages(StorageClassStrategy.validate_update(&changed, &sc)),
            vec!["parameters: Forbidden: updates to parameters are forbidden."]
        );
    }
}
