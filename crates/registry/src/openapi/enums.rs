//! Enum-typed string fields: upstream lists their values (`enum`) and appends a "Possible enum
//! values:" list to their descriptions in the OpenAPI v3 documents only; `/openapi/v2` has
//! neither. The embedded data keeps both facts beside the v2 description (`enum` and
//! [`ENUM_DESCRIPTION_KEY`]); these functions give each document its form.

use serde_json::{Map, Value};

/// Where the embedded data keeps a field's "Possible enum values:" text (never served as is).
pub const ENUM_DESCRIPTION_KEY: &str = "x-rkube-enum-description";

/// A schema object's keys in v3 form: the enum text joins the description, as upstream writes it
/// (the v2 description, a blank line, then the list). Nested schemas are left to the caller.
pub fn merge_description_v3(obj: &mut Map<String, Value>) {
    let Some(Value::String(list)) = obj.remove(ENUM_DESCRIPTION_KEY) else {
        return;
    };
    let description = match obj.get("description").and_then(Value::as_str) {
        Some(d) if !d.is_empty() => format!("{d}\n\n{list}"),
        _ => list,
    };
    obj.insert("description".into(), Value::String(description));
}

/// A schema without the v3-only enum facts, for `/openapi/v2`: no `enum` on any schema and no
/// enum text, walking properties, list items and map values.
pub fn without_enums_v2(schema: &Value) -> Value {
    let Some(obj) = schema.as_object() else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in obj {
        match key.as_str() {
            "enum" | ENUM_DESCRIPTION_KEY => {}
            "items" | "additionalProperties" if value.is_object() => {
                out.insert(key.clone(), without_enums_v2(value));
            }
            "properties" => {
                let props = value.as_object().into_iter().flatten();
                let props = props
                    .map(|(k, v)| (k.clone(), without_enums_v2(v)))
                    .collect();
                out.insert(key.clone(), Value::Object(props));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn v3_appends_the_list_and_v2_drops_both() {
        let field = json!({
            "description": "Restart policy.",
            "type": "string",
            "enum": ["Always", "Never"],
            ENUM_DESCRIPTION_KEY: "Possible enum values:\n - `\"Always\"`\n - `\"Never\"`",
        });
        let mut v3 = field.as_object().unwrap().clone();
        merge_description_v3(&mut v3);
        assert_eq!(
            v3["description"],
            "Restart policy.\n\nPossible enum values:\n - `\"Always\"`\n - `\"Never\"`"
        );
        assert_eq!(v3["enum"], json!(["Always", "Never"]));
        assert!(!v3.contains_key(ENUM_DESCRIPTION_KEY));

        let parent = json!({"properties": {"restartPolicy": field, "enum": {"type": "array"}}});
        let v2 = without_enums_v2(&parent);
        assert_eq!(
            v2["properties"]["restartPolicy"],
            json!({"description": "Restart policy.", "type": "string"})
        );
        // A property *named* `enum` (JSONSchemaProps) is a field, not enum values.
        assert_eq!(v2["properties"]["enum"], json!({"type": "array"}));
    }
}
