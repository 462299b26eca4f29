//! Sets of field paths in upstream's `FieldsV1` form: a tree keyed by `f:<field>`,
//! `k:{<list keys>}` (an element of a list of maps, by its keys) and `v:<value>` (an element of a
//! set), with `.` marking a path that is itself in the set when it also has children.
//!
//! Which lists are keyed, sets or atomic comes from the type's schema (the registry's
//! `patch_meta` nodes): `x-kubernetes-list-type`, or for built-ins whose lists only carry a
//! patch merge key, that key; atomic maps and lists are single leaves.

use rkube_registry::patch_meta::Node;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A set of paths into an object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSet {
    /// This path itself is in the set.
    pub member: bool,
    /// Paths below, by `f:`/`k:`/`v:` element.
    pub children: BTreeMap<String, FieldSet>,
}

/// How a list's elements are identified.
pub(super) enum ListKind {
    Atomic,
    Set,
    Map(Vec<&'static str>),
}

pub(super) fn list_kind(node: Option<Node>) -> ListKind {
    let Some(node) = node else {
        return ListKind::Atomic;
    };
    match node.list_type() {
        Some("map") => ListKind::Map(node.list_map_keys()),
        Some("set") => ListKind::Set,
        Some(_) => ListKind::Atomic,
        None => {
            let meta = node.patch_meta();
            match (meta.merges(), meta.merge_key) {
                (true, Some(k)) => ListKind::Map(vec![k]),
                (true, None) => ListKind::Set,
                _ => ListKind::Atomic,
            }
        }
    }
}

/// Whether a map or struct is one leaf (`x-kubernetes-map-type: atomic`).
pub(super) fn atomic_map(node: Option<Node>) -> bool {
    node.is_some_and(|n| n.map_type() == Some("atomic"))
}

/// The schema of field `name` of an object node (a struct's field or a map's values).
pub(super) fn child_node(node: Option<Node>, name: &str) -> Option<Node> {
    let node = node?;
    node.field(name).or_else(|| {
        (node.type_name() == Some("object"))
            .then(|| node.elements())
            .flatten()
    })
}

/// Schema defaults of list-map key fields, which identify an item that leaves them out (as
/// upstream's merge does): every built-in key named `protocol` (container and service ports,
/// keyed by port and protocol) defaults to TCP.
const KEY_DEFAULTS: &[(&str, &str)] = &[("protocol", "TCP")];

/// The `k:{...}` element of a list-of-maps item, keys sorted by name.
pub(super) fn key_element(item: &Value, keys: &[&str]) -> String {
    let mut sorted: Vec<&&str> = keys.iter().collect();
    sorted.sort();
    let mut m = Map::new();
    for k in sorted {
        let default = || {
            KEY_DEFAULTS
                .iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| Value::String(v.to_string()))
        };
        if let Some(v) = item.get(*k).cloned().or_else(default) {
            m.insert((*k).to_string(), v);
        }
    }
    format!("k:{}", Value::Object(m))
}

/// The `v:<json>` element of a set item.
pub(super) fn value_element(item: &Value) -> String {
    format!("v:{item}")
}

impl FieldSet {
    /// The paths a value sets (what an applier owns): every leaf, and every element of keyed
    /// lists and sets.
    pub fn from_value(v: &Value, node: Option<Node>) -> FieldSet {
        let mut set = FieldSet::default();
        set.fill(v, node);
        set
    }

    fn fill(&mut self, v: &Value, node: Option<Node>) {
        match v {
            Value::Object(m) if !atomic_map(node) && !m.is_empty() => {
                for (k, cv) in m {
                    self.children
                        .entry(format!("f:{k}"))
                        .or_default()
                        .fill(cv, child_node(node, k));
                }
            }
            Value::Array(items) => {
                let element = node.and_then(|n| n.elements());
                match list_kind(node) {
                    ListKind::Atomic => self.member = true,
                    ListKind::Set => {
                        for item in items {
                            self.children.entry(value_element(item)).or_default().member = true;
                        }
                    }
                    ListKind::Map(keys) => {
                        for item in items {
                            let child = self.children.entry(key_element(item, &keys)).or_default();
                            child.member = true;
                            child.fill(item, element);
                        }
                    }
                }
            }
            _ => self.member = true,
        }
    }

    /// What changed from `old` to `new`: `(set or modified paths, removed paths)`. An added
    /// map or list element is a member with its leaves, as upstream records updates.
    pub fn diff(old: Option<&Value>, new: &Value, node: Option<Node>) -> (FieldSet, FieldSet) {
        let mut changed = FieldSet::default();
        let mut removed = FieldSet::default();
        diff_into(old, new, node, &mut changed, &mut removed);
        (changed, removed)
    }

    pub fn is_empty(&self) -> bool {
        !self.member && self.children.values().all(FieldSet::is_empty)
    }

