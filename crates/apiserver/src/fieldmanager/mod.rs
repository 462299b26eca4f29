//! Managed fields: which manager set which field of an object (`metadata.managedFields`), and
//! server-side apply, which uses them to merge configurations and find conflicts.
//!
//! Every write is recorded like upstream's field manager does it: an update gives its manager
//! the fields it changed (taking them from other managers); an apply gives its manager exactly
//! the fields of its configuration, refuses (409) to change fields other managers own unless
//! forced, and removes fields the manager stopped applying that nobody else owns.

mod fieldset;
mod last_applied;
mod merge;
mod undeclared;

pub use fieldset::{FieldSet, display_path};
pub use undeclared::first_undeclared;

use rkube_machinery::{ApiError, StatusReason};
use rkube_registry::patch_meta::Node;
use serde_json::{Map, Value, json};

/// Who writes, and through which endpoint.
#[derive(Debug, Clone)]
pub struct Writer<'a> {
    /// The field manager (`?fieldManager=`, else the user agent's product, else `unknown`).
    pub manager: &'a str,
    /// `Some("status")` for writes to the status subresource.
    pub subresource: Option<&'a str>,
    /// The apiVersion the writer spoke.
    pub api_version: String,
    /// The resource has a status subresource, so main-resource writes never own `status`.
    pub has_status_subresource: bool,
}

impl Writer<'_> {
    fn tracked(&self, set: FieldSet) -> FieldSet {
        let status_only = self.subresource == Some("status");
        set.without_untracked(status_only, self.has_status_subresource && !status_only)
    }
}

/// One `managedFields` entry.
#[derive(Debug, Clone)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: Option<String>,
    subresource: Option<String>,
    fields: FieldSet,
}

impl Entry {
    fn from_json(v: &Value) -> Entry {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Entry {
            manager: s("manager").unwrap_or_default(),
            operation: s("operation").unwrap_or_default(),
            api_version: s("apiVersion").unwrap_or_default(),
            time: s("time"),
            subresource: s("subresource"),
            fields: FieldSet::from_json(v.get("fieldsV1").unwrap_or(&Value::Null)),
        }
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("manager".into(), self.manager.clone().into());
        m.insert("operation".into(), self.operation.clone().into());
        m.insert("apiVersion".into(), self.api_version.clone().into());
        if let Some(t) = &self.time {
            m.insert("time".into(), t.clone().into());
        }
        m.insert("fieldsType".into(), "FieldsV1".into());
        m.insert("fieldsV1".into(), self.fields.to_json());
        if let Some(s) = &self.subresource {
            m.insert("subresource".into(), s.clone().into());
        }
        Value::Object(m)
    }

    fn is(&self, w: &Writer, operation: &str) -> bool {
        self.manager == w.manager
            && self.operation == operation
            && self.subresource.as_deref() == w.subresource
    }
}

fn now() -> String {
    rkube_machinery::time::now_rfc3339()
}

fn entries_of(obj: &Value) -> Option<Vec<Entry>> {
    obj.get("metadata")?
        .get("managedFields")?
        .as_array()
        .map(|a| a.iter().map(Entry::from_json).collect())
}

/// `obj` without its managed fields (what the field sets describe).
fn without_managed_fields(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    o
}

fn store_entries(obj: &mut Value, entries: Vec<Entry>) {
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(Entry::to_json)
        .collect();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if list.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(list));
        }
    }
}

/// Record a create (`old: None`) or update of `new` by `w`: the writer owns what it changed.
pub fn record_update(old: Option<&Value>, new: &mut Value, w: &Writer, schema: Option<Node>) {
    let entries = entries_after_update(old, new, w, schema);
    store_entries(new, entries);
}

/// The managed fields of a create (`old: None`) or update by `w`, recorded from `observed`: the
/// object as the client sent it, decoded and defaulted but before the strategy prepares it and
/// the server allocates anything (upstream's field manager runs there, so fields the server
/// sets, like a Job's generated selector or a Service's IP families, are nobody's). Store the
/// answer in the written object with [`store_managed_fields`].
pub fn managed_fields_of_update(
    old: Option<&Value>,
    observed: &Value,
    w: &Writer,
    schema: Option<Node>,
) -> ManagedFields {
    ManagedFields(entries_after_update(old, observed, w, schema))
}

