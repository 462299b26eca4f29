//! The generic rules of `metadata` every resource follows (upstream's `ValidateObjectMeta` and
//! `ValidateObjectMetaUpdate`, with core's extra finalizer rule, and the metadata resets of
//! `rest.BeforeUpdate`).

use crate::strategy::NameRule;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath, Value};

/// Finalizers Kubernetes knows without a domain prefix.
const STANDARD_FINALIZERS: [&str; 3] = ["kubernetes", "orphan", "foregroundDeletion"];

/// Problems with a name under `rule`.
pub fn name_problems(name: &str, rule: NameRule) -> Vec<String> {
    match rule {
        NameRule::Subdomain => v::is_dns1123_subdomain(name),
        NameRule::Label => v::is_dns1123_label(name),
        NameRule::Dns1035Label => v::is_dns1035_label(name),
        NameRule::PathSegment => v::is_valid_path_segment_name(name),
    }
}

/// Problems with a `generateName` prefix under `rule`. A random suffix follows the prefix, so
/// upstream masks a trailing dash (its `maskTrailingDash`) before applying the name rule.
pub fn generate_name_problems(prefix: &str, rule: NameRule) -> Vec<String> {
    if rule == NameRule::PathSegment {
        return v::is_valid_path_segment_name(prefix);
    }
    let masked = v::mask_trailing_dash(prefix);
    name_problems(&masked, rule)
}

/// Validate the metadata of an object about to be stored.
pub fn validate_object_meta(meta: &ObjectMeta, namespaced: bool, rule: NameRule) -> ErrorList {
    let path = FieldPath::new("metadata");
    let mut errs = ErrorList::new();
    errs.extend(validate_names(meta, rule, &path));
    errs.extend(validate_namespace(meta, namespaced, &path));
    errs.extend(v::validate_nonnegative(
        meta.generation.unwrap_or(0),
        &path.child("generation"),
    ));
    errs.extend(validate_labels_and_annotations(meta, &path));
    errs.extend(validate_owner_references(
        meta.owner_references.as_deref().unwrap_or(&[]),
        &path.child("ownerReferences"),
    ));
    errs.extend(validate_finalizers(
        meta.finalizers.as_deref().unwrap_or(&[]),
        &path.child("finalizers"),
    ));
    errs
}

fn validate_names(meta: &ObjectMeta, rule: NameRule, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let generate_name = meta.generate_name.as_deref().unwrap_or("");
    if !generate_name.is_empty() {
        errs.extend(v::wrap(
            generate_name_problems(generate_name, rule),
            generate_name,
            &path.child("generateName"),
        ));
    }
    match meta.name.as_deref().unwrap_or("") {
        "" => errs.push(FieldError::required(
            path.child("name"),
            "name or generateName is required",
        )),
        name => errs.extend(v::wrap(
            name_problems(name, rule),
            name,
            &path.child("name"),
        )),
    }
    errs
}

fn validate_namespace(meta: &ObjectMeta, namespaced: bool, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let ns = meta.namespace.as_deref().unwrap_or("");
    if namespaced {
        if ns.is_empty() {
            errs.push(FieldError::required(path.child("namespace"), ""));
        } else {
            errs.extend(v::wrap(
                v::is_dns1123_label(ns),
                ns,
                &path.child("namespace"),
            ));
        }
    } else if !ns.is_empty() {
        errs.push(FieldError::forbidden(
            path.child("namespace"),
            "not allowed on this type",
        ));
    }
    errs
}

fn validate_labels_and_annotations(meta: &ObjectMeta, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Some(labels) = &meta.labels {
        errs.extend(v::validate_labels(labels, &path.child("labels")));
    }
    if let Some(annotations) = &meta.annotations {
        errs.extend(v::validate_annotations(
            annotations,
            &path.child("annotations"),
        ));
    }
    errs
}

