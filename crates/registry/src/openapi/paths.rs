//! The operations of every served resource, shared by the v2 and v3 documents: paths, verbs,
//! `x-kubernetes-group-version-kind`, `x-kubernetes-action` and query parameters (kubectl looks
//! for `fieldValidation` on a kind's create and patch operations to decide that the server
//! validates fields itself), and the schemas of request and response bodies.

use super::definitions::{V2_REF_PREFIX, definitions};
use crate::catalog::ResourceInfo;
use serde_json::{Map, Value, json};

/// Which OpenAPI version an operation is written for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Style {
    /// Swagger 2.0: `"type"` on parameters, `schema` on responses, body parameters.
    V2,
    /// OpenAPI 3.0: parameter `schema`, `requestBody` and response `content`.
    V3,
}

/// The group-version path of a document: `api/v1`, `apis/apps/v1`.
pub fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// A `$ref` to a definition in the given style.
pub fn reference(style: Style, name: &str) -> String {
    match style {
        Style::V2 => format!("{V2_REF_PREFIX}{name}"),
        Style::V3 => format!("#/components/schemas/{name}"),
    }
}

const WRITE_PARAMS: &[(&str, &str)] = &[
    ("dryRun", "string"),
    ("fieldManager", "string"),
    ("fieldValidation", "string"),
];
const PATCH_PARAMS: &[(&str, &str)] = &[
    ("dryRun", "string"),
    ("fieldManager", "string"),
    ("fieldValidation", "string"),
    ("force", "boolean"),
];
const DELETE_PARAMS: &[(&str, &str)] = &[
    ("dryRun", "string"),
    ("gracePeriodSeconds", "integer"),
    ("propagationPolicy", "string"),
];
const LIST_PARAMS: &[(&str, &str)] = &[
    ("allowWatchBookmarks", "boolean"),
    ("continue", "string"),
    ("fieldSelector", "string"),
    ("labelSelector", "string"),
    ("limit", "integer"),
    ("resourceVersion", "string"),
    ("resourceVersionMatch", "string"),
    ("sendInitialEvents", "boolean"),
    ("timeoutSeconds", "integer"),
    ("watch", "boolean"),
];

const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
/// The PATCH bodies every built-in resource accepts.
const PATCH_CONTENT_TYPES: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];
const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";

fn param(style: Style, name: &str, kind: &str) -> Value {
    match style {
        Style::V2 => json!({"name": name, "in": "query", "type": kind, "uniqueItems": true}),
        Style::V3 => {
            json!({"name": name, "in": "query", "schema": {"type": kind, "uniqueItems": true}})
        }
    }
}

/// What an operation reads and answers: definition names of its body and its 200 response.
struct Bodies<'a> {
    request: Option<&'a str>,
    response: Option<&'a str>,
}

fn operation(
    style: Style,
    info: &ResourceInfo,
    action: &str,
    params: &[(&str, &str)],
    bodies: Bodies<'_>,
) -> Value {
    let mut parameters: Vec<Value> = params.iter().map(|(n, k)| param(style, n, k)).collect();
    let mut op = Map::new();
    op.insert("x-kubernetes-action".into(), json!(action));
    op.insert(
        "x-kubernetes-group-version-kind".into(),
        json!({"group": info.group, "version": info.version, "kind": info.kind}),
    );
    if let Some(body) = bodies.request {
        let schema = json!({"$ref": reference(style, body)});
        match style {
            Style::V2 => {
                parameters.push(
                    json!({"name": "body", "in": "body", "required": true, "schema": schema}),
                );
                if action == "patch" {
                    op.insert("consumes".into(), json!(PATCH_CONTENT_TYPES));
                }
            }
            Style::V3 => {
                // kubectl reads a PATCH's content types to know the type takes strategic merge.
                let content: Map<String, Value> = if action == "patch" {
                    PATCH_CONTENT_TYPES
                        .iter()
                        .map(|ct| (ct.to_string(), json!({"schema": schema})))
                        .collect()
                } else {
                    [("*/*".to_string(), json!({"schema": schema}))]
                        .into_iter()
                        .collect()
                };
                op.insert(
                    "requestBody".into(),
                    json!({"content": content, "required": true}),
                );
            }
        }
    }
    op.insert("parameters".into(), Value::Array(parameters));
    let mut ok = json!({"description": "OK"});
    if let Some(body) = bodies.response {
        let schema = json!({"$ref": reference(style, body)});
        match style {
            Style::V2 => ok["schema"] = schema,
            Style::V3 => ok["content"] = json!({"application/json": {"schema": schema}}),
        }
    }
    op.insert("responses".into(), json!({"200": ok}));
    Value::Object(op)
}