/// Managed fields computed by [`managed_fields_of_update`], to store in the written object.
#[derive(Debug, Clone)]
pub struct ManagedFields(Vec<Entry>);

/// Replace `obj`'s managed fields with `fields`.
pub fn store_managed_fields(obj: &mut Value, fields: ManagedFields) {
    store_entries(obj, fields.0);
}

fn entries_after_update(
    old: Option<&Value>,
    new: &Value,
    w: &Writer,
    schema: Option<Node>,
) -> Vec<Entry> {
    // A client that sends managed fields different from the stored ones replaces them.
    let sent = entries_of(new);
    let stored = old.and_then(entries_of);
    let sent_differs = match (
        old,
        new.get("metadata").and_then(|m| m.get("managedFields")),
    ) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(o), Some(n)) => o.get("metadata").and_then(|m| m.get("managedFields")) != Some(n),
    };
    let mut entries = if sent_differs { sent } else { stored }.unwrap_or_default();

    // A create is compared with the type's zero value, as upstream does: fields every object
    // of the type has (`spec`, a pod template) are then not marked as set themselves.
    let before = match old {
        Some(o) => Some(without_managed_fields(o)),
        None => schema.map(rkube_registry::zero_fields::zero_value),
    };
    // Empty label and annotation maps are not written (Go's `omitempty`), so nobody sets them.
    let mut after = without_managed_fields(new);
    crate::object::drop_empty_meta_collections(&mut after);
    let (changed, removed) = FieldSet::diff(before.as_ref(), &after, schema);
    let changed = w.tracked(changed);
    let removed = w.tracked(removed);
    if changed.is_empty() && removed.is_empty() && !sent_differs {
        return entries;
    }
    for e in entries.iter_mut().filter(|e| !e.is(w, "Update")) {
        e.fields = e.fields.difference(&changed).difference(&removed);
    }
    let own = match entries.iter().position(|e| e.is(w, "Update")) {
        Some(i) => &mut entries[i],
        None => {
            entries.push(Entry {
                manager: w.manager.to_string(),
                operation: "Update".into(),
                api_version: w.api_version.clone(),
                time: None,
                subresource: w.subresource.map(str::to_string),
                fields: FieldSet::default(),
            });
            entries.last_mut().expect("just pushed")
        }
    };
    own.fields = own.fields.union(&changed).difference(&removed);
    own.api_version = w.api_version.clone();
    if !changed.is_empty() {
        own.time = Some(now());
    }
    entries
}

/// Server-side apply of `config` by `w` to `live` (`None` creates): the merged object with its
/// managed fields, or a 409 naming the conflicting fields and their managers.
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    w: &Writer,
    force: bool,
    schema: Option<Node>,
) -> Result<Value, ApiError> {
    let mut entries = live.and_then(entries_of).unwrap_or_default();
    let config = without_managed_fields(config);
    let applied = w.tracked(FieldSet::from_value(&config, schema));
    let base = live
        .map(without_managed_fields)
        .unwrap_or_else(|| json!({}));
    let mut merged = merge::merge(base.clone(), &config, schema);
    // What the write may not touch stays as it was.
    if w.has_status_subresource && w.subresource != Some("status") {
        match base.get("status") {
            Some(s) => merged["status"] = s.clone(),
            None => {
                merged.as_object_mut().map(|m| m.remove("status"));
            }
        }
    }
    let (changed, _) = FieldSet::diff(Some(&base), &merged, schema);
    let changed = w.tracked(changed);

    let mut conflicts: Vec<(String, Vec<String>)> = Vec::new();
    for e in entries.iter().filter(|e| !e.is(w, "Apply")) {
        for path in e.fields.intersection(&changed).paths() {
            conflicts.push((e.manager.clone(), path));
        }
    }
    let mut force = force;
    if !conflicts.is_empty() && !force {
        // Fields client-side apply set, still as it set them, move to `kubectl` without a fight.
        let allowed = live
            .map(|l| last_applied::allowed_conflicts(w.manager, l, schema))
            .unwrap_or_default();
        conflicts.retain(|(_, path)| !allowed.contains(path));
        if !conflicts.is_empty() {
            return Err(conflict_error(&conflicts));
        }
        force = true;
    }
    if force {
        for e in entries.iter_mut().filter(|e| !e.is(w, "Apply")) {
            e.fields = e.fields.difference(&changed);
        }
    }

    // Fields this manager applied before but not now go, unless another manager owns them.
    let previous = entries
        .iter()
        .find(|e| e.is(w, "Apply"))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let others = entries
        .iter()
        .filter(|e| !e.is(w, "Apply"))
        .fold(FieldSet::default(), |acc, e| acc.union(&e.fields));
    let dropped = previous.difference(&applied).difference(&others);
    let mut dropped_paths = dropped.paths();
    // Deepest first, so removing an element never hides a path still to remove.
    dropped_paths.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for path in dropped_paths {
        merge::remove_path(&mut merged, &path);
    }

    let own = Entry {
        manager: w.manager.to_string(),
        operation: "Apply".into(),
        api_version: w.api_version.clone(),
        time: Some(now()),
        subresource: w.subresource.map(str::to_string),
        fields: applied,
    };
    match entries.iter().position(|e| e.is(w, "Apply")) {
        Some(i) => entries[i] = own,
        None => entries.push(own),
    }
    if merged.get("metadata").is_none() {
        merged["metadata"] = json!({});
    }
    store_entries(&mut merged, entries);
    last_applied::sync_annotation(w.manager, &mut merged, &config);
    Ok(merged)
}

