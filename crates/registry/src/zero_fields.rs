//! The fields upstream writes even when they hold nothing: Go's JSON encoding always writes
//! struct-typed fields (a nested `ObjectMeta` shows `creationTimestamp: null`, an empty status
//! shows `status: {}`) and fields declared without `omitempty` (a new ReplicaSet's status is
//! `replicas: 0`). Objects here are JSON, built from k8s-openapi structs that omit every unset
//! optional field, so this module puts those fields back where upstream would show them.
//!
//! It also builds the zero value of a type, which is what upstream compares a created object
//! with when it records managed fields: a field the zero value already has (`spec`, a pod
//! template) is not marked as set by itself (`.`), one it lacks (`metadata.labels`) is.

use crate::patch_meta::Node;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

/// Fields that Go's encoding writes although the schema calls them optional: struct-typed
/// (not pointer) fields tagged `omitempty`, and optional fields declared without `omitempty`,
/// as `(definition, field)`.
const ALWAYS_WRITTEN: &[(&str, &str)] = &[
    ("io.k8s.api.apps.v1.DeploymentSpec", "strategy"),
    ("io.k8s.api.apps.v1.DaemonSetSpec", "updateStrategy"),
    ("io.k8s.api.apps.v1.StatefulSetSpec", "updateStrategy"),
    ("io.k8s.api.apps.v1.StatefulSetStatus", "availableReplicas"),
    (
        "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus",
        "currentMetrics",
    ),
    ("io.k8s.api.core.v1.Container", "resources"),
    ("io.k8s.api.core.v1.EphemeralContainer", "resources"),
    ("io.k8s.api.core.v1.PersistentVolumeClaimSpec", "resources"),
    ("io.k8s.api.core.v1.ServiceStatus", "loadBalancer"),
    ("io.k8s.api.networking.v1.IngressStatus", "loadBalancer"),
];

/// Field names that are Go structs wherever they appear in the built-in types.
const STRUCT_FIELDS: &[&str] = &["metadata", "spec", "status"];

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const TIME: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Time";

/// How deep zero values are built (recursive types end in optional fields long before this).
const MAX_DEPTH: usize = 16;

fn is_struct(node: &Node) -> bool {
    node.type_name() == Some("object") && node.field_names().next().is_some()
}

/// Whether Go writes field `name` of struct `parent` even when it is empty.
fn always_written(parent: &Node, name: &str, child: &Node) -> bool {
    let def = parent.definition();
    (STRUCT_FIELDS.contains(&name) && is_struct(child))
        || (def == Some(OBJECT_META) && name == "creationTimestamp")
        || def.is_some_and(|d| ALWAYS_WRITTEN.contains(&(d, name)))
}

/// One field of a struct type, with what [`zero_value`] and [`fill`] need to know of it.
struct FieldInfo {
    name: &'static str,
    node: Node,
    /// Go writes it even when empty ([`always_written`]).
    always: bool,
    /// Part of the zero value: required or always written.
    in_zero: bool,
}

/// What this module knows of one struct type, worked out once per schema node: walking the
/// schema for every object written was a sizeable share of a create's CPU time.
struct StructInfo {
    fields: Vec<FieldInfo>,
}

/// Facts per schema node, by [`Node::identity`].
type NodeCache<T> = RwLock<HashMap<(usize, usize), T>>;

/// The struct facts of `node`, or `None` if it is not a struct with declared fields.
fn struct_info(node: &Node) -> Option<Arc<StructInfo>> {
    static CACHE: OnceLock<NodeCache<Option<Arc<StructInfo>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = node.identity();
    if let Some(found) = cache.read().expect("zero-field cache").get(&key) {
        return found.clone();
    }
    let info = is_struct(node).then(|| {
        let fields: Vec<FieldInfo> = node
            .field_names()
            .filter_map(|name| {
                let child = node.field(name)?;
                let always = always_written(node, name, &child);
                Some(FieldInfo {
                    name,
                    node: child,
                    always,
                    in_zero: always || node.is_required(name),
                })
            })
            .collect();
        Arc::new(StructInfo { fields })
    });
    cache
        .write()
        .expect("zero-field cache")
        .insert(key, info.clone());
    info
}

