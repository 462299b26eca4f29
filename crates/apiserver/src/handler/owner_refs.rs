//! Duplicate owner references: upstream drops exact repeats from `metadata.ownerReferences` on
//! every write and tells the client with a `Warning` naming the repeated UIDs.

use serde_json::Value;

/// When in the request the repeats were found: in the body of a create or update, or in the
/// result of a patch (which upstream only checks after mutating admission).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    InBody,
    AfterPatch,
}

/// Remove exact repeats from `obj`'s owner references; the warning to send, if there were any.
pub fn dedup(obj: &mut Value, found: Found) -> Option<String> {
    let refs = obj
        .get_mut("metadata")
        .and_then(|m| m.get_mut("ownerReferences"))
        .and_then(Value::as_array_mut)?;
    let mut kept: Vec<Value> = Vec::with_capacity(refs.len());
    let mut repeated: Vec<String> = Vec::new();
    for r in refs.drain(..) {
        if kept.contains(&r) {
            repeated.push(r["uid"].as_str().unwrap_or_default().to_string());
        } else {
            kept.push(r);
        }
    }
    *refs = kept;
    if repeated.is_empty() {
        return None;
    }
    let when = match found {
        Found::InBody => "",
        Found::AfterPatch => " after mutating admission happens",
    };
    Some(format!(
        ".metadata.ownerReferences contains duplicate entries{when}; API server dedups owner references in 1.20+, and may reject such requests as early as 1.24; please fix your requests; duplicate UID(s) observed: {}",
        repeated.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exact_repeats_go_with_a_warning() {
        let a = json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "a", "uid": "u1"});
        let other = json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "b", "uid": "u1"});
        let mut obj = json!({"metadata": {"ownerReferences": [a, a, other]}});
        let warning = dedup(&mut obj, Found::InBody).unwrap();
        assert!(
            warning.ends_with("duplicate UID(s) observed: u1"),
            "{warning}"
        );
        assert_eq!(obj["metadata"]["ownerReferences"], json!([a, other]));
        assert_eq!(dedup(&mut obj, Found::AfterPatch), None);
    }
}
