//! Upstream's merge metadata of built-in types: the `patchStrategy`/`patchMergeKey` struct tags
//! that strategic merge patch follows, and the list/map types (`+listType`, `+listMapKey`,
//! `+mapType`) that server-side apply follows.
//!
//! The metadata lives in the OpenAPI definitions ([`crate::openapi::definitions`]) as upstream
//! publishes it (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`,
//! `x-kubernetes-list-type`, `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`), so the
//! served documents and the server's own merging read one table.
//!
//! ```
//! use rkube_registry::patch_meta::{self, Node};
//! let containers = Node::of_kind("apps", "v1", "Deployment")
//!     .and_then(|d| d.field("spec")?.field("template")?.field("spec")?.field("containers"))
//!     .unwrap();
//! assert_eq!(containers.patch_meta().merge_key, Some("name"));
//! assert_eq!(containers.list_map_keys(), ["name"]);
//! assert!(patch_meta::lookup("io.k8s.api.core.v1.PodSpec", "volumes").unwrap().merges());
//! ```

use crate::openapi::definitions::{definitions, ref_target};
use serde_json::Value;

/// How strategic merge patch treats one field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PatchMeta {
    /// Upstream's `patchStrategy` tag: `merge`, `replace`, `retainKeys` or `merge,retainKeys`.
    pub strategy: Option<&'static str>,
    /// Upstream's `patchMergeKey`: the field that identifies list elements when merging.
    pub merge_key: Option<&'static str>,
}

impl PatchMeta {
    fn has(&self, s: &str) -> bool {
        self.strategy
            .is_some_and(|all| all.split(',').any(|x| x == s))
    }

    /// Lists are merged element by element (by `merge_key`, or as a set of primitives).
    pub fn merges(&self) -> bool {
        self.has("merge")
    }

    /// The patch replaces the value wholesale.
    pub fn replaces(&self) -> bool {
        self.has("replace")
    }

    /// Fields of the struct absent from the patch are cleared (`retainKeys`).
    pub fn retains_keys(&self) -> bool {
        self.has("retainKeys")
    }
}

/// The patch metadata of `field` in a definition (`io.k8s.api.core.v1.PodSpec`, `containers`),
/// or `None` when upstream tags none.
pub fn lookup(definition: &str, field: &str) -> Option<PatchMeta> {
    let meta = Node::of_definition(definition)?.field(field)?.patch_meta();
    (meta != PatchMeta::default()).then_some(meta)
}

/// A place in a type's schema: a kind, one of its fields, or the elements of a list or map.
/// Walk from a kind into nested fields with [`Node::field`] and [`Node::elements`].
#[derive(Clone, Copy, Debug)]
pub struct Node {
    /// The schema as written where the node was reached (a field carries its tags here).
    schema: &'static Value,
    /// The same schema with its `$ref` followed (where its own fields live).
    resolved: &'static Value,
}

impl Node {
    fn new(schema: &'static Value) -> Node {
        Node {
            schema,
            resolved: definitions().resolve(schema),
        }
    }

    /// A key naming this place in the schema (the addresses of its schema and resolved schema,
    /// which live as long as the process), for caches of facts worked out from the schema.
    pub fn identity(&self) -> (usize, usize) {
        (
            self.schema as *const Value as usize,
            self.resolved as *const Value as usize,
        )
    }

    /// The top-level type of a kind (`apps`, `v1`, `Deployment`).
    pub fn of_kind(group: &str, version: &str, kind: &str) -> Option<Node> {
        Node::of_definition(definitions().name_of_kind(group, version, kind)?)
    }

    /// A definition by name (`io.k8s.api.core.v1.PodSpec`).
    pub fn of_definition(name: &str) -> Option<Node> {
        definitions().get(name).map(Node::new)
    }

    /// A field of this struct.
    pub fn field(&self, name: &str) -> Option<Node> {
        self.resolved.get("properties")?.get(name).map(Node::new)
    }