/// The JSON form of the Go zero value of a type: structs with the fields Go always writes,
/// `null` for slices, maps, pointers and times, and `0`, `""` or `false` for scalars.
pub fn zero_value(node: Node) -> Value {
    static CACHE: OnceLock<NodeCache<Value>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = node.identity();
    if let Some(v) = cache.read().expect("zero-value cache").get(&key) {
        return v.clone();
    }
    let v = zero_at(node, 0);
    cache
        .write()
        .expect("zero-value cache")
        .insert(key, v.clone());
    v
}

fn zero_at(node: Node, depth: usize) -> Value {
    if node.definition() == Some(TIME) {
        return Value::Null;
    }
    match node.type_name() {
        Some("object") if depth < MAX_DEPTH => match struct_info(&node) {
            Some(info) => {
                let mut m = Map::new();
                for f in info.fields.iter().filter(|f| f.in_zero) {
                    m.insert(f.name.to_string(), zero_at(f.node, depth + 1));
                }
                Value::Object(m)
            }
            None => Value::Null,
        },
        Some("string") => Value::String(String::new()),
        Some("integer") | Some("number") => Value::from(0),
        Some("boolean") => Value::Bool(false),
        _ => Value::Null,
    }
}

/// Add to `object` (of type `node`) the empty fields upstream's encoding would write, at every
/// level: missing `spec`/`status`/nested `metadata` structs, `creationTimestamp: null` in
/// embedded object metadata, and the fields of [`ALWAYS_WRITTEN`].
pub fn fill(object: &mut Value, node: Node) {
    fill_at(object, node, 0);
}

fn fill_at(object: &mut Value, node: Node, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match object {
        Value::Object(m) => match struct_info(&node) {
            Some(info) => {
                for f in &info.fields {
                    if f.always && !m.contains_key(f.name) {
                        m.insert(f.name.to_string(), zero_value(f.node));
                    }
                    if let Some(v) = m.get_mut(f.name) {
                        fill_at(v, f.node, depth + 1);
                    }
                }
            }
            None => {
                if let Some(values) = node.elements() {
                    for v in m.values_mut() {
                        fill_at(v, values, depth + 1);
                    }
                }
            }
        },
        Value::Array(items) => {
            if let Some(element) = node.elements() {
                for v in items {
                    fill_at(v, element, depth + 1);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kind(group: &str, version: &str, kind: &str) -> Node {
        Node::of_kind(group, version, kind).unwrap()
    }

    #[test]
    fn embedded_metadata_and_empty_status_are_written() {
        let mut d = json!({"metadata": {"name": "d", "creationTimestamp": "2025-01-01T00:00:00Z"},
            "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}});
        fill(&mut d, kind("apps", "v1", "Deployment"));
        assert_eq!(d["status"], json!({}));
        assert_eq!(d["spec"]["strategy"], json!({}));
        assert_eq!(
            d["spec"]["template"]["metadata"],
            json!({"creationTimestamp": null})
        );
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["resources"],
            json!({})
        );
        assert_eq!(d["metadata"]["creationTimestamp"], "2025-01-01T00:00:00Z");
    }

    #[test]
    fn statuses_show_their_non_omitempty_counters() {
        let mut rs = json!({"metadata": {"name": "rs"}});
        fill(&mut rs, kind("apps", "v1", "ReplicaSet"));
        assert_eq!(rs["status"], json!({"replicas": 0}));
        let mut sts = json!({"metadata": {"name": "s"}, "status": {"replicas": 0}});
        fill(&mut sts, kind("apps", "v1", "StatefulSet"));
        assert_eq!(
            sts["status"],
            json!({"replicas": 0, "availableReplicas": 0})
        );
        let mut hpa = json!({"metadata": {"name": "h"}});
        fill(
            &mut hpa,
            kind("autoscaling", "v2", "HorizontalPodAutoscaler"),
        );
        assert_eq!(
            hpa["status"],
            json!({"currentMetrics": null, "desiredReplicas": 0})
        );
    }

    #[test]
    fn zero_deployment_has_its_struct_fields_only() {
        let z = zero_value(kind("apps", "v1", "Deployment"));
        assert_eq!(
            z["spec"]["template"]["metadata"],
            json!({"creationTimestamp": null})
        );
        assert_eq!(z["spec"]["template"]["spec"]["containers"], Value::Null);
        assert_eq!(z["spec"]["strategy"], json!({}));
        assert!(z["spec"].get("replicas").is_none());
        assert!(z["metadata"].get("labels").is_none());
    }
}