    /// Remove empty branches.
    fn prune(&mut self) {
        self.children.retain(|_, c| {
            c.prune();
            !c.is_empty()
        });
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.member |= other.member;
        for (k, c) in &other.children {
            let merged = match out.children.get(k) {
                Some(mine) => mine.union(c),
                None => c.clone(),
            };
            out.children.insert(k.clone(), merged);
        }
        out
    }

    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && !other.member,
            children: BTreeMap::new(),
        };
        for (k, c) in &self.children {
            let d = match other.children.get(k) {
                Some(o) => c.difference(o),
                None => c.clone(),
            };
            out.children.insert(k.clone(), d);
        }
        out.prune();
        out
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && other.member,
            children: BTreeMap::new(),
        };
        for (k, c) in &self.children {
            if let Some(o) = other.children.get(k) {
                out.children.insert(k.clone(), c.intersection(o));
            }
        }
        out.prune();
        out
    }

    /// Drop the paths under the top-level fields a write may not touch, and the identity fields
    /// upstream never tracks.
    pub fn without_untracked(mut self, keep_only_status: bool, drop_status: bool) -> FieldSet {
        self.children.remove("f:apiVersion");
        self.children.remove("f:kind");
        if let Some(meta) = self.children.get_mut("f:metadata") {
            for f in [
                "f:name",
                "f:namespace",
                "f:uid",
                "f:resourceVersion",
                "f:generation",
                "f:creationTimestamp",
                "f:deletionTimestamp",
                "f:deletionGracePeriodSeconds",
                "f:managedFields",
                "f:selfLink",
            ] {
                meta.children.remove(f);
            }
            meta.member = false;
        }
        if keep_only_status {
            self.children.retain(|k, _| k == "f:status");
        } else if drop_status {
            self.children.remove("f:status");
        }
        self.member = false;
        self.prune();
        self
    }

    /// Whether `path` is a member of the set.
    pub fn contains(&self, path: &[String]) -> bool {
        match path.split_first() {
            None => self.member,
            Some((first, rest)) => self.children.get(first).is_some_and(|c| c.contains(rest)),
        }
    }

    /// Every member path, as `(elements, display)`, for conflict messages.
    pub fn paths(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        if self.member {
            out.push(prefix.clone());
        }
        for (k, c) in &self.children {
            prefix.push(k.clone());
            c.collect(prefix, out);
            prefix.pop();
        }
    }

    /// The `fieldsV1` JSON form.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        if self.member && !self.children.is_empty() {
            m.insert(".".into(), Value::Object(Map::new()));
        }
        for (k, c) in &self.children {
            m.insert(k.clone(), c.to_json());
        }
        Value::Object(m)
    }

    /// Parse a `fieldsV1` object.
    pub fn from_json(v: &Value) -> FieldSet {
        let mut set = FieldSet::default();
        if let Some(m) = v.as_object() {
            if m.is_empty() {
                set.member = true;
            }
            for (k, c) in m {
                if k == "." {
                    set.member = true;
                } else {
                    set.children.insert(k.clone(), FieldSet::from_json(c));
                }
            }
        }
        set
    }
}

/// A path as upstream prints it: `.spec.containers[name="web"].image`.
pub fn display_path(path: &[String]) -> String {
    let mut out = String::new();
    for el in path {
        if let Some(f) = el.strip_prefix("f:") {
            out.push('.');
            out.push_str(f);
        } else if let Some(k) = el.strip_prefix("k:") {
            let keys: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
            let inner: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("[{}]", inner.join(",")));
        } else if let Some(v) = el.strip_prefix("v:") {
            out.push_str(&format!("[={v}]"));
        }
    }
    out
}

/// Put `child` under `key`, joining it with what is there already.
fn merge_child(parent: &mut FieldSet, key: String, child: FieldSet) {
    match parent.children.entry(key) {
        std::collections::btree_map::Entry::Vacant(v) => {
            v.insert(child);
        }
        std::collections::btree_map::Entry::Occupied(mut o) => {
            let merged = o.get().union(&child);
            o.insert(merged);
        }
    }
}

