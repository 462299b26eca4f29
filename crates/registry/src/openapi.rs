//! OpenAPI v3 documents generated from the catalog.
//!
//! For now these describe the operations of every served resource (paths, verbs, the
//! `x-kubernetes-group-version-kind` and `x-kubernetes-action` extensions and the query
//! parameters), which is what kubectl reads to learn that the server validates fields itself
//! (`fieldValidation`). Type schemas (for `kubectl explain`) are added with the kubectl-fidelity
//! work.

use crate::catalog::{self, GROUPS, ResourceInfo};
use serde_json::{Map, Value, json};

/// The group-version path of a document: `api/v1`, `apis/apps/v1`.
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: the index of per-group-version documents.
pub fn index() -> Value {
    let mut paths = Map::new();
    for g in GROUPS {
        for v in g.versions {
            let p = gv_path(g.name, v);
            let url = format!("/openapi/v3/{p}?hash={}", hash_of(g.name, v));
            paths.insert(p, json!({"serverRelativeURL": url}));
        }
    }
    json!({"paths": paths})
}

/// A stable tag for a document's content, so clients may cache it.
fn hash_of(group: &str, version: &str) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in format!("{}{group}/{version}", env!("CARGO_PKG_VERSION")).bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016X}")
}

fn param(name: &str, kind: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": kind, "uniqueItems": true}})
}

fn operation(info: &ResourceInfo, action: &str, params: &[(&str, &str)]) -> Value {
    json!({
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": info.group, "version": info.version, "kind": info.kind},
        "parameters": params.iter().map(|(n, k)| param(n, k)).collect::<Vec<_>>(),
        "responses": {"200": {"description": "OK"}},
    })
}

const WRITE_PARAMS: &[(&str, &str)] = &[
    ("dryRun", "string"),
    ("fieldManager", "string"),
    ("fieldValidation", "string"),
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

fn resource_paths(info: &ResourceInfo, paths: &mut Map<String, Value>) {
    let base = format!("/{}", gv_path(info.group, info.version));
    let collection = if info.namespaced {
        format!("{base}/namespaces/{{namespace}}/{}", info.plural)
    } else {
        format!("{base}/{}", info.plural)
    };
    let mut coll = Map::new();
    if info.has_verb("list") {
        coll.insert("get".into(), operation(info, "list", LIST_PARAMS));
    }
    if info.has_verb("create") {
        coll.insert("post".into(), operation(info, "post", WRITE_PARAMS));
    }
    if info.has_verb("deletecollection") {
        coll.insert(
            "delete".into(),
            operation(info, "deletecollection", LIST_PARAMS),
        );
    }
    if !coll.is_empty() {
        paths.insert(collection.clone(), Value::Object(coll));
    }
    let item = format!("{collection}/{{name}}");
    let mut one = Map::new();
    if info.has_verb("get") {
        one.insert("get".into(), operation(info, "get", &[]));
    }
    if info.has_verb("update") {
        one.insert("put".into(), operation(info, "put", WRITE_PARAMS));
    }
    if info.has_verb("patch") {
        one.insert(
            "patch".into(),
            operation(
                info,
                "patch",
                &[
                    ("dryRun", "string"),
                    ("fieldManager", "string"),
                    ("fieldValidation", "string"),
                    ("force", "boolean"),
                ],
            ),
        );
    }
    if info.has_verb("delete") {
        one.insert(
            "delete".into(),
            operation(
                info,
                "delete",
                &[
                    ("dryRun", "string"),
                    ("gracePeriodSeconds", "integer"),
                    ("propagationPolicy", "string"),
                ],
            ),
        );
    }
    if !one.is_empty() {
        paths.insert(item, Value::Object(one));
    }
}

/// `/openapi/v3/<group-version>`, or `None` for a group version the server does not serve.
pub fn group_version(group: &str, version: &str) -> Option<Value> {
    let g = catalog::group(group)?;
    if !g.versions.contains(&version) {
        return None;
    }
    let mut paths = Map::new();
    for info in catalog::resources_of(group, version) {
        resource_paths(info, &mut paths);
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.1"},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_operations_advertise_field_validation() {
        let doc = group_version("apps", "v1").unwrap();
        let patch =
            &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "Deployment"
        );
        assert!(
            patch["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        assert!(
            index()["paths"]["apis/apps/v1"]["serverRelativeURL"]
                .as_str()
                .unwrap()
                .starts_with("/openapi/v3/apis/apps/v1?hash=")
        );
        assert!(group_version("apps", "v9").is_none());
    }
}
