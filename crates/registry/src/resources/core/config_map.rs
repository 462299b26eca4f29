//! ConfigMap (v1): the rules of `configmaps`: keys are config keys, a key may not be in both
//! `data` and `binaryData`, the total size is at most 1 MiB, and `immutable: true` freezes the
//! contents.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::core::v1::ConfigMap;
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath};

/// Largest total size of a ConfigMap's or Secret's data.
pub const MAX_SIZE: usize = 1024 * 1024;

/// The rules of ConfigMap objects.
pub struct ConfigMapStrategy;

impl TypedStrategy for ConfigMapStrategy {
    type Object = ConfigMap;

    fn validate(&self, cm: &ConfigMap) -> ErrorList {
        let mut errs = ErrorList::new();
        let mut total = 0;
        for (key, value) in cm.data.iter().flatten() {
            let p = FieldPath::new("data").key(key);
            errs.extend(v::wrap(v::is_config_map_key(key), key, &p));
            if cm.binary_data.as_ref().is_some_and(|b| b.contains_key(key)) {
                errs.push(FieldError::invalid(
                    p,
                    key.as_str(),
                    "duplicate of key present in binaryData",
                ));
            }
            total += value.len();
        }
        for (key, value) in cm.binary_data.iter().flatten() {
            errs.extend(v::wrap(
                v::is_config_map_key(key),
                key,
                &FieldPath::new("binaryData").key(key),
            ));
            total += value.0.len();
        }
        if total > MAX_SIZE {
            errs.push(FieldError::too_long(FieldPath::new(""), MAX_SIZE));
        }
        errs
    }

    fn validate_update(&self, new: &ConfigMap, old: &ConfigMap) -> ErrorList {
        let mut errs = ErrorList::new();
        if old.immutable == Some(true) {
            let frozen = [
                ("immutable", new.immutable != Some(true)),
                ("data", new.data != old.data),
                ("binaryData", new.binary_data != old.binary_data),
            ];
            for (field, _) in frozen.iter().filter(|(_, changed)| *changed) {
                errs.push(FieldError::forbidden(
                    FieldPath::new(field),
                    "field is immutable when `immutable` is set",
                ));
            }
        }
        errs.extend(self.validate(new));
        errs
    }
}

#[cfg(test)]
mod tests {
    use crate::resources::core::testing::{create_error, update_error};
    use serde_json::json;

    #[test]
    fn keys_and_immutability() {
        let cm = |data: serde_json::Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data});
        assert_eq!(
            create_error("configmaps", cm(json!({"a b": "x"}))),
            "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
        );
        let mut frozen = cm(json!({"a": "1"}));
        frozen["immutable"] = json!(true);
        let mut changed = cm(json!({"a": "2"}));
        changed["immutable"] = json!(true);
        assert_eq!(
            update_error("configmaps", frozen, changed),
            "data: Forbidden: field is immutable when `immutable` is set"
        );
    }
}
