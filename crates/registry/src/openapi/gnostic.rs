//! The swagger 2.0 document as gnostic's `openapi.v2.Document` protobuf
//! (`openapiv2/OpenAPIv2.proto`), the form kubectl downloads for client-side validation.
//!
//! Only the messages and fields rkube fills in are declared; field numbers are gnostic's.
//! Vendor extensions and enum values travel as YAML text (`Any.yaml`), as gnostic writes them.

use serde_json::Value;

/// `openapi.v2.Document`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Document {
    #[prost(string, tag = "1")]
    pub swagger: String,
    #[prost(message, optional, tag = "2")]
    pub info: Option<Info>,
    #[prost(message, optional, tag = "8")]
    pub paths: Option<Paths>,
    #[prost(message, optional, tag = "9")]
    pub definitions: Option<Definitions>,
}

/// `openapi.v2.Info`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Info {
    #[prost(string, tag = "1")]
    pub title: String,
    #[prost(string, tag = "2")]
    pub version: String,
}

/// `openapi.v2.Any`: a value as YAML text.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Any {
    #[prost(string, tag = "2")]
    pub yaml: String,
}

/// `openapi.v2.NamedAny`: one vendor extension.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NamedAny {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<Any>,
}

/// `openapi.v2.Definitions`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Definitions {
    #[prost(message, repeated, tag = "1")]
    pub additional_properties: Vec<NamedSchema>,
}

/// `openapi.v2.NamedSchema`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NamedSchema {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<Schema>,
}

/// `openapi.v2.Schema`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Schema {
    #[prost(string, tag = "1")]
    pub r#ref: String,
    #[prost(string, tag = "2")]
    pub format: String,
    #[prost(string, tag = "3")]
    pub title: String,
    #[prost(string, tag = "4")]
    pub description: String,
    #[prost(bool, tag = "16")]
    pub unique_items: bool,
    #[prost(string, repeated, tag = "19")]
    pub required: Vec<String>,
    #[prost(message, repeated, tag = "20")]
    pub r#enum: Vec<Any>,
    #[prost(message, optional, boxed, tag = "21")]
    pub additional_properties: Option<Box<AdditionalPropertiesItem>>,
    #[prost(message, optional, tag = "22")]
    pub r#type: Option<TypeItem>,
    #[prost(message, optional, tag = "23")]
    pub items: Option<ItemsItem>,
    #[prost(message, repeated, tag = "24")]
    pub all_of: Vec<Schema>,
    #[prost(message, optional, tag = "25")]
    pub properties: Option<Properties>,
    #[prost(message, repeated, tag = "31")]
    pub vendor_extension: Vec<NamedAny>,
}

/// `openapi.v2.AdditionalPropertiesItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AdditionalPropertiesItem {
    #[prost(oneof = "AdditionalProperties", tags = "1, 2")]
    pub oneof: Option<AdditionalProperties>,
}

/// The `oneof` of `openapi.v2.AdditionalPropertiesItem`.
// Built once per document and encoded straight away: variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum AdditionalProperties {
    #[prost(message, tag = "1")]
    Schema(Schema),
    #[prost(bool, tag = "2")]
    Boolean(bool),
}

/// `openapi.v2.TypeItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TypeItem {
    #[prost(string, repeated, tag = "1")]
    pub value: Vec<String>,
}

/// `openapi.v2.ItemsItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ItemsItem {
    #[prost(message, repeated, tag = "1")]
    pub schema: Vec<Schema>,
}

/// `openapi.v2.Properties`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Properties {
    #[prost(message, repeated, tag = "1")]
    pub additional_properties: Vec<NamedSchema>,
}

/// `openapi.v2.Paths`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Paths {
    #[prost(message, repeated, tag = "2")]
    pub path: Vec<NamedPathItem>,
}

/// `openapi.v2.NamedPathItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NamedPathItem {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<PathItem>,
}

/// `openapi.v2.PathItem`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PathItem {
    #[prost(message, optional, tag = "2")]
    pub get: Option<Operation>,
    #[prost(message, optional, tag = "3")]
    pub put: Option<Operation>,
    #[prost(message, optional, tag = "4")]
    pub post: Option<Operation>,
    #[prost(message, optional, tag = "5")]
    pub delete: Option<Operation>,
    #[prost(message, optional, tag = "8")]
    pub patch: Option<Operation>,
}

