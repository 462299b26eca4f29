//! `/openapi/v2`: one swagger 2.0 document for every served group version, as JSON and as
//! gnostic protobuf (what kubectl asks for when it validates objects on the client side).

use super::definitions::definitions;
use super::enums::without_enums_v2;
use super::paths::{Style, resource_paths, root_definitions};
use super::{INFO_VERSION, Served, gnostic};
use crate::catalog::{self, GROUPS};
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

/// The media type kubectl asks for (`Accept`); `@` is not valid in a media type, so the answer is
/// labelled [`PROTOBUF_CONTENT_TYPE`], as upstream does.
pub const PROTOBUF_MEDIA_TYPE: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";

/// The `Content-Type` of the protobuf answer, and the media type newer clients ask for.
pub const PROTOBUF_CONTENT_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// Both encodings, built together on first use; the JSON tree itself is not kept.
fn served() -> &'static (Served, Served) {
    static BOTH: OnceLock<(Served, Served)> = OnceLock::new();
    BOTH.get_or_init(|| {
        let doc = build();
        let json = serde_json::to_vec(&doc).expect("JSON values always serialize");
        (Served::new(json), Served::new(gnostic::encode(&doc)))
    })
}

/// The document as JSON.
pub fn json() -> &'static Served {
    &served().0
}

/// The document as a gnostic `openapi.v2.Document` protobuf.
pub fn protobuf() -> &'static Served {
    &served().1
}

/// Whether an `Accept` header asks for the protobuf form.
pub fn wants_protobuf(accept: &str) -> bool {
    accept
        .split(',')
        .map(|part| part.split(';').next().unwrap_or("").trim())
        .any(|t| t == PROTOBUF_MEDIA_TYPE || t == PROTOBUF_CONTENT_TYPE)
}

fn build() -> Value {
    let mut paths = Map::new();
    let mut roots = Vec::new();
    for g in GROUPS {
        for v in g.versions {
            let resources: Vec<_> = catalog::resources_of(g.name, v).collect();
            for info in &resources {
                resource_paths(Style::V2, info, &mut paths);
            }
            roots.extend(root_definitions(&resources));
        }
    }
    let defs = definitions();
    let mut definitions = Map::new();
    for name in defs.closure(roots.iter().map(String::as_str)) {
        if let Some(schema) = defs.get(&name) {
            definitions.insert(name, without_enums_v2(schema));
        }
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": INFO_VERSION},
        "paths": paths,
        "definitions": definitions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_document_has_definitions_and_paths() {
        let doc: Value = serde_json::from_slice(&json().body).unwrap();
        assert_eq!(doc["swagger"], "2.0");
        let cm = &doc["definitions"]["io.k8s.api.core.v1.ConfigMap"];
        assert_eq!(
            cm["x-kubernetes-group-version-kind"][0]["kind"],
            "ConfigMap"
        );
        assert_eq!(
            cm["properties"]["metadata"]["$ref"],
            "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        );
        let post = &doc["paths"]["/api/v1/namespaces/{namespace}/configmaps"]["post"];
        assert_eq!(post["x-kubernetes-action"], "post");
        assert!(
            post["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["in"] == "body")
        );
    }

    #[test]
    fn enum_values_are_v3_only() {
        let doc: Value = serde_json::from_slice(&json().body).unwrap();
        let restart =
            &doc["definitions"]["io.k8s.api.core.v1.PodSpec"]["properties"]["restartPolicy"];
        assert!(restart.get("enum").is_none());
        assert!(
            restart["description"]
                .as_str()
                .unwrap()
                .ends_with("pod-lifecycle/#restart-policy")
        );
        // JSONSchemaProps keeps its field named `enum`.
        let props = &doc["definitions"]["io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"];
        assert!(props["properties"].get("enum").is_some());
        let text = serde_json::to_string(&doc).unwrap();
        assert!(!text.contains("x-rkube-enum-description"));
        assert!(!text.contains("Possible enum values"));
    }

    #[test]
    fn protobuf_is_asked_for_by_media_type() {
        assert!(wants_protobuf(
            "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
        ));
        assert!(wants_protobuf(
            "application/json;q=0.9, application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
        ));
        assert!(!wants_protobuf("application/json"));
    }
}
