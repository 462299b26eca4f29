//! Server-side apply's merge: an applied configuration laid over the live object, following the
//! schema's list types, and removal of paths an applier gave up.

use super::fieldset::{ListKind, atomic_map, child_node, key_element, list_kind, value_element};
use rkube_registry::patch_meta::Node;
use serde_json::Value;

/// `config` over `live`: granular maps merge key by key, keyed lists element by element, sets
/// as unions; atomic values and scalars are replaced. A `null` in the config removes the field.
pub fn merge(live: Value, config: &Value, node: Option<Node>) -> Value {
    match (live, config) {
        (Value::Object(mut l), Value::Object(c)) if !atomic_map(node) => {
            for (k, cv) in c {
                if cv.is_null() {
                    l.remove(k);
                    continue;
                }
                let merged = match l.remove(k) {
                    Some(lv) => merge(lv, cv, child_node(node, k)),
                    None => cv.clone(),
                };
                l.insert(k.clone(), merged);
            }
            Value::Object(l)
        }
        (Value::Array(mut l), Value::Array(c)) => match list_kind(node) {
            ListKind::Atomic => Value::Array(c.clone()),
            ListKind::Set => {
                for item in c {
                    if !l.contains(item) {
                        l.push(item.clone());
                    }
                }
                Value::Array(l)
            }
            ListKind::Map(keys) => {
                let element = node.and_then(|n| n.elements());
                for item in c {
                    let id = key_element(item, &keys);
                    match l.iter_mut().find(|x| key_element(x, &keys) == id) {
                        Some(existing) => {
                            *existing = merge(existing.take(), item, element);
                        }
                        None => l.push(item.clone()),
                    }
                }
                Value::Array(l)
            }
        },
        (_, c) => c.clone(),
    }
}

/// Remove the value at `path` (fieldsV1 elements) from `obj`, if it is there.
pub fn remove_path(obj: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for el in parents {
        let next = match step(cur, el) {
            Some(n) => n,
            None => return,
        };
        cur = next;
    }
    if let Some(f) = last.strip_prefix("f:") {
        if let Some(m) = cur.as_object_mut() {
            m.remove(f);
        }
    } else if let Some(items) = cur.as_array_mut() {
        items.retain(|item| !element_matches(item, last));
    }
}

/// The child of `v` named by one fieldsV1 element.
fn step<'a>(v: &'a mut Value, el: &str) -> Option<&'a mut Value> {
    if let Some(f) = el.strip_prefix("f:") {
        return v.as_object_mut()?.get_mut(f);
    }
    v.as_array_mut()?
        .iter_mut()
        .find(|item| element_matches(item, el))
}

/// Whether a list item is the one a `k:` or `v:` element names.
fn element_matches(item: &Value, el: &str) -> bool {
    if let Some(k) = el.strip_prefix("k:") {
        let Ok(Value::Object(keys)) = serde_json::from_str::<Value>(k) else {
            return false;
        };
        let names: Vec<&str> = keys.keys().map(String::as_str).collect();
        key_element(item, &names) == el && keys.iter().all(|(k, v)| item.get(k) == Some(v))
    } else {
        value_element(item) == el
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_follows_list_types() {
        let node = Node::of_kind("apps", "v1", "Deployment");
        let live = json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [
            {"name": "a", "image": "a:1", "args": ["x"]}, {"name": "b", "image": "b:1"}]}}}});
        let config = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "a:2", "args": ["y"]}]}}}});
        let got = merge(live, &config, node);
        assert_eq!(got["spec"]["replicas"], 3);
        assert_eq!(
            got["spec"]["template"]["spec"]["containers"],
            json!([{"name": "a", "image": "a:2", "args": ["y"]}, {"name": "b", "image": "b:1"}])
        );
    }

    #[test]
    fn remove_paths_by_field_key_and_value() {
        let mut obj = json!({"metadata": {"finalizers": ["a", "b"]}, "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b"}]}, "data": {"k": "v"}});
        remove_path(&mut obj, &["f:data".into(), "f:k".into()]);
        remove_path(
            &mut obj,
            &[
                "f:spec".into(),
                "f:containers".into(),
                r#"k:{"name":"b"}"#.into(),
            ],
        );
        remove_path(
            &mut obj,
            &[
                "f:spec".into(),
                "f:containers".into(),
                r#"k:{"name":"a"}"#.into(),
                "f:image".into(),
            ],
        );
        remove_path(
            &mut obj,
            &[
                "f:metadata".into(),
                "f:finalizers".into(),
                r#"v:"a""#.into(),
            ],
        );
        assert_eq!(
            obj,
            json!({"metadata": {"finalizers": ["b"]}, "spec": {"containers": [{"name": "a"}]}, "data": {}})
        );
    }
}