/// `openapi.v2.Operation`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Operation {
    #[prost(message, repeated, tag = "8")]
    pub parameters: Vec<ParametersItem>,
    #[prost(message, optional, tag = "9")]
    pub responses: Option<Responses>,
    #[prost(message, repeated, tag = "13")]
    pub vendor_extension: Vec<NamedAny>,
}

/// `openapi.v2.ParametersItem` (only its `parameter` case).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ParametersItem {
    #[prost(message, optional, tag = "1")]
    pub parameter: Option<Parameter>,
}

/// `openapi.v2.Parameter`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Parameter {
    #[prost(oneof = "ParameterKind", tags = "1, 2")]
    pub oneof: Option<ParameterKind>,
}

/// The `oneof` of `openapi.v2.Parameter`.
// Built once per document and encoded straight away: variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum ParameterKind {
    #[prost(message, tag = "1")]
    Body(BodyParameter),
    #[prost(message, tag = "2")]
    NonBody(NonBodyParameter),
}

/// `openapi.v2.BodyParameter`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BodyParameter {
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(string, tag = "3")]
    pub r#in: String,
    #[prost(bool, tag = "4")]
    pub required: bool,
    #[prost(message, optional, tag = "5")]
    pub schema: Option<Schema>,
}

/// `openapi.v2.NonBodyParameter` (only its query case).
#[derive(Clone, PartialEq, prost::Message)]
pub struct NonBodyParameter {
    #[prost(message, optional, tag = "3")]
    pub query_parameter_sub_schema: Option<QueryParameterSubSchema>,
}

/// `openapi.v2.QueryParameterSubSchema`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct QueryParameterSubSchema {
    #[prost(string, tag = "2")]
    pub r#in: String,
    #[prost(string, tag = "4")]
    pub name: String,
    #[prost(string, tag = "6")]
    pub r#type: String,
    #[prost(bool, tag = "20")]
    pub unique_items: bool,
}

/// `openapi.v2.Responses`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Responses {
    #[prost(message, repeated, tag = "1")]
    pub response_code: Vec<NamedResponseValue>,
}

/// `openapi.v2.NamedResponseValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NamedResponseValue {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<ResponseValue>,
}

/// `openapi.v2.ResponseValue` (only its `response` case).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResponseValue {
    #[prost(message, optional, tag = "1")]
    pub response: Option<Response>,
}

/// `openapi.v2.Response`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Response {
    #[prost(string, tag = "1")]
    pub description: String,
    #[prost(message, optional, tag = "2")]
    pub schema: Option<SchemaItem>,
}

/// `openapi.v2.SchemaItem` (only its `schema` case).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SchemaItem {
    #[prost(message, optional, tag = "1")]
    pub schema: Option<Schema>,
}

/// Encodes a swagger 2.0 JSON document.
pub fn encode(doc: &Value) -> Vec<u8> {
    use prost::Message;
    document(doc).encode_to_vec()
}

/// A swagger 2.0 JSON document as a gnostic `Document`.
pub fn document(doc: &Value) -> Document {
    let definitions = doc["definitions"].as_object().into_iter().flatten();
    let paths = doc["paths"].as_object().into_iter().flatten();
    Document {
        swagger: str_of(&doc["swagger"]),
        info: Some(Info {
            title: str_of(&doc["info"]["title"]),
            version: str_of(&doc["info"]["version"]),
        }),
        paths: Some(Paths {
            path: paths
                .map(|(name, item)| NamedPathItem {
                    name: name.clone(),
                    value: Some(path_item(item)),
                })
                .collect(),
        }),
        definitions: Some(Definitions {
            additional_properties: definitions.map(|(n, s)| named_schema(n, s)).collect(),
        }),
    }
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// A JSON value as gnostic's YAML `Any`.
fn yaml_any(value: &Value) -> Any {
    Any {
        yaml: serde_norway::to_string(value).unwrap_or_default(),
    }
}

fn extensions(obj: &serde_json::Map<String, Value>) -> Vec<NamedAny> {
    obj.iter()
        .filter(|(k, _)| k.starts_with("x-"))
        .map(|(k, v)| NamedAny {
            name: k.clone(),
            value: Some(yaml_any(v)),
        })
        .collect()
}

fn named_schema(name: &str, schema: &Value) -> NamedSchema {
    NamedSchema {
        name: name.to_string(),
        value: Some(self::schema(schema)),
    }
}

fn schema(json: &Value) -> Schema {
    let Some(obj) = json.as_object() else {
        return Schema::default();
    };
    let strings = |key: &str| -> Vec<String> {
        obj.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    };
    Schema {
        r#ref: str_of(obj.get("$ref").unwrap_or(&Value::Null)),
        format: str_of(obj.get("format").unwrap_or(&Value::Null)),
        title: str_of(obj.get("title").unwrap_or(&Value::Null)),
        description: str_of(obj.get("description").unwrap_or(&Value::Null)),
        unique_items: obj
            .get("uniqueItems")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        required: strings("required"),
        r#enum: obj
            .get("enum")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(yaml_any)
            .collect(),
        additional_properties: obj.get("additionalProperties").map(|ap| {
            Box::new(AdditionalPropertiesItem {
                oneof: Some(match ap {
                    Value::Bool(b) => AdditionalProperties::Boolean(*b),
                    other => AdditionalProperties::Schema(schema(other)),
                }),
            })
        }),
        r#type: obj.get("type").and_then(Value::as_str).map(|t| TypeItem {
            value: vec![t.to_string()],
        }),
        items: obj.get("items").map(|i| ItemsItem {
            schema: vec![schema(i)],
        }),
        all_of: obj
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(schema)
            .collect(),
        properties: obj
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| Properties {
                additional_properties: p.iter().map(|(n, s)| named_schema(n, s)).collect(),
            }),
        vendor_extension: extensions(obj),
    }
}

