//! Server-side printing: `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`.
//!
//! kubectl asks for Tables for `get`. This module gives every resource upstream's generic
//! columns (Name, Age) plus the first columns of a few common resources; the full per-resource
//! column sets are the kubectl-fidelity work.

use crate::handler::ApiRequest;
use axum::response::Response;
use bytes::Bytes;
use http::HeaderMap;
use rkube_registry::ResourceInfo;
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

/// A column definition.
fn column(name: &str, kind: &str, format: &str, description: &str) -> Value {
    json!({"name": name, "type": kind, "format": format, "description": description, "priority": 0})
}

/// The columns of a resource.
fn columns(info: &ResourceInfo) -> Vec<Value> {
    let name = column(
        "Name",
        "string",
        "name",
        "Name must be unique within a namespace.",
    );
    let age = column(
        "Age",
        "string",
        "",
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
    );
    match (info.group, info.plural) {
        ("", "namespaces") => vec![
            name,
            column("Status", "string", "", "The status of the namespace"),
            age,
        ],
        ("", "configmaps") => vec![
            name,
            column(
                "Data",
                "integer",
                "",
                "Data contains the configuration data.",
            ),
            age,
        ],
        ("", "secrets") => vec![
            name,
            column("Type", "string", "", "The type of the secret"),
            column("Data", "integer", "", "The number of data entries"),
            age,
        ],
        _ => vec![name, age],
    }
}

/// Upstream's short age: `5s`, `3m`, `2d4h`.
pub fn age(created: Option<&str>) -> String {
    let Some(ts) = created.and_then(|c| c.parse::<jiff::Timestamp>().ok()) else {
        return "<unknown>".into();
    };
    let secs = (jiff::Timestamp::now().as_second() - ts.as_second()).max(0);
    human_duration(secs)
}

/// kubectl's `HumanDuration`.
pub fn human_duration(secs: i64) -> String {
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86400);
    if secs < 120 {
        format!("{secs}s")
    } else if m < 10 {
        let s = secs % 60;
        if s == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{s}s")
        }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        let mm = m % 60;
        if mm == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{mm}m")
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        let hh = h % 24;
        if hh == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{hh}h")
        }
    } else if h < 24 * 365 * 2 {
        format!("{d}d")
    } else if h < 24 * 365 * 8 {
        let y = d / 365;
        let dd = d % 365;
        if dd == 0 {
            format!("{y}y")
        } else {
            format!("{y}y{dd}d")
        }
    } else {
        format!("{}y", d / 365)
    }
}

fn cells(info: &ResourceInfo, obj: &Value) -> Vec<Value> {
    let name = Value::String(crate::object::name(obj).to_string());
    let age = Value::String(age(crate::object::meta_str(obj, "creationTimestamp")));
    let count = |v: &Value| v.as_object().map_or(0, |m| m.len());
    match (info.group, info.plural) {
        ("", "namespaces") => vec![name, obj["status"]["phase"].clone(), age],
        ("", "configmaps") => vec![
            name,
            json!(count(&obj["data"]) + count(&obj["binaryData"])),
            age,
        ],
        ("", "secrets") => vec![name, obj["type"].clone(), json!(count(&obj["data"])), age],
        _ => vec![name, age],
    }
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
        .map(|o| json!({"cells": cells(info, o), "object": row_object(o, include)}))
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
        let row = json!({"cells": cells(info, &obj), "object": row_object(&obj, include)});
        serde_json::to_writer(&mut out, &row).expect("JSON values always serialize");
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

    #[test]
    fn human_durations_match_kubectl() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(125), "2m5s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(3 * 3600 + 60), "3h1m");
        assert_eq!(human_duration(50 * 3600), "2d2h");
    }
}
