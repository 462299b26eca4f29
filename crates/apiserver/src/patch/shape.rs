//! The shape check upstream's patch handler gets from converting the patched map into the typed
//! object (`runtime.DefaultUnstructuredConverter`): a list where the type has a map, a string
//! where it has a struct. Its errors name what the value was as a Go kind.

use rkube_registry::patch_meta::Node;
use serde_json::Value;

/// The Go kind of a decoded JSON value.
fn go_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "invalid",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "int64",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
    }
}

/// What the typed object's field is, as the converter sees it.
enum Slot {
    Struct(Node),
    Map(Node),
    Slice(Node),
    Bytes,
    Other,
}

fn slot(node: Node) -> Slot {
    if node.is_struct() {
        return Slot::Struct(node);
    }
    match (node.type_name(), node.elements(), node.format()) {
        (Some("string"), _, Some("byte")) => Slot::Bytes,
        (Some("array"), Some(e), _) => Slot::Slice(e),
        (Some("object"), Some(e), _) => Slot::Map(e),
        _ => Slot::Other,
    }
}

/// The converter's first complaint about `value`, an object of the type at `node`, if any.
pub fn first_mismatch(value: &Value, node: Node) -> Option<String> {
    if value.is_null() {
        return None;
    }
    match slot(node) {
        Slot::Struct(node) => {
            let Value::Object(fields) = value else {
                return Some(format!("cannot restore struct from: {}", go_kind(value)));
            };
            fields
                .iter()
                .find_map(|(k, v)| node.field(k).and_then(|f| first_mismatch(v, f)))
        }
        Slot::Map(element) => {
            let Value::Object(entries) = value else {
                return Some(format!("cannot restore map from {}", go_kind(value)));
            };
            entries.values().find_map(|v| first_mismatch(v, element))
        }
        Slot::Slice(element) => match value {
            Value::Array(items) => items.iter().find_map(|v| first_mismatch(v, element)),
            other => Some(format!("cannot restore slice from {}", go_kind(other))),
        },
        Slot::Bytes | Slot::Other => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_the_go_kinds() {
        let pod = Node::of_kind("", "v1", "Pod").unwrap();
        let check = |v: Value| first_mismatch(&v, pod);
        assert_eq!(
            check(json!({"metadata": {"labels": "invalid"}})).as_deref(),
            Some("cannot restore map from string")
        );
        assert_eq!(
            check(json!({"spec": {"containers": {"name": "a"}}})).as_deref(),
            Some("cannot restore slice from map")
        );
        assert_eq!(
            check(json!({"spec": ["x"]})).as_deref(),
            Some("cannot restore struct from: slice")
        );
        assert_eq!(
            check(json!({"spec": {"containers": [{"name": "a"}]}})),
            None
        );
    }
}
