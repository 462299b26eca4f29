//! Kubernetes' strategic merge patch: a JSON merge patch that knows, from each field's
//! `patchStrategy` and `patchMergeKey` (the registry's `patch_meta`), which lists merge element
//! by element instead of being replaced, and that understands the directives kubectl's
//! three-way merge sends: `$patch: replace|delete` (on maps and list elements),
//! `$retainKeys`, `$setElementOrder/<list>` and `$deleteFromPrimitiveList/<list>`.

use super::go_fmt::{go_s, go_value};
use rkube_registry::patch_meta::Node;
use serde_json::{Map, Value};

/// Why a strategic merge patch cannot be applied, classified as upstream answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmpError {
    /// A malformed directive or document (upstream: 400 BadRequest with this text).
    BadRequest(&'static str),
    /// Lists of lists, or content outside `$retainKeys` (upstream: a bare 422).
    Rejected,
    /// Anything else (upstream passes the merge's error on as it is: a 500 with this text).
    Failed(String),
}

type Result<T> = std::result::Result<T, SmpError>;

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ORDER: &str = "$setElementOrder/";
const DELETE_PRIMITIVES: &str = "$deleteFromPrimitiveList/";

/// Apply a strategic merge `patch` to `original`, an object whose type is `schema` (unknown
/// fields and types merge maps and replace lists, as JSON merge patch does).
pub fn strategic_merge_patch(
    original: &Value,
    patch: &Value,
    schema: Option<Node>,
) -> Result<Value> {
    match (original, patch) {
        (Value::Object(o), Value::Object(p)) => Ok(Value::Object(merge_map(o.clone(), p, schema)?)),
        (_, Value::Object(p)) => Ok(Value::Object(merge_map(Map::new(), p, schema)?)),
        _ => Err(SmpError::BadRequest("invalid JSON document")),
    }
}

/// Merge a patch map into `original`.
fn merge_map(
    mut original: Map<String, Value>,
    patch: &Map<String, Value>,
    schema: Option<Node>,
) -> Result<Map<String, Value>> {
    let mut patch = patch.clone();
    if let Some(directive) = patch.get(PATCH).cloned() {
        return match directive.as_str() {
            Some("replace") => {
                patch.remove(PATCH);
                Ok(patch)
            }
            Some("delete") => Ok(Map::new()),
            _ => Err(bad_patch_type(&directive, &Value::Object(patch))),
        };
    }
    if let Some(retain) = patch.remove(RETAIN_KEYS) {
        let keep: Vec<&str> = retain
            .as_array()
            .ok_or(SmpError::BadRequest("invalid patch format of retainKeys"))?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for (k, v) in &patch {
            if !v.is_null()
                && !k.starts_with(DELETE_PRIMITIVES)
                && !k.starts_with(SET_ORDER)
                && !keep.contains(&k.as_str())
            {
                return Err(SmpError::Rejected);
            }
        }
        original.retain(|k, _| keep.contains(&k.as_str()));
    }

    // `$setElementOrder/<list>`: merge that list now and order it as the directive says.
    let orders: Vec<(String, Value)> = patch
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(SET_ORDER)
                .map(|f| (f.to_string(), v.clone()))
        })
        .collect();
    for (field, order) in orders {
        patch.remove(&format!("{SET_ORDER}{field}"));
        let field_schema = schema.and_then(|s| s.field(&field));
        let list_patch = patch.remove(&field).unwrap_or(Value::Array(Vec::new()));
        let deletions = patch.remove(&format!("{DELETE_PRIMITIVES}{field}"));
        let current = original
            .get(&field)
            .cloned()
            .unwrap_or(Value::Array(Vec::new()));
        let mut merged = merge_list_field(current, &list_patch, field_schema)?;
        if let (Some(d), Value::Array(items)) = (deletions, &mut merged) {
            delete_primitives(items, &d);
        }
        let key = field_schema.and_then(|s| s.patch_meta().merge_key);
        if let Value::Array(items) = &mut merged {
            order_by(items, &order, key);
        }
        original.insert(field, merged);
    }

    for (k, patch_v) in patch {
        if let Some(field) = k.strip_prefix(DELETE_PRIMITIVES) {
            if let Some(Value::Array(items)) = original.get_mut(field) {
                delete_primitives(items, &patch_v);
            }
            continue;
        }
        if patch_v.is_null() {
            original.remove(&k);
            continue;
        }
        let field_schema = schema.and_then(|s| s.field(&k));
        let merged = match original.remove(&k) {
            None => fresh(&patch_v, field_schema)?,
            Some(Value::Object(o)) if patch_v.is_object() => {
                if field_schema.is_some_and(|s| s.patch_meta().replaces()) {
                    strip_directives(&patch_v)
                } else {
                    let p = patch_v.as_object().expect("checked");
                    Value::Object(merge_map(o, p, field_schema)?)
                }
            }
            Some(current @ Value::Array(_)) if patch_v.is_array() => {
                merge_list_field(current, &patch_v, field_schema)?
            }
            Some(_) => fresh(&patch_v, field_schema)?,
        };
        original.insert(k, merged);
    }
    Ok(original)
}

