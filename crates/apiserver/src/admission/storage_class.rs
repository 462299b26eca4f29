//! DefaultStorageClass, as upstream's admission plugin of that name: a PersistentVolumeClaim
//! created without `spec.storageClassName` (and without the old beta annotation) gets the
//! cluster's default StorageClass, the one annotated
//! `storageclass.kubernetes.io/is-default-class: "true"`. With several defaults the newest wins
//! (ties by name); with none the claim is left alone. An explicit `""` means "no class" and is
//! kept.

use crate::handler::Api;
use rkube_machinery::ApiError;
use serde_json::{Value, json};

/// The annotation that marks the default class (and its beta spelling, still honoured).
pub const IS_DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
const IS_DEFAULT_CLASS_BETA: &str = "storageclass.beta.kubernetes.io/is-default-class";
/// The claim annotation that named a class before `spec.storageClassName` existed.
const BETA_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

pub(super) fn admit(api: &Api, claim: &mut Value) -> Result<(), ApiError> {
    if !claim["spec"]["storageClassName"].is_null()
        || claim["metadata"]["annotations"][BETA_CLASS_ANNOTATION].is_string()
    {
        return Ok(());
    }
    let info = rkube_registry::catalog::find("storage.k8s.io", "v1", "storageclasses")
        .ok_or_else(|| ApiError::internal("storageclasses are not in the catalog"))?;
    let classes: Vec<Value> = api
        .caches
        .get(info)
        .map(|c| c.list(&Default::default()).items)
        .unwrap_or_default()
        .iter()
        .filter_map(|o| serde_json::from_slice::<Value>(&o.json).ok())
        .collect();
    if let Some(name) = default_class(&classes) {
        claim["spec"]["storageClassName"] = json!(name);
    }
    Ok(())
}

/// The name of the default class among `classes`: the newest of those annotated as default.
fn default_class(classes: &[Value]) -> Option<String> {
    let is_default = |c: &&Value| {
        let ann = &c["metadata"]["annotations"];
        ann[IS_DEFAULT_CLASS] == "true" || ann[IS_DEFAULT_CLASS_BETA] == "true"
    };
    classes
        .iter()
        .filter(is_default)
        .map(|c| {
            (
                c["metadata"]["creationTimestamp"]
                    .as_str()
                    .unwrap_or_default(),
                c["metadata"]["name"].as_str().unwrap_or_default(),
            )
        })
        // Newest first; equal timestamps by name.
        .min_by(|a, b| b.0.cmp(a.0).then(a.1.cmp(b.1)))
        .map(|(_, name)| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, created: &str, default: Option<&str>) -> Value {
        let mut c = json!({"metadata": {"name": name, "creationTimestamp": created}});
        if let Some(d) = default {
            c["metadata"]["annotations"] = json!({IS_DEFAULT_CLASS: d});
        }
        c
    }

    #[test]
    fn the_newest_default_class_wins() {
        let classes = [
            class("old", "2024-01-01T00:00:00Z", Some("true")),
            class("new", "2025-01-01T00:00:00Z", Some("true")),
            class("off", "2026-01-01T00:00:00Z", Some("false")),
            class("plain", "2026-01-01T00:00:00Z", None),
        ];
        assert_eq!(default_class(&classes).as_deref(), Some("new"));
        let tie = [
            class("b", "2025-01-01T00:00:00Z", Some("true")),
            class("a", "2025-01-01T00:00:00Z", Some("true")),
        ];
        assert_eq!(default_class(&tie).as_deref(), Some("a"));
        assert_eq!(default_class(&classes[2..]), None);
    }
}
