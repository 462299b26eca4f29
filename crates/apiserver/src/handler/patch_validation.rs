//! `fieldValidation` for PATCH: the patched object is decoded like a POST body, and the fields
//! its type does not know are refused (Strict), reported in `Warning` headers (Warn, the
//! default) or dropped (Ignore).
//!
//! Upstream words a Strict refusal as an invalid `patch` field whose value is what it decoded:
//! the patch document for a strategic merge patch (printed as Go prints a map), the patched
//! object's JSON for JSON and merge patches.

use super::ApiRequest;
use crate::patch::PatchKind;
use rkube_machinery::ApiError;
use rkube_machinery::field::{ErrorList, FieldError, FieldPath, Value as BadValue};
use serde_json::Value;

/// Decode `patched` (the result of a `kind` patch with document `patch`) as `req`'s type and
/// apply the request's `fieldValidation`: the object to write and the warnings to send.
/// A body that does not decode is passed on as it is (validation reports it).
pub fn check(
    req: &ApiRequest,
    kind: PatchKind,
    patch: &Value,
    patched: Value,
) -> Result<(Value, Vec<String>), ApiError> {
    let decoded = match req.strategy()?.decode(patched.clone()) {
        Ok(d) => d,
        Err(_) => return Ok((patched, Vec::new())),
    };
    if decoded.unknown_fields.is_empty() {
        return Ok((patched, Vec::new()));
    }
    let unknown: Vec<String> = decoded
        .unknown_fields
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    match req.query.get("fieldValidation").unwrap_or("") {
        "Strict" => {
            let value = match kind {
                PatchKind::Strategic => go_format(patch),
                _ => patched.to_string(),
            };
            let mut errors = ErrorList::new();
            errors.push(FieldError::invalid(
                FieldPath::new("patch"),
                BadValue::Str(value),
                format!("strict decoding error: {}", unknown.join(", ")),
            ));
            Err(ApiError::invalid("", "", "", &errors))
        }
        "Ignore" => Ok((decoded.object, Vec::new())),
        _ => Ok((decoded.object, unknown)),
    }
}

/// A JSON value as Go's `%+v` prints the `map[string]interface{}` it decodes to: maps as
/// `map[k:v ...]` with sorted keys, lists as `[a b]`, strings bare, null as `<nil>`.
pub fn go_format(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_format).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}:{}", go_format(&m[k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_print_like_go() {
        assert_eq!(
            go_format(&json!({"b": [1, "x", null], "a": {"z": true, "c": "d"}})),
            "map[a:map[c:d z:true] b:[1 x <nil>]]"
        );
    }
}
