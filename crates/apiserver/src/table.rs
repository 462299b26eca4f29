//! Server-side printing: `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`.
//!
//! kubectl asks for Tables for `get`. The columns and cells come from `rkube-registry`'s
//! printers (upstream's per-resource columns); this module builds the Table around them.

use crate::handler::ApiRequest;
use axum::response::Response;
use http::HeaderMap;
use rkube_registry::ResourceInfo;
use rkube_registry::printers;
use rkube_store::Revision;
use serde_json::{Value, json};

/// Whether the client asked for a Table.
pub fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .next()
                .is_some_and(|first| first.contains("as=Table"))
        })
}

/// The column definitions of a resource's Table.
fn columns(info: &ResourceInfo) -> Vec<Value> {
    printers::columns(info)
        .iter()
        .map(printers::Column::definition)
        .collect()
}

/// The row object: the metadata (default) or the whole object (`includeObject=Object`).
fn row_object(obj: &Value, include: &str) -> Value {
    match include {
        "Object" => obj.clone(),
        "None" => Value::Null,
        _ => {
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"].clone()})
        }
    }
}

fn table(info: &ResourceInfo, objs: &[Value], meta: Value, include: &str) -> Value {
    let rows: Vec<Value> = objs
        .iter()
        .map(|o| {
            let mut row =
                json!({"cells": printers::cells(info, o), "object": row_object(o, include)});
            if let Some(c) = printers::row_conditions(info, o) {
                row["conditions"] = c;
            }
            row
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": columns(info), "rows": rows})
}

/// A single object, as a Table when asked for.
pub fn respond_object(req: &ApiRequest, obj: &Value) -> Response {
    if wants_table(&req.headers) {
        let include = req.query.get("includeObject").unwrap_or("Metadata");
        let meta = json!({"resourceVersion": crate::object::meta_str(obj, "resourceVersion").unwrap_or("")});
        return crate::http::json(
            200,
            &table(req.resource, std::slice::from_ref(obj), meta, include),
        );
    }
    crate::http::json(200, obj)
}

/// A list as a Table.
pub fn list_table(
    req: &ApiRequest,
    items: &[Value],
    revision: Revision,
    cont: Option<String>,
) -> Response {
    let include = req.query.get("includeObject").unwrap_or("Metadata");
    let mut meta = json!({"resourceVersion": revision.to_string()});
    if let Some(c) = cont {
        meta["continue"] = Value::String(c);
    }
    crate::http::json(200, &table(req.resource, items, meta, include))
}

/// A watch event's object as a one-row Table.
pub fn event_table(info: &ResourceInfo, obj: &Value) -> Value {
    let meta =
        json!({"resourceVersion": crate::object::meta_str(obj, "resourceVersion").unwrap_or("")});
    table(info, std::slice::from_ref(obj), meta, "Metadata")
}