fn path_item(item: &Value) -> PathItem {
    let op = |verb: &str| item.get(verb).map(operation);
    PathItem {
        get: op("get"),
        put: op("put"),
        post: op("post"),
        delete: op("delete"),
        patch: op("patch"),
    }
}

fn operation(op: &Value) -> Operation {
    let parameters = op["parameters"].as_array().into_iter().flatten();
    let responses = op["responses"].as_object().into_iter().flatten();
    Operation {
        parameters: parameters.map(parameter).collect(),
        responses: Some(Responses {
            response_code: responses
                .map(|(code, r)| NamedResponseValue {
                    name: code.clone(),
                    value: Some(ResponseValue {
                        response: Some(Response {
                            description: str_of(&r["description"]),
                            schema: r.get("schema").map(|s| SchemaItem {
                                schema: Some(schema(s)),
                            }),
                        }),
                    }),
                })
                .collect(),
        }),
        vendor_extension: op.as_object().map(extensions).unwrap_or_default(),
    }
}

fn parameter(p: &Value) -> ParametersItem {
    let kind = if p["in"] == "body" {
        ParameterKind::Body(BodyParameter {
            name: str_of(&p["name"]),
            r#in: "body".into(),
            required: p["required"].as_bool().unwrap_or(false),
            schema: p.get("schema").map(schema),
        })
    } else {
        ParameterKind::NonBody(NonBodyParameter {
            query_parameter_sub_schema: Some(QueryParameterSubSchema {
                r#in: str_of(&p["in"]),
                name: str_of(&p["name"]),
                r#type: str_of(&p["type"]),
                unique_items: p["uniqueItems"].as_bool().unwrap_or(false),
            }),
        })
    };
    ParametersItem {
        parameter: Some(Parameter { oneof: Some(kind) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn schemas_round_trip_with_yaml_extensions() {
        let bytes = super::super::v2::protobuf().body.clone();
        let doc = Document::decode(bytes.as_slice()).unwrap();
        assert_eq!(doc.swagger, "2.0");
        let defs = doc.definitions.unwrap().additional_properties;
        let cm = defs
            .iter()
            .find(|d| d.name == "io.k8s.api.core.v1.ConfigMap")
            .and_then(|d| d.value.as_ref())
            .unwrap();
        assert_eq!(cm.r#type.as_ref().unwrap().value, ["object"]);
        let gvk = cm
            .vendor_extension
            .iter()
            .find(|e| e.name == "x-kubernetes-group-version-kind")
            .unwrap();
        assert_eq!(
            gvk.value.as_ref().unwrap().yaml,
            "- group: ''\n  kind: ConfigMap\n  version: v1\n"
        );
        let props = &cm.properties.as_ref().unwrap().additional_properties;
        let data = props.iter().find(|p| p.name == "data").unwrap();
        let values = data.value.as_ref().unwrap().additional_properties.as_ref();
        assert!(matches!(
            values.unwrap().oneof,
            Some(AdditionalProperties::Schema(ref s)) if s.r#type.as_ref().unwrap().value == ["string"]
        ));
        assert!(!doc.paths.unwrap().path.is_empty());
    }
}