/// Upstream's apply conflict: 409 with one `FieldManagerConflict` cause per field.
fn conflict_error(conflicts: &[(String, Vec<String>)]) -> ApiError {
    let conflicts: Vec<(String, String)> = conflicts
        .iter()
        .map(|(m, p)| (m.clone(), display_path(p)))
        .collect();
    let conflicts = conflicts.as_slice();
    let text = if let [(manager, path)] = conflicts {
        format!("conflict with \"{manager}\": {path}")
    } else {
        let mut managers: Vec<&String> = conflicts.iter().map(|(m, _)| m).collect();
        managers.sort();
        managers.dedup();
        let mut lines = Vec::new();
        for m in managers {
            lines.push(format!("conflicts with \"{m}\":"));
            for (_, p) in conflicts.iter().filter(|(cm, _)| cm == m) {
                lines.push(format!("- {p}"));
            }
        }
        lines.join("\n")
    };
    let n = conflicts.len();
    let mut err = ApiError::new(
        409,
        StatusReason::Conflict,
        format!(
            "Apply failed with {n} conflict{}: {text}",
            if n == 1 { "" } else { "s" }
        ),
    );
    let causes = conflicts
        .iter()
        .map(|(m, p)| rkube_machinery::status::Cause {
            reason: "FieldManagerConflict".into(),
            message: format!("conflict with \"{m}\""),
            field: p.clone(),
        })
        .collect();
    err.details = Some(Box::new(rkube_machinery::status::Details {
        causes,
        ..Default::default()
    }));
    err
}