    /// The names of this struct's fields.
    pub fn field_names(&self) -> impl Iterator<Item = &'static str> {
        self.resolved
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|props| props.keys().map(String::as_str))
    }

    /// Whether upstream marks field `name` of this struct required: a Go field without
    /// `omitempty`, which the JSON encoding always writes.
    pub fn is_required(&self, name: &str) -> bool {
        self.resolved
            .get("required")
            .and_then(Value::as_array)
            .is_some_and(|r| r.iter().any(|f| f.as_str() == Some(name)))
    }

    /// Whether this is a struct with declared fields (not a map or a free-form object), so a
    /// field it does not declare is unknown.
    pub fn is_struct(&self) -> bool {
        self.resolved
            .get("properties")
            .and_then(Value::as_object)
            .is_some_and(|p| !p.is_empty())
    }

    /// The elements of this list, or the values of this map.
    pub fn elements(&self) -> Option<Node> {
        let sub = match self.type_name()? {
            "array" => self.resolved.get("items")?,
            "object" => self.resolved.get("additionalProperties")?,
            _ => return None,
        };
        sub.is_object().then(|| Node::new(sub))
    }

    /// The definition this node's type is (`io.k8s.api.core.v1.Container`), if it is a named type.
    pub fn definition(&self) -> Option<&'static str> {
        self.schema
            .get("$ref")
            .and_then(Value::as_str)
            .map(ref_target)
    }

    /// The JSON type: `object`, `array`, `string`, `integer`, `number`, `boolean`.
    pub fn type_name(&self) -> Option<&'static str> {
        self.resolved.get("type").and_then(Value::as_str)
    }

    /// The OpenAPI format of a scalar (`byte`, `int32`, `date-time`, ...).
    pub fn format(&self) -> Option<&'static str> {
        self.resolved.get("format").and_then(Value::as_str)
    }

    /// An extension, looked up where the field is written, then on its type.
    fn extension(&self, key: &str) -> Option<&'static Value> {
        self.schema.get(key).or_else(|| self.resolved.get(key))
    }

    fn extension_str(&self, key: &str) -> Option<&'static str> {
        self.extension(key).and_then(Value::as_str)
    }

    /// The field's strategic-merge-patch metadata.
    pub fn patch_meta(&self) -> PatchMeta {
        PatchMeta {
            strategy: self.extension_str("x-kubernetes-patch-strategy"),
            merge_key: self.extension_str("x-kubernetes-patch-merge-key"),
        }
    }

    /// `atomic`, `set` or `map` for lists that upstream marks (unmarked lists are atomic).
    pub fn list_type(&self) -> Option<&'static str> {
        self.extension_str("x-kubernetes-list-type")
    }

    /// The keys of a `map`-type list's elements.
    pub fn list_map_keys(&self) -> Vec<&'static str> {
        self.extension("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .map(|keys| keys.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// `atomic` or `granular` for maps and structs that upstream marks.
    pub fn map_type(&self) -> Option<&'static str> {
        self.extension_str("x-kubernetes-map-type")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod_spec_field(name: &str) -> Node {
        Node::of_kind("", "v1", "Pod")
            .and_then(|p| p.field("spec")?.field(name))
            .unwrap()
    }

    #[test]
    fn strategic_merge_tags_match_upstream() {
        let containers = pod_spec_field("containers");
        assert_eq!(
            containers.patch_meta(),
            PatchMeta {
                strategy: Some("merge"),
                merge_key: Some("name")
            }
        );
        assert_eq!(
            containers.elements().unwrap().definition(),
            Some("io.k8s.api.core.v1.Container")
        );
        let ports = containers.elements().unwrap().field("ports").unwrap();
        assert_eq!(ports.patch_meta().merge_key, Some("containerPort"));
        assert_eq!(ports.list_map_keys(), ["containerPort", "protocol"]);
        let volumes = pod_spec_field("volumes");
        assert!(volumes.patch_meta().merges());
        assert!(
            volumes
                .patch_meta()
                .strategy
                .unwrap()
                .contains("retainKeys")
        );
        // Finalizers merge as a set of strings; owner references by uid.
        let meta = Node::of_definition("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta").unwrap();
        assert!(meta.field("finalizers").unwrap().patch_meta().merges());
        assert_eq!(
            lookup(
                "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
                "ownerReferences"
            )
            .unwrap()
            .merge_key,
            Some("uid")
        );
        let strategy = Node::of_kind("apps", "v1", "Deployment")
            .and_then(|d| d.field("spec")?.field("strategy"))
            .unwrap();
        assert!(strategy.patch_meta().retains_keys());
        assert_eq!(lookup("io.k8s.api.core.v1.PodSpec", "hostname"), None);
    }

    #[test]
    fn list_and_map_types_match_upstream() {
        let selector = Node::of_kind("apps", "v1", "Deployment")
            .and_then(|d| d.field("spec")?.field("selector"))
            .unwrap();
        assert_eq!(selector.map_type(), Some("atomic"));
        assert_eq!(
            selector.field("matchExpressions").unwrap().list_type(),
            Some("atomic")
        );
        assert_eq!(pod_spec_field("containers").list_type(), Some("map"));
        assert_eq!(pod_spec_field("nodeSelector").type_name(), Some("object"));
        assert_eq!(
            pod_spec_field("nodeSelector")
                .elements()
                .unwrap()
                .type_name(),
            Some("string")
        );
    }
}
