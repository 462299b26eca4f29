//! Server-side printing: `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`.
//!
//! kubectl asks for Tables for `get`. The columns and cells come from `rkube-registry`'s
//! printers (upstream's per-resource columns); this module builds the Table around them.

use crate::handler::ApiRequest;
use axum::response::Response;
use bytes::Bytes;
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

/// One row: the object's cells, the row object and upstream's row conditions.
fn row(info: &ResourceInfo, obj: &Value, include: &str) -> Value {
    let mut row = json!({"cells": printers::cells(info, obj), "object": row_object(obj, include)});
    if let Some(c) = printers::row_conditions(info, obj) {
        row["conditions"] = c;
    }
    row
}

fn table(info: &ResourceInfo, objs: &[Value], meta: Value, include: &str) -> Value {
    let rows: Vec<Value> = objs.iter().map(|o| row(info, o, include)).collect();
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

/// A list as a Table, from the items' JSON. Each object is parsed, turned into its row and
/// dropped before the next: parsing the whole list first held every object as a JSON value at
/// once (hundreds of MB for 10,000 pods, kept by the allocator afterwards).
pub fn list_table(
    req: &ApiRequest,
    items: impl Iterator<Item = Bytes>,
    revision: Revision,
    cont: Option<String>,
) -> Response {
    let include = req.query.get("includeObject").unwrap_or("Metadata");
    let mut meta = json!({"resourceVersion": revision.to_string()});
    if let Some(c) = cont {
        meta["continue"] = Value::String(c);
    }
    crate::http::json_bytes(
        200,
        Bytes::from(table_bytes(req.resource, items, meta, include)),
    )
}

/// The serialized form of [`table`], built one item at a time.
fn table_bytes(
    info: &ResourceInfo,
    items: impl Iterator<Item = Bytes>,
    meta: Value,
    include: &str,
) -> Vec<u8> {
    let head = json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": columns(info)});
    let mut out = serde_json::to_vec(&head).expect("JSON values always serialize");
    out.pop(); // the closing brace; the rows follow
    out.extend_from_slice(b",\"rows\":[");
    let mut first = true;
    for item in items {
        let Ok(obj) = serde_json::from_slice::<Value>(&item) else {
            continue;
        };
        if !first {
            out.push(b',');
        }
        first = false;
        serde_json::to_writer(&mut out, &row(info, &obj, include))
            .expect("JSON values always serialize");
    }
    out.extend_from_slice(b"]}");
    out
}

/// A watch event's object as a one-row Table.
pub fn event_table(info: &ResourceInfo, obj: &Value) -> Value {
    let meta =
        json!({"resourceVersion": crate::object::meta_str(obj, "resourceVersion").unwrap_or("")});
    table(info, std::slice::from_ref(obj), meta, "Metadata")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_table_built_row_by_row_is_the_table() {
        let info = rkube_registry::catalog::RESOURCES
            .iter()
            .find(|r| r.group.is_empty() && r.plural == "configmaps")
            .expect("configmaps");
        let objs: Vec<Value> = (0..3)
            .map(|i| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("c{i}"), "creationTimestamp": "2024-01-01T00:00:00Z"}, "data": {"a": "b"}}))
            .collect();
        let meta = json!({"resourceVersion": "7"});
        for include in ["Metadata", "Object", "None"] {
            let items = objs
                .iter()
                .map(|o| Bytes::from(serde_json::to_vec(o).unwrap()));
            let streamed: Value =
                serde_json::from_slice(&table_bytes(info, items, meta.clone(), include)).unwrap();
            assert_eq!(
                streamed,
                table(info, &objs, meta.clone(), include),
                "{include}"
            );
        }
        let empty: Value = serde_json::from_slice(&table_bytes(
            info,
            std::iter::empty(),
            meta.clone(),
            "Metadata",
        ))
        .unwrap();
        assert_eq!(empty, table(info, &[], meta, "Metadata"));
    }
}