/// Validate owner references: apiVersion, kind, name and uid are required, Events may not own,
/// and at most one reference is the controller.
pub fn validate_owner_references(refs: &[OwnerReference], path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut first_controller: Option<String> = None;
    for r in refs {
        errs.extend(validate_owner_reference(r, path));
        if r.controller == Some(true) {
            let current = format!("{}/{}", r.kind, r.name);
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid(
                    path.clone(),
                    owner_refs_value(refs),
                    format!("Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"),
                )),
                None => first_controller = Some(current),
            }
        }
    }
    errs
}

fn validate_owner_reference(r: &OwnerReference, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let (group, version) = split_api_version(&r.api_version);
    if version.is_empty() {
        errs.push(FieldError::invalid(
            path.child("apiVersion"),
            r.api_version.as_str(),
            "version must not be empty",
        ));
    }
    for (field, value) in [("kind", &r.kind), ("name", &r.name), ("uid", &r.uid)] {
        if value.is_empty() {
            errs.push(FieldError::invalid(
                path.child(field),
                "",
                "must not be empty",
            ));
        }
    }
    if group.is_empty() && version == "v1" && r.kind == "Event" {
        errs.push(FieldError::invalid(
            path.clone(),
            Value::Raw(format!("{r:?}")),
            "/v1, Kind=Event is disallowed from being an owner",
        ));
    }
    errs
}

/// `group/version` or `version`; anything else has no version (upstream's `ParseGroupVersion`).
fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split('/').collect::<Vec<_>>().as_slice() {
        [version] => ("", version),
        [group, version] => (group, version),
        _ => ("", ""),
    }
}

fn owner_refs_value(refs: &[OwnerReference]) -> Value {
    let items: Vec<String> = refs
        .iter()
        .map(|r| {
            format!(
                "v1.OwnerReference{{APIVersion:{}, Kind:{}, Name:{}, UID:{}, Controller:{}, BlockOwnerDeletion:{}}}",
                Value::quote(&r.api_version),
                Value::quote(&r.kind),
                Value::quote(&r.name),
                Value::quote(&r.uid),
                go_bool_ptr(r.controller),
                go_bool_ptr(r.block_owner_deletion)
            )
        })
        .collect();
    Value::Raw(format!("[]v1.OwnerReference{{{}}}", items.join(", ")))
}

fn go_bool_ptr(b: Option<bool>) -> String {
    b.map_or_else(|| "(*bool)(nil)".to_string(), |b| format!("&{b}"))
}

/// Go's `%#v` of a `[]string`.
pub fn go_string_slice(items: &[String]) -> Value {
    let quoted: Vec<String> = items.iter().map(|s| Value::quote(s)).collect();
    Value::Raw(format!("[]string{{{}}}", quoted.join(", ")))
}