/// A value for a field the original lacks: the patch, with its directives and nulls resolved
/// against nothing.
fn fresh(patch: &Value, schema: Option<Node>) -> Result<Value> {
    match patch {
        Value::Object(p) => Ok(Value::Object(merge_map(Map::new(), p, schema)?)),
        Value::Array(_) => merge_list_field(Value::Array(Vec::new()), patch, schema),
        v => Ok(v.clone()),
    }
}

/// Remove directives from a value taken whole (`patchStrategy: replace`).
fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_directives).collect()),
        v => v.clone(),
    }
}

/// Merge a list field: element by element when its strategy is `merge`, else replaced.
fn merge_list_field(current: Value, patch: &Value, schema: Option<Node>) -> Result<Value> {
    let meta = schema.map(|s| s.patch_meta()).unwrap_or_default();
    let (Value::Array(current), Value::Array(patch)) = (current, patch) else {
        return Ok(strip_directives(patch));
    };
    if !meta.merges() {
        return Ok(Value::Array(
            patch
                .iter()
                .filter(|e| e.get(PATCH).is_none())
                .map(strip_directives)
                .collect(),
        ));
    }
    let element = schema.and_then(|s| s.elements());
    merge_list(current, patch, meta.merge_key, element).map(Value::Array)
}

/// Merge two lists: primitives as a set union, maps by `merge_key`, keeping the original's order
/// and appending new elements in the patch's order.
fn merge_list(
    mut current: Vec<Value>,
    patch: &[Value],
    merge_key: Option<&str>,
    element: Option<Node>,
) -> Result<Vec<Value>> {
    check_element_types(&current, patch)?;
    if patch.iter().all(|e| !e.is_object()) && current.iter().all(|e| !e.is_object()) {
        for v in patch {
            if !current.contains(v) {
                current.push(v.clone());
            }
        }
        return Ok(current);
    }
    let key =
        merge_key.ok_or_else(|| SmpError::Failed("cannot merge lists without merge key".into()))?;
    let same = |a: &Value, b: &Value| a.get(key).is_some() && a.get(key) == b.get(key);
    // `$patch: replace` as an element: the list is the patch's other elements.
    if patch.iter().any(|e| e[PATCH] == "replace") {
        return Ok(patch
            .iter()
            .filter(|e| e.get(PATCH).is_none())
            .map(strip_directives)
            .collect());
    }
    for p in patch {
        let Some(pm) = p.as_object() else {
            continue;
        };
        match pm.get(PATCH) {
            Some(d) if d == "delete" => {
                if pm.get(key).is_none() {
                    return Err(no_merge_key(p, key));
                }
                current.retain(|c| !same(c, p));
                continue;
            }
            Some(d) if d == "merge" => {
                return Err(SmpError::Failed(
                    "merging lists cannot yet be specified in the patch".into(),
                ));
            }
            Some(other) => return Err(bad_patch_type(other, p)),
            None => {}
        }
        if pm.get(key).is_none() {
            return Err(no_merge_key(p, key));
        }
        let mut pm = pm.clone();
        pm.remove(PATCH);
        match current.iter_mut().find(|c| same(c, p)) {
            Some(c) => {
                let base = c.as_object().cloned().unwrap_or_default();
                *c = Value::Object(merge_map(base, &pm, element)?);
            }
            None => current.push(Value::Object(merge_map(Map::new(), &pm, element)?)),
        }
    }
    Ok(current)
}

/// Upstream's error for a `$patch` directive it does not know.
fn bad_patch_type(directive: &Value, map: &Value) -> SmpError {
    SmpError::Failed(format!(
        "unknown patch type: {} in map: {}",
        go_s(directive),
        go_value(map)
    ))
}

/// Upstream's error for an element of a merged list without its merge key.
fn no_merge_key(element: &Value, key: &str) -> SmpError {
    SmpError::Failed(format!(
        "map: {} does not contain declared merge key: {key}",
        go_value(element)
    ))
}