fn diff_into(
    old: Option<&Value>,
    new: &Value,
    node: Option<Node>,
    changed: &mut FieldSet,
    removed: &mut FieldSet,
) {
    if old == Some(new) {
        return;
    }
    match (old, new) {
        (Some(Value::Object(o)), Value::Object(n)) if !atomic_map(node) => {
            for (k, nv) in n {
                let old = o.get(k);
                if old == Some(nv) {
                    continue;
                }
                let (mut c, mut r) = (FieldSet::default(), FieldSet::default());
                diff_into(old, nv, child_node(node, k), &mut c, &mut r);
                // Only branches with something in them are kept (empty ones would be pruned).
                if !r.is_empty() {
                    merge_child(removed, format!("f:{k}"), r);
                }
                if !c.is_empty() {
                    merge_child(changed, format!("f:{k}"), c);
                }
            }
            for k in o.keys().filter(|k| !n.contains_key(*k)) {
                removed.children.entry(format!("f:{k}")).or_default().member = true;
            }
        }
        (None | Some(Value::Null), Value::Object(n)) if !atomic_map(node) && !n.is_empty() => {
            // Upstream marks a map or struct that was absent before as set itself (`.`); one
            // that was there (if only as `null` in the type's zero value) is not.
            changed.member |= old.is_none();
            for (k, nv) in n {
                let entry = changed.children.entry(format!("f:{k}")).or_default();
                diff_into(
                    None,
                    nv,
                    child_node(node, k),
                    entry,
                    &mut FieldSet::default(),
                );
            }
        }
        (old, Value::Array(items)) if !matches!(list_kind(node), ListKind::Atomic) => {
            // A list that was absent before is set itself, like a map (`.`).
            changed.member |= old.is_none() && !items.is_empty();
            let old_items = old.and_then(Value::as_array).cloned().unwrap_or_default();
            let element = node.and_then(|n| n.elements());
            match list_kind(node) {
                ListKind::Set => {
                    for item in items.iter().filter(|i| !old_items.contains(i)) {
                        changed
                            .children
                            .entry(value_element(item))
                            .or_default()
                            .member = true;
                    }
                    for item in old_items.iter().filter(|i| !items.contains(i)) {
                        removed
                            .children
                            .entry(value_element(item))
                            .or_default()
                            .member = true;
                    }
                }
                ListKind::Map(keys) => {
                    let id = |v: &Value| key_element(v, &keys);
                    for item in items {
                        let el = id(item);
                        let before = old_items.iter().find(|o| id(o) == el);
                        let c = changed.children.entry(el.clone()).or_default();
                        if before.is_none() {
                            c.member = true;
                        }
                        let r = removed.children.entry(el).or_default();
                        diff_into(before, item, element, c, r);
                    }
                    for item in &old_items {
                        let el = id(item);
                        if !items.iter().any(|i| id(i) == el) {
                            removed.children.entry(el).or_default().member = true;
                        }
                    }
                }
                ListKind::Atomic => unreachable!("matched above"),
            }
        }
        _ => changed.member = true,
    }
    changed.prune();
    removed.prune();
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Option<Node> {
        Node::of_kind("apps", "v1", "Deployment")
    }

    #[test]
    fn applied_fields_of_a_deployment() {
        let config = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}]}]}}}});
        let set = FieldSet::from_value(&config, deployment()).without_untracked(false, true);
        assert_eq!(
            set.to_json(),
            json!({"f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:replicas": {}, "f:selector": {},
                    "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {".": {},
                        "f:image": {}, "f:name": {},
                        // The key the item leaves out takes its default, as upstream records it.
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}}}}}})
        );
        // The keyed list element and the atomic selector are single members.
        let paths: Vec<String> = set.paths().iter().map(|p| display_path(p)).collect();
        assert!(paths.contains(&".spec.selector".to_string()), "{paths:?}");
        assert!(
            paths.contains(&".spec.template.spec.containers[name=\"nginx\"].image".to_string()),
            "{paths:?}"
        );
    }

    #[test]
    fn update_diffs_mark_added_maps_and_items() {
        let old = json!({"metadata": {"name": "web"}, "data": {"a": "1"}});
        let new = json!({"metadata": {"name": "web", "labels": {"x": "y"}}, "data": {"a": "2", "b": "3"}});
        let (changed, removed) =
            FieldSet::diff(Some(&old), &new, Node::of_kind("", "v1", "ConfigMap"));
        assert_eq!(
            changed.to_json(),
            json!({"f:data": {"f:a": {}, "f:b": {}}, "f:metadata": {"f:labels": {".": {}, "f:x": {}}}})
        );
        assert!(removed.is_empty());
        let (_, removed) = FieldSet::diff(Some(&new), &old, Node::of_kind("", "v1", "ConfigMap"));
        assert_eq!(
            removed.to_json(),
            json!({"f:data": {"f:b": {}}, "f:metadata": {"f:labels": {}}})
        );
    }

    #[test]
    fn set_operations_and_json_round_trip() {
        let a = FieldSet::from_json(&json!({"f:data": {"f:a": {}, "f:b": {}}}));
        let b = FieldSet::from_json(&json!({"f:data": {"f:b": {}, "f:c": {}}}));
        assert_eq!(a.intersection(&b).to_json(), json!({"f:data": {"f:b": {}}}));
        assert_eq!(a.difference(&b).to_json(), json!({"f:data": {"f:a": {}}}));
        assert_eq!(
            a.union(&b).to_json(),
            json!({"f:data": {"f:a": {}, "f:b": {}, "f:c": {}}})
        );
    }
}