/// The field manager of a request: `?fieldManager=`, else the user agent's product name (what
/// precedes its first `/`), else `unknown`.
pub fn manager_name<'a>(field_manager: Option<&'a str>, user_agent: Option<&'a str>) -> &'a str {
    field_manager
        .filter(|m| !m.is_empty())
        .or_else(|| {
            user_agent
                .and_then(|ua| ua.split('/').next())
                .filter(|p| !p.is_empty())
        })
        .unwrap_or("unknown")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(manager: &str) -> Writer<'_> {
        Writer {
            manager,
            subresource: None,
            api_version: "v1".into(),
            has_status_subresource: false,
        }
    }

    fn cm_schema() -> Option<Node> {
        Node::of_kind("", "v1", "ConfigMap")
    }

    fn cm(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "d"}, "data": data})
    }

    fn managers(obj: &Value) -> Vec<String> {
        obj["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{}:{}",
                    e["manager"].as_str().unwrap(),
                    e["operation"].as_str().unwrap()
                )
            })
            .collect()
    }

    #[test]
    fn apply_owns_conflicts_and_forces() {
        let first = apply(
            None,
            &cm(json!({"x": "1"})),
            &writer("kubectl"),
            false,
            cm_schema(),
        )
        .unwrap();
        assert_eq!(managers(&first), ["kubectl:Apply"]);
        assert_eq!(
            first["metadata"]["managedFields"][0]["fieldsV1"],
            json!({"f:data": {"f:x": {}}})
        );

        let err = apply(
            Some(&first),
            &cm(json!({"x": "2"})),
            &writer("other"),
            false,
            cm_schema(),
        )
        .unwrap_err();
        assert_eq!(err.code, 409);
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"kubectl\": .data.x"
        );

        // The same value is shared, not a conflict.
        let shared = apply(
            Some(&first),
            &cm(json!({"x": "1"})),
            &writer("other"),
            false,
            cm_schema(),
        )
        .unwrap();
        assert_eq!(managers(&shared), ["kubectl:Apply", "other:Apply"]);

        let forced = apply(
            Some(&first),
            &cm(json!({"x": "2"})),
            &writer("other"),
            true,
            cm_schema(),
        )
        .unwrap();
        assert_eq!(forced["data"]["x"], "2");
        assert_eq!(managers(&forced), ["other:Apply"]);
    }

    #[test]
    fn fields_no_longer_applied_are_removed_unless_others_own_them() {
        let v1 = apply(
            None,
            &cm(json!({"a": "1", "b": "2"})),
            &writer("kubectl"),
            false,
            cm_schema(),
        )
        .unwrap();
        let mut edited = v1.clone();
        edited["data"]["c"] = json!("3");
        record_update(Some(&v1), &mut edited, &writer("kubectl-edit"), cm_schema());
        assert_eq!(managers(&edited), ["kubectl:Apply", "kubectl-edit:Update"]);
        let v2 = apply(
            Some(&edited),
            &cm(json!({"a": "1"})),
            &writer("kubectl"),
            false,
            cm_schema(),
        )
        .unwrap();
        assert_eq!(v2["data"], json!({"a": "1", "c": "3"}));
    }

    #[test]
    fn updates_take_changed_fields_from_other_managers() {
        let v1 = apply(
            None,
            &cm(json!({"a": "1"})),
            &writer("kubectl"),
            false,
            cm_schema(),
        )
        .unwrap();
        let mut v2 = v1.clone();
        v2["data"]["a"] = json!("9");
        record_update(Some(&v1), &mut v2, &writer("editor"), cm_schema());
        assert_eq!(managers(&v2), ["editor:Update"]);
        assert_eq!(
            manager_name(None, Some("kubectl-edit/v1.33.1 (linux/amd64)")),
            "kubectl-edit"
        );
        assert_eq!(manager_name(Some("mine"), Some("x/1")), "mine");
        assert_eq!(manager_name(None, None), "unknown");
    }

    #[test]
    fn kubectl_takes_over_fields_client_side_apply_set() {
        let last = r#"{"apiVersion":"v1","data":{"a":"1"},"kind":"ConfigMap","metadata":{"annotations":{},"name":"c","namespace":"d"}}"#;
        let mut csa = cm(json!({"a": "1", "b": "2"}));
        csa["metadata"]["annotations"] = json!({ last_applied::ANNOTATION: last });
        record_update(
            None,
            &mut csa,
            &writer("kubectl-client-side-apply"),
            cm_schema(),
        );
        // `b` was never in the annotation: still a conflict, and the only one reported.
        let err = apply(
            Some(&csa),
            &cm(json!({"a": "9", "b": "9"})),
            &writer("kubectl"),
            false,
            cm_schema(),
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\": .data.b"
        );
        // Another manager gets no such pass.
        assert!(
            apply(
                Some(&csa),
                &cm(json!({"a": "9"})),
                &writer("other"),
                false,
                cm_schema()
            )
            .is_err()
        );
        let ssa = apply(
            Some(&csa),
            &cm(json!({"a": "9"})),
            &writer("kubectl"),
            false,
            cm_schema(),
        )
        .unwrap();
        assert_eq!(ssa["data"], json!({"a": "9", "b": "2"}));
        assert_eq!(
            ssa["metadata"]["annotations"][last_applied::ANNOTATION],
            r#"{"apiVersion":"v1","data":{"a":"9"},"kind":"ConfigMap","metadata":{"name":"c","namespace":"d"}}
"#
        );
    }
}