/// Upstream's check that a merged list's elements (original and patch) are all of one type,
/// and not lists.
fn check_element_types(current: &[Value], patch: &[Value]) -> Result<()> {
    let kind = |v: &Value| std::mem::discriminant(v);
    let mut first: Option<&Value> = None;
    for v in current.iter().chain(patch) {
        match first {
            None if v.is_array() => return Err(SmpError::Rejected),
            None => first = Some(v),
            Some(f) if kind(f) != kind(v) || (f.is_number() && f.is_i64() != v.is_i64()) => {
                return Err(SmpError::Failed(format!(
                    "list element types are not identical: [{} {}]",
                    go_value(&Value::Array(current.to_vec())),
                    go_value(&Value::Array(patch.to_vec()))
                )));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// `$deleteFromPrimitiveList`: drop the listed values.
fn delete_primitives(items: &mut Vec<Value>, gone: &Value) {
    if let Some(gone) = gone.as_array() {
        items.retain(|v| !gone.contains(v));
    }
}

/// `$setElementOrder`: the listed elements in the listed order, then the others (elements only
/// the server knows) in their current order.
fn order_by(items: &mut Vec<Value>, order: &Value, key: Option<&str>) {
    let Some(order) = order.as_array() else {
        return;
    };
    let id = |v: &Value| match key {
        Some(k) => v.get(k).cloned().unwrap_or(Value::Null),
        None => v.clone(),
    };
    let wanted: Vec<Value> = order.iter().map(&id).collect();
    let mut listed: Vec<(usize, Value)> = Vec::new();
    let mut rest = Vec::new();
    for item in items.drain(..) {
        match wanted.iter().position(|w| *w == id(&item)) {
            Some(pos) => listed.push((pos, item)),
            None => rest.push(item),
        }
    }
    listed.sort_by_key(|(pos, _)| *pos);
    items.extend(listed.into_iter().map(|(_, v)| v));
    items.extend(rest);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Option<Node> {
        Node::of_kind("apps", "v1", "Deployment")
    }

    fn smp(original: Value, patch: Value) -> Value {
        strategic_merge_patch(&original, &patch, deployment()).unwrap()
    }

    fn dep(containers: Value) -> Value {
        json!({"metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"template": {"spec": {"containers": containers}}}})
    }

    #[test]
    fn containers_merge_by_name() {
        let got = smp(
            dep(
                json!([{"name": "a", "image": "a:1", "ports": [{"containerPort": 80}]}, {"name": "b", "image": "b:1"}]),
            ),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "b:2"}, {"name": "c", "image": "c:1"}]}}}}),
        );
        assert_eq!(
            got["spec"]["template"]["spec"]["containers"],
            json!([{"name": "a", "image": "a:1", "ports": [{"containerPort": 80}]}, {"name": "b", "image": "b:2"}, {"name": "c", "image": "c:1"}])
        );
    }

    #[test]
    fn delete_and_replace_directives() {
        let got = smp(
            dep(json!([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}])),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}}}),
        );
        assert_eq!(
            got["spec"]["template"]["spec"]["containers"],
            json!([{"name": "b", "image": "b:1"}])
        );
        let got = smp(
            dep(json!([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}])),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "z", "image": "z"}, {"$patch": "replace"}]}}}}),
        );
        assert_eq!(
            got["spec"]["template"]["spec"]["containers"],
            json!([{"name": "z", "image": "z"}])
        );
        let got = smp(
            dep(json!([{"name": "a", "image": "a:1"}])),
            json!({"metadata": {"labels": {"$patch": "replace", "new": "x"}}}),
        );
        assert_eq!(got["metadata"]["labels"], json!({"new": "x"}));
    }

    #[test]
    fn set_element_order_and_primitive_lists() {
        let original = json!({"metadata": {"name": "web", "finalizers": ["a", "b"]},
            "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "a"}, {"name": "b", "image": "b"}]}}}});
        let got = smp(
            original,
            json!({"metadata": {"finalizers": ["c"], "$deleteFromPrimitiveList/finalizers": ["a"]},
                "spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                    "containers": [{"name": "a", "image": "a2"}]}}}}),
        );
        assert_eq!(got["metadata"]["finalizers"], json!(["b", "c"]));
        assert_eq!(
            got["spec"]["template"]["spec"]["containers"],
            json!([{"name": "b", "image": "b"}, {"name": "a", "image": "a2"}])
        );
    }

    #[test]
    fn lists_without_merge_strategy_are_replaced_and_nulls_delete() {
        let original = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "a", "args": ["x", "y"], "env": [{"name": "E", "value": "1"}]}]}}}});
        let got = smp(
            original,
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "args": ["z"], "env": [{"name": "F", "value": "2"}]}]}}}}),
        );
        let c = &got["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["args"], json!(["z"]));
        assert_eq!(
            c["env"],
            json!([{"name": "E", "value": "1"}, {"name": "F", "value": "2"}])
        );
        let got = smp(
            got.clone(),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "args": null}]}}}}),
        );
        assert!(
            got["spec"]["template"]["spec"]["containers"][0]
                .get("args")
                .is_none()
        );
    }

    #[test]
    fn retain_keys_clears_the_other_fields() {
        let original = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
        let got = smp(
            original,
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
        );
        assert_eq!(got["spec"]["strategy"], json!({"type": "Recreate"}));
    }
}