/// Validate finalizer names: qualified names, unprefixed ones must be standard, and `orphan`
/// and `foregroundDeletion` exclude each other.
pub fn validate_finalizers(finalizers: &[String], path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    for f in finalizers {
        errs.extend(v::validate_qualified_name(f, path));
    }
    let has = |name: &str| finalizers.iter().any(|f| f == name);
    if has("orphan") && has("foregroundDeletion") {
        errs.push(FieldError::invalid(
            path.clone(),
            go_string_slice(finalizers),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    for (i, f) in finalizers.iter().enumerate() {
        errs.extend(validate_kube_finalizer_name(f, &path.index(i)));
    }
    errs
}

/// Core's rule: a finalizer without a `/` must be one of the standard ones.
pub fn validate_kube_finalizer_name(name: &str, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if !name.contains('/') && !STANDARD_FINALIZERS.contains(&name) {
        errs.push(FieldError::invalid(
            path.clone(),
            name,
            "name is neither a standard finalizer name nor is it fully qualified",
        ));
    }
    errs
}

/// Metadata an update may not change silently is carried over from the old object, as
/// upstream's `rest.BeforeUpdate` does: a missing uid, the creation timestamp, a deletion
/// timestamp once set, and a deletion grace period the update left out.
pub fn prepare_object_meta_update(new: &mut ObjectMeta, old: &ObjectMeta) {
    if new.uid.as_deref().unwrap_or("").is_empty() {
        new.uid.clone_from(&old.uid);
    }
    if old.creation_timestamp.is_some() {
        new.creation_timestamp.clone_from(&old.creation_timestamp);
    }
    if old.deletion_timestamp.is_some() {
        new.deletion_timestamp.clone_from(&old.deletion_timestamp);
    }
    if old.deletion_grace_period_seconds.is_some() && new.deletion_grace_period_seconds.is_none() {
        new.deletion_grace_period_seconds = old.deletion_grace_period_seconds;
    }
}

/// Validate what an update may not change in metadata, and the new metadata's own rules that
/// upstream re-checks on update (labels, annotations, owner references, finalizers).
pub fn validate_object_meta_update(new: &ObjectMeta, old: &ObjectMeta) -> ErrorList {
    let path = FieldPath::new("metadata");
    let mut errs = ErrorList::new();
    if old.deletion_timestamp.is_some() {
        errs.extend(validate_no_new_finalizers(
            new,
            old,
            &path.child("finalizers"),
        ));
    }
    let s = |o: &Option<String>| Value::from(o.clone().unwrap_or_default());
    immutable(
        &mut errs,
        &path.child("name"),
        new.name != old.name,
        s(&new.name),
    );
    immutable(
        &mut errs,
        &path.child("namespace"),
        new.namespace != old.namespace,
        s(&new.namespace),
    );
    immutable(
        &mut errs,
        &path.child("uid"),
        new.uid != old.uid,
        s(&new.uid),
    );
    let created = time_value(new.creation_timestamp.as_ref())
        .unwrap_or_else(|| Value::Raw("0001-01-01 00:00:00 +0000 UTC".into()));
    immutable(
        &mut errs,
        &path.child("creationTimestamp"),
        new.creation_timestamp != old.creation_timestamp,
        created,
    );
    let deleted =
        time_value(new.deletion_timestamp.as_ref()).unwrap_or_else(|| Value::Raw("null".into()));
    immutable(
        &mut errs,
        &path.child("deletionTimestamp"),
        new.deletion_timestamp != old.deletion_timestamp,
        deleted,
    );
    let grace = new
        .deletion_grace_period_seconds
        .map_or_else(|| Value::Raw("null".into()), Value::Int);
    let grace_changed = new.deletion_grace_period_seconds != old.deletion_grace_period_seconds;
    immutable(
        &mut errs,
        &path.child("deletionGracePeriodSeconds"),
        grace_changed,
        grace,
    );
    errs
}

fn immutable(errs: &mut ErrorList, path: &FieldPath, changed: bool, value: Value) {
    if changed {
        errs.push(FieldError::invalid(
            path.clone(),
            value,
            "field is immutable",
        ));
    }
}

/// A timestamp as Go's `time.Time.String()` prints it in UTC.
fn time_value(t: Option<&Time>) -> Option<Value> {
    t.map(|t| Value::Raw(t.0.strftime("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()))
}

fn validate_no_new_finalizers(new: &ObjectMeta, old: &ObjectMeta, path: &FieldPath) -> ErrorList {
    let old_set = old.finalizers.as_deref().unwrap_or(&[]);
    let mut extra: Vec<String> = new
        .finalizers
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .filter(|f| !old_set.contains(f))
        .cloned()
        .collect();
    extra.sort();
    extra.dedup();
    let mut errs = ErrorList::new();
    if !extra.is_empty() {
        errs.push(FieldError::forbidden(
            path.clone(),
            format!("no new finalizers can be added if the object is being deleted, found new finalizers {}", go_string_slice(&extra)),
        ));
    }
    errs
}

/// A structured `metav1.LabelSelector` as the label-matching machinery sees it (upstream's
/// `LabelSelectorAsSelector`); `None` when it cannot be converted (an unknown operator or invalid
/// values), which callers treat as matching nothing, as upstream does.
pub fn label_selector_of(
    sel: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
) -> Option<rkube_machinery::selector::LabelSelector> {
    let expressions: Vec<(String, String, Vec<String>)> = sel
        .match_expressions
        .iter()
        .flatten()
        .map(|r| {
            (
                r.key.clone(),
                r.operator.clone(),
                r.values.clone().unwrap_or_default(),
            )
        })
        .collect();
    let match_labels = sel.match_labels.clone().unwrap_or_default();
    rkube_machinery::selector::LabelSelector::from_match(&match_labels, &expressions).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str, ns: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: ns.map(Into::into),
            ..Default::default()
        }
    }

    #[test]
    fn invalid_name_matches_golden() {
        let errs =
            validate_object_meta(&meta("Bad_Name", Some("golden")), true, NameRule::Subdomain);
        assert_eq!(
            errs.aggregate_message(),
            "metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        );
    }

    #[test]
    fn names_namespaces_and_generate_name() {
        let mut m = meta("", Some("default"));
        assert_eq!(
            validate_object_meta(&m, true, NameRule::Subdomain).aggregate_message(),
            "metadata.name: Required value: name or generateName is required"
        );
        m.name = Some("web-abcde".into());
        m.generate_name = Some("web-".into());
        assert!(validate_object_meta(&m, true, NameRule::Subdomain).is_empty());
        m.generate_name = Some("Web-".into());
        assert_eq!(validate_object_meta(&m, true, NameRule::Subdomain).len(), 1);
        let cluster = meta("x", Some("default"));
        assert_eq!(
            validate_object_meta(&cluster, false, NameRule::Subdomain).aggregate_message(),
            "metadata.namespace: Forbidden: not allowed on this type"
        );
        assert_eq!(
            validate_object_meta(&meta("x", None), true, NameRule::Subdomain).aggregate_message(),
            "metadata.namespace: Required value"
        );
    }

    #[test]
    fn owner_references_and_finalizers() {
        let owner = |kind: &str, controller| OwnerReference {
            api_version: "apps/v1".into(),
            kind: kind.into(),
            name: "o".into(),
            uid: "u".into(),
            controller: Some(controller),
            ..Default::default()
        };
        let errs = validate_owner_references(
            &[owner("ReplicaSet", true), owner("Deployment", true)],
            &FieldPath::new("metadata").child("ownerReferences"),
        );
        assert_eq!(errs.len(), 1);
        assert!(errs.aggregate_message().ends_with(
            "Only one reference can have Controller set to true. Found \"true\" in references for ReplicaSet/o and Deployment/o"
        ));
        let empty = OwnerReference::default();
        let msg = validate_owner_references(
            &[empty],
            &FieldPath::new("metadata").child("ownerReferences"),
        )
        .aggregate_message();
        assert!(msg.starts_with(
            "[metadata.ownerReferences.apiVersion: Invalid value: \"\": version must not be empty"
        ));
        let errs = validate_finalizers(
            &["foo".into(), "example.com/x".into(), "kubernetes".into()],
            &FieldPath::new("metadata").child("finalizers"),
        );
        assert_eq!(
            errs.aggregate_message(),
            "metadata.finalizers[0]: Invalid value: \"foo\": name is neither a standard finalizer name nor is it fully qualified"
        );
    }

    #[test]
    fn update_immutability_and_resets() {
        let old = ObjectMeta {
            uid: Some("u1".into()),
            ..meta("a", Some("ns"))
        };
        let mut new = meta("b", Some("ns"));
        prepare_object_meta_update(&mut new, &old);
        assert_eq!(new.uid.as_deref(), Some("u1"));
        assert_eq!(
            validate_object_meta_update(&new, &old).aggregate_message(),
            "metadata.name: Invalid value: \"b\": field is immutable"
        );
        let deleting = ObjectMeta {
            deletion_timestamp: Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH)),
            ..old.clone()
        };
        let mut added = deleting.clone();
        added.finalizers = Some(vec!["example.com/f".into()]);
        assert_eq!(
            validate_object_meta_update(&added, &deleting).aggregate_message(),
            "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"example.com/f\"}"
        );
        let mut set = old.clone();
        set.deletion_timestamp = deleting.deletion_timestamp.clone();
        assert_eq!(
            validate_object_meta_update(&set, &old).aggregate_message(),
            "metadata.deletionTimestamp: Invalid value: 1970-01-01 00:00:00 +0000 UTC: field is immutable"
        );
    }
}