/// Adds the collection and item paths of one resource.
pub fn resource_paths(style: Style, info: &ResourceInfo, paths: &mut Map<String, Value>) {
    let defs = definitions();
    let kind = defs.name_of_kind(info.group, info.version, info.kind);
    let list_kind = format!("{}List", info.kind);
    let list = defs.name_of_kind(info.group, info.version, &list_kind);
    let base = format!("/{}", gv_path(info.group, info.version));
    let collection = if info.namespaced {
        format!("{base}/namespaces/{{namespace}}/{}", info.plural)
    } else {
        format!("{base}/{}", info.plural)
    };
    let bodies = |request, response| Bodies { request, response };
    let mut coll = Map::new();
    if info.has_verb("list") {
        let op = operation(style, info, "list", LIST_PARAMS, bodies(None, list));
        coll.insert("get".into(), op);
    }
    if info.has_verb("create") {
        let op = operation(style, info, "post", WRITE_PARAMS, bodies(kind, kind));
        coll.insert("post".into(), op);
    }
    if info.has_verb("deletecollection") {
        let b = bodies(Some(DELETE_OPTIONS), Some(STATUS));
        let op = operation(style, info, "deletecollection", LIST_PARAMS, b);
        coll.insert("delete".into(), op);
    }
    if !coll.is_empty() {
        paths.insert(collection.clone(), Value::Object(coll));
    }
    let item = format!("{collection}/{{name}}");
    let mut one = Map::new();
    if info.has_verb("get") {
        one.insert(
            "get".into(),
            operation(style, info, "get", &[], bodies(None, kind)),
        );
    }
    if info.has_verb("update") {
        let op = operation(style, info, "put", WRITE_PARAMS, bodies(kind, kind));
        one.insert("put".into(), op);
    }
    if info.has_verb("patch") {
        let op = operation(
            style,
            info,
            "patch",
            PATCH_PARAMS,
            bodies(Some(PATCH), kind),
        );
        one.insert("patch".into(), op);
    }
    if info.has_verb("delete") {
        let b = bodies(Some(DELETE_OPTIONS), Some(STATUS));
        let op = operation(style, info, "delete", DELETE_PARAMS, b);
        one.insert("delete".into(), op);
    }
    if !one.is_empty() {
        paths.insert(item, Value::Object(one));
    }
}

/// The definitions a group version's operations name: each kind, its list, the kinds of its
/// subresources, and the meta types every API uses.
pub fn root_definitions(resources: &[&ResourceInfo]) -> Vec<String> {
    let defs = definitions();
    let mut roots: Vec<String> = [
        STATUS,
        PATCH,
        DELETE_OPTIONS,
        "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for info in resources {
        let list = format!("{}List", info.kind);
        let mut kinds = vec![
            (info.group, info.version, info.kind),
            (info.group, info.version, list.as_str()),
        ];
        for sub in info.subresources {
            if sub.kind.is_empty() {
                continue;
            }
            if sub.version.is_empty() {
                kinds.push((info.group, info.version, sub.kind));
            } else {
                kinds.push((sub.group, sub.version, sub.kind));
            }
        }
        for (g, v, k) in kinds {
            if let Some(name) = defs.name_of_kind(g, v, k) {
                roots.push(name.to_string());
            }
        }
    }
    roots
}
