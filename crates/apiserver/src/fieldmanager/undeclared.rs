//! Server-side apply refuses a configuration with a field its type does not declare, as
//! upstream's conversion of the applied object to its typed form does (before any merging).

use super::display_path;
use super::fieldset::{ListKind, child_node, key_element, list_kind};
use rkube_registry::patch_meta::Node;
use serde_json::Value;

/// The path of the first field in `config` that the schema does not declare, as upstream
/// prints it (`.spec.template.spec.containers[name="app"].bogus`).
pub fn first_undeclared(config: &Value, node: Option<Node>) -> Option<String> {
    walk(config, node, String::new())
}

fn walk(v: &Value, node: Option<Node>, path: String) -> Option<String> {
    let node = node?;
    match v {
        Value::Object(m) if node.is_struct() => m.iter().find_map(|(k, cv)| {
            let child = format!("{path}.{k}");
            match node.field(k) {
                None => Some(child),
                Some(_) => walk(cv, child_node(Some(node), k), child),
            }
        }),
        Value::Object(m) => {
            let values = node.elements();
            m.iter()
                .find_map(|(k, cv)| walk(cv, values, format!("{path}.{k}")))
        }
        Value::Array(items) => {
            let element = node.elements();
            items.iter().enumerate().find_map(|(i, item)| {
                let at = match list_kind(Some(node)) {
                    ListKind::Map(keys) => display_path(&[key_element(item, &keys)]),
                    _ => format!("[{i}]"),
                };
                walk(item, element, format!("{path}{at}"))
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_the_first_unknown_field() {
        let deploy = Node::of_kind("apps", "v1", "Deployment");
        let ok = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": {"a": "b"}},
            "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "x"}]}}}});
        assert_eq!(first_undeclared(&ok, deploy), None);
        let bad = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "imagex": "x"}]}}}});
        assert_eq!(
            first_undeclared(&bad, deploy).as_deref(),
            Some(".spec.template.spec.containers[name=\"app\"].imagex")
        );
        let cm = Node::of_kind("", "v1", "ConfigMap");
        assert_eq!(
            first_undeclared(&json!({"data": {"any": "key"}, "bogus": 1}), cm).as_deref(),
            Some(".bogus")
        );
    }
}
