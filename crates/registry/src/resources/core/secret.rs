//! Secret (v1): the rules of `secrets`: `stringData` is merged into `data` (as upstream's
//! conversion does), the type defaults to `Opaque` and may not change, keys are config keys,
//! each built-in type requires its keys, and `immutable: true` freezes the contents.

use super::config_map::MAX_SIZE;
use crate::strategy::TypedStrategy;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath};

/// The rules of Secret objects.
pub struct SecretStrategy;

impl TypedStrategy for SecretStrategy {
    type Object = Secret;
    const FIELDS: &'static [&'static str] = &["type"];

    fn default(&self, s: &mut Secret) {
        if s.type_.as_deref().unwrap_or("").is_empty() {
            s.type_ = Some("Opaque".into());
        }
        if let Some(strings) = s.string_data.take() {
            let data = s.data.get_or_insert_default();
            for (k, value) in strings {
                data.insert(k, ByteString(value.into_bytes()));
            }
        }
    }

    fn validate(&self, s: &Secret) -> ErrorList {
        let data_path = FieldPath::new("data");
        let mut errs = ErrorList::new();
        let mut total = 0;
        for (key, value) in s.data.iter().flatten() {
            errs.extend(v::wrap(v::is_config_map_key(key), key, &data_path.key(key)));
            total += value.0.len();
        }
        if total > MAX_SIZE {
            errs.push(FieldError::too_long(data_path.clone(), MAX_SIZE));
        }
        errs.extend(validate_type_keys(s, &data_path));
        errs
    }

    fn validate_update(&self, new: &Secret, old: &Secret) -> ErrorList {
        let mut errs = ErrorList::new();
        if new.type_ != old.type_ {
            errs.push(FieldError::invalid(
                FieldPath::new("type"),
                new.type_.clone().unwrap_or_default(),
                "field is immutable",
            ));
        }
        if old.immutable == Some(true) {
            for (field, changed) in [
                ("immutable", new.immutable != Some(true)),
                ("data", new.data != old.data),
            ] {
                if changed {
                    errs.push(FieldError::forbidden(
                        FieldPath::new(field),
                        "field is immutable when `immutable` is set",
                    ));
                }
            }
        }
        errs.extend(self.validate(new));
        errs
    }

    fn field_values(&self, s: &Secret) -> Vec<(&'static str, String)> {
        vec![("type", s.type_.clone().unwrap_or_default())]
    }
}

/// Keys each built-in secret type requires.
fn validate_type_keys(s: &Secret, data_path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let data = s.data.clone().unwrap_or_default();
    let has = |k: &str| data.contains_key(k);
    let required =
        |errs: &mut ErrorList, k: &str| errs.push(FieldError::required(data_path.key(k), ""));
    match s.type_.as_deref().unwrap_or("") {
        "kubernetes.io/service-account-token" => {
            let name = s
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("kubernetes.io/service-account.name"));
            if name.is_none_or(|n| n.is_empty()) {
                errs.push(FieldError::required(
                    FieldPath::new("metadata")
                        .child("annotations")
                        .key("kubernetes.io/service-account.name"),
                    "",
                ));
            }
        }
        "kubernetes.io/dockercfg" => errs.extend(json_key(&data, ".dockercfg", data_path)),
        "kubernetes.io/dockerconfigjson" => {
            errs.extend(json_key(&data, ".dockerconfigjson", data_path))
        }
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            required(&mut errs, "username");
            required(&mut errs, "password");
        }
        "kubernetes.io/ssh-auth" if data.get("ssh-privatekey").is_none_or(|v| v.0.is_empty()) => {
            required(&mut errs, "ssh-privatekey")
        }
        "kubernetes.io/tls" => {
            for k in ["tls.crt", "tls.key"] {
                if !has(k) {
                    required(&mut errs, k);
                }
            }
        }
        _ => {}
    }
    errs
}

/// A key that must hold a JSON object.
fn json_key(
    data: &std::collections::BTreeMap<String, ByteString>,
    key: &str,
    data_path: &FieldPath,
) -> ErrorList {
    let mut errs = ErrorList::new();
    match data.get(key) {
        None => errs.push(FieldError::required(data_path.key(key), "")),
        Some(bytes) => {
            if let Err(e) =
                serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes.0)
            {
                errs.push(FieldError::invalid(
                    data_path.key(key),
                    "<secret contents redacted>",
                    e.to_string(),
                ));
            }
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use crate::resources::core::testing::{create, create_error, update_error};
    use serde_json::{Value, json};

    fn secret(ty: Option<&str>, data: Value) -> Value {
        let mut s =
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": data});
        if let Some(t) = ty {
            s["type"] = json!(t);
        }
        s
    }

    #[test]
    fn defaults_and_string_data() {
        let mut s = secret(None, json!({"a": "eA=="}));
        s["stringData"] = json!({"b": "y"});
        let (stored, errs) = create("secrets", s);
        assert!(errs.is_empty(), "{}", errs.aggregate_message());
        assert_eq!(stored["type"], "Opaque");
        assert_eq!(stored["data"], json!({"a": "eA==", "b": "eQ=="}));
        assert!(stored.get("stringData").is_none());
    }

    #[test]
    fn per_type_keys_and_immutable_type() {
        assert_eq!(
            create_error(
                "secrets",
                secret(Some("kubernetes.io/tls"), json!({"tls.crt": "eA=="}))
            ),
            "data[tls.key]: Required value"
        );
        assert_eq!(
            create_error(
                "secrets",
                secret(Some("kubernetes.io/dockerconfigjson"), json!({}))
            ),
            "data[.dockerconfigjson]: Required value"
        );
        assert_eq!(
            update_error(
                "secrets",
                secret(None, json!({})),
                secret(
                    Some("kubernetes.io/basic-auth"),
                    json!({"username": "eA=="})
                )
            ),
            "type: Invalid value: \"kubernetes.io/basic-auth\": field is immutable"
        );
    }
}
