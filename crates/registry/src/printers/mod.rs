//! Server-side printing: the columns and cells of the Table kubectl asks for on `get`
//! (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), as upstream's printers compute them.
//!
//! Column definitions are upstream's recorded answers ([`columns`], generated); the cells of
//! each row are computed here, one module per API group like upstream's
//! `pkg/printers/internalversion`. The server always fills every column, `-o wide` ones
//! included (kubectl picks by priority). Resources without columns of their own get Name and Age.

mod apps;
mod batch;
mod columns;
mod core;
mod format;
mod other;

use crate::catalog::ResourceInfo;
use serde_json::{Value, json};

pub use format::{age, human_duration, label_selector_string};

/// A column of a Table.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    /// `string`, `integer`, `boolean`, `date`, ...
    pub kind: &'static str,
    pub format: &'static str,
    pub priority: u8,
    pub description: &'static str,
}

impl Column {
    /// The column as a `TableColumnDefinition`.
    pub fn definition(&self) -> Value {
        json!({"name": self.name, "type": self.kind, "format": self.format,
            "description": self.description, "priority": self.priority})
    }
}

/// Upstream's default columns (Name, Age) for resources without printers of their own.
static DEFAULT_COLUMNS: &[Column] = &[
    Column {
        name: "Name",
        kind: "string",
        format: "name",
        priority: 0,
        description: columns::NAME_DESCRIPTION,
    },
    Column {
        name: "Age",
        kind: "string",
        format: "",
        priority: 0,
        description: columns::AGE_DESCRIPTION,
    },
];

/// The columns of a resource's Table.
pub fn columns(info: &ResourceInfo) -> &'static [Column] {
    columns::COLUMNS
        .iter()
        .find(|(g, v, p, _)| *g == info.group && *v == info.version && *p == info.plural)
        .map(|(_, _, _, c)| *c)
        .unwrap_or(DEFAULT_COLUMNS)
}

/// The cells of one object's row, one per column of [`columns`].
pub fn cells(info: &ResourceInfo, obj: &Value) -> Vec<Value> {
    let cells = core::cells(info, obj)
        .or_else(|| apps::cells(info, obj))
        .or_else(|| batch::cells(info, obj))
        .or_else(|| other::cells(info, obj));
    match cells {
        Some(c) if c.len() == columns(info).len() => c,
        _ => vec![name(obj), age_of(obj)],
    }
}

/// Extra conditions upstream attaches to a row (finished pods are `Completed`).
pub fn row_conditions(info: &ResourceInfo, obj: &Value) -> Option<Value> {
    let phase = obj["status"]["phase"].as_str();
    (info.group.is_empty()
        && info.plural == "pods"
        && matches!(phase, Some("Succeeded" | "Failed")))
    .then(|| {
        let message = if phase == Some("Failed") {
            "The pod failed."
        } else {
            "The pod has completed successfully."
        };
        json!([{"type": "Completed", "status": "True", "reason": phase, "message": message}])
    })
}

/// The Name cell.
fn name(obj: &Value) -> Value {
    Value::String(obj["metadata"]["name"].as_str().unwrap_or_default().into())
}

/// The Age cell.
fn age_of(obj: &Value) -> Value {
    Value::String(age(obj["metadata"]["creationTimestamp"].as_str()))
}

/// The `Created At` cell (a date column): the creation timestamp as upstream serializes it.
fn created_at(obj: &Value) -> Value {
    obj["metadata"]["creationTimestamp"].clone()
}

/// A string field, or "".
fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// An integer field, or 0.
fn i(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// A string cell.
fn text(v: impl Into<String>) -> Value {
    Value::String(v.into())
}

/// `"<none>"` for an empty string.
fn or_none(v: &str) -> Value {
    text(if v.is_empty() { "<none>" } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::RESOURCES;

    #[test]
    fn every_printed_resource_has_as_many_cells_as_columns() {
        let obj = json!({"metadata": {"name": "x", "namespace": "default", "creationTimestamp": "2026-01-01T00:00:00Z"}});
        for info in RESOURCES.iter() {
            assert_eq!(
                cells(info, &obj).len(),
                columns(info).len(),
                "{}/{}",
                info.api_version(),
                info.plural
            );
        }
    }

    #[test]
    fn generated_columns_match_the_recorded_tables() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/golden/tables");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let doc: Value =
                serde_json::from_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap())
                    .unwrap();
            let gv = doc["groupVersion"].as_str().unwrap();
            let (g, v) = gv.split_once('/').unwrap_or(("", gv));
            let info = crate::catalog::find(g, v, doc["resource"].as_str().unwrap()).unwrap();
            let defs: Vec<Value> = columns(info).iter().map(Column::definition).collect();
            assert_eq!(Value::Array(defs), doc["columnDefinitions"], "{gv}");
            seen += 1;
        }
        assert!(seen > 50);
    }
}
