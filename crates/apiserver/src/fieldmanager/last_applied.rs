//! Moving an object from client-side `kubectl apply` to `kubectl apply --server-side`, as
//! upstream's field manager does for the manager named `kubectl`:
//!
//! - fields that the client-side apply annotation (`kubectl.kubernetes.io/last-applied-configuration`)
//!   still describes exactly are not conflicts: the server-side applier takes them over;
//! - while the object keeps that annotation, each server-side apply rewrites it to the applied
//!   configuration, so a later client-side apply computes its three-way merge from it.

use super::FieldSet;
use rkube_registry::patch_meta::Node;
use serde_json::{Map, Value};

/// The annotation client-side apply keeps its configuration in.
pub const ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The only manager whose applies upgrade and keep the annotation (others opt out by name).
const KUBECTL: &str = "kubectl";

fn annotation(obj: &Value) -> Option<&str> {
    obj.get("metadata")?
        .get("annotations")?
        .get(ANNOTATION)?
        .as_str()
        .filter(|s| !s.is_empty())
}

/// The fields `manager` may take over without a conflict: those of the live object's
/// last-applied configuration whose values the live object still has. Empty unless the manager
/// is `kubectl` and the annotation is there, parses, and is of the object's apiVersion.
pub fn allowed_conflicts(manager: &str, live: &Value, schema: Option<Node>) -> FieldSet {
    if manager != KUBECTL {
        return FieldSet::default();
    }
    let Some(last) = annotation(live).and_then(|a| serde_json::from_str::<Value>(a).ok()) else {
        return FieldSet::default();
    };
    if last.get("apiVersion") != live.get("apiVersion") {
        return FieldSet::default();
    }
    let (changed, removed) = FieldSet::diff(Some(&last), live, schema);
    FieldSet::from_value(&last, schema)
        .difference(&changed)
        .difference(&removed)
}

/// After a successful apply by `manager`: keep the annotation of an object that has one in step
/// with `config` (without the annotation itself), encoded as upstream encodes it.
pub fn sync_annotation(manager: &str, merged: &mut Value, config: &Value) {
    if manager != KUBECTL || annotation(merged).is_none() {
        return;
    }
    let mut applied = config.clone();
    if let Some(ann) = applied
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
        .and_then(Value::as_object_mut)
    {
        ann.remove(ANNOTATION);
    }
    // Go's JSON encoder ends the document with a newline, and so does the annotation.
    let text = format!("{}\n", sorted(applied));
    merged["metadata"]["annotations"][ANNOTATION] = Value::String(text);
}

/// `v` with every object's keys in byte order (Go's encoding of a map).
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(String, Value)> = m.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sorted(v)))
                    .collect::<Map<_, _>>(),
            )
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}
