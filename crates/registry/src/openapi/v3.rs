//! `/openapi/v3` and `/openapi/v3/<group-version>`.
//!
//! Each group version's document holds its operations and, in `components.schemas`, every schema
//! those operations reach, with refs written `#/components/schemas/...` and a described ref
//! wrapped in `allOf` as upstream does (OpenAPI 3.0 ignores siblings of a bare `$ref`).

use super::definitions::{definitions, ref_target};
use super::enums::merge_description_v3;
use super::paths::{Style, gv_path, reference, resource_paths, root_definitions};
use super::{INFO_VERSION, Served};
use crate::catalog::{self, GROUPS};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Every group version's document, by its path (`apis/apps/v1`), built on first use.
fn documents() -> &'static BTreeMap<String, Served> {
    static DOCS: OnceLock<BTreeMap<String, Served>> = OnceLock::new();
    DOCS.get_or_init(|| {
        let mut docs = BTreeMap::new();
        for g in GROUPS {
            for v in g.versions {
                let doc = build(g.name, v);
                let body = serde_json::to_vec(&doc).expect("JSON values always serialize");
                docs.insert(gv_path(g.name, v), Served::new(body));
            }
        }
        docs
    })
}

/// `/openapi/v3`: the index of per-group-version documents; each URL carries its content hash,
/// so a client's cache stays valid until the document changes.
pub fn index() -> Value {
    let mut paths = Map::new();
    for (path, served) in documents() {
        let url = format!("/openapi/v3/{path}?hash={}", served.hash);
        paths.insert(path.clone(), json!({"serverRelativeURL": url}));
    }
    json!({"paths": paths})
}

/// `/openapi/v3/<group-version>`, or `None` for a group version the server does not serve.
pub fn document(group: &str, version: &str) -> Option<&'static Served> {
    documents().get(&gv_path(group, version))
}

fn build(group: &str, version: &str) -> Value {
    let resources: Vec<_> = catalog::resources_of(group, version).collect();
    let mut paths = Map::new();
    for info in &resources {
        resource_paths(Style::V3, info, &mut paths);
    }
    let defs = definitions();
    let roots = root_definitions(&resources);
    let mut schemas = Map::new();
    for name in defs.closure(roots.iter().map(String::as_str)) {
        if let Some(schema) = defs.get(&name) {
            schemas.insert(name, to_v3(schema));
        }
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": INFO_VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

/// A v2-form schema in v3 form.
fn to_v3(schema: &Value) -> Value {
    let Some(obj) = schema.as_object() else {
        return schema.clone();
    };
    let mut out = Map::new();
    let target = obj.get("$ref").and_then(Value::as_str).map(ref_target);
    if let Some(target) = target {
        let r = json!({"$ref": reference(Style::V3, target)});
        if obj.len() == 1 {
            return r;
        }
        out.insert("allOf".into(), json!([r]));
    }
    for (key, value) in obj {
        match key.as_str() {
            "$ref" => {}
            "items" | "additionalProperties" if value.is_object() => {
                out.insert(key.clone(), to_v3(value));
            }
            "properties" => {
                let props = value.as_object().into_iter().flatten();
                let props = props.map(|(k, v)| (k.clone(), to_v3(v))).collect();
                out.insert(key.clone(), Value::Object(props));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    merge_description_v3(&mut out);
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(group: &str, version: &str) -> Value {
        serde_json::from_slice(&document(group, version).unwrap().body).unwrap()
    }

    #[test]
    fn patch_operations_advertise_field_validation() {
        let doc = parsed("apps", "v1");
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
        assert!(document("apps", "v9").is_none());
    }

    #[test]
    fn index_urls_carry_the_content_hash() {
        let url = index()["paths"]["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap()
            .to_string();
        let hash = document("apps", "v1").unwrap().hash.clone();
        assert_eq!(url, format!("/openapi/v3/apis/apps/v1?hash={hash}"));
        assert_ne!(hash, document("", "v1").unwrap().hash);
    }

    #[test]
    fn documents_hold_every_reachable_schema_with_v3_refs() {
        let doc = parsed("apps", "v1");
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let deployment = &schemas["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(
            deployment["x-kubernetes-group-version-kind"][0]["kind"],
            "Deployment"
        );
        assert_eq!(
            deployment["properties"]["spec"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"
        );
        assert!(schemas.contains_key("io.k8s.api.core.v1.Probe"));
        assert!(schemas.contains_key("io.k8s.api.apps.v1.DeploymentList"));
        assert!(schemas.contains_key("io.k8s.api.autoscaling.v1.Scale"));
        assert!(!schemas.contains_key("io.k8s.api.core.v1.Service"));
        // Every ref resolves inside the document.
        let text = serde_json::to_string(&doc).unwrap();
        for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = &part[..part.find('"').unwrap()];
            assert!(schemas.contains_key(name), "dangling ref {name}");
        }
    }

    #[test]
    fn enum_fields_carry_their_values_and_upstreams_list() {
        let doc = parsed("", "v1");
        let schemas = &doc["components"]["schemas"];
        let restart = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["restartPolicy"];
        assert_eq!(restart["enum"], json!(["Always", "Never", "OnFailure"]));
        assert!(
            restart["description"]
                .as_str()
                .unwrap()
                .ends_with("#restart-policy\n\nPossible enum values:\n - `\"Always\"`\n - `\"Never\"`\n - `\"OnFailure\"`")
        );
        let service_type = &schemas["io.k8s.api.core.v1.ServiceSpec"]["properties"]["type"];
        assert_eq!(
            service_type["enum"],
            json!(["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"])
        );
        let access = &schemas["io.k8s.api.core.v1.PersistentVolumeClaimSpec"]["properties"]["accessModes"]
            ["items"];
        assert_eq!(access["enum"][0], "ReadOnlyMany");
        // The embedded data's own key never reaches a client.
        let text = serde_json::to_string(&doc).unwrap();
        assert!(!text.contains(super::super::enums::ENUM_DESCRIPTION_KEY));
    }
}
