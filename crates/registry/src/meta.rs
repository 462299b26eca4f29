//! The generic rules of `metadata` every resource follows (upstream's `ValidateObjectMeta` and
//! `ValidateObjectMetaUpdate`).

use crate::strategy::NameRule;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath};

/// Problems with a name under `rule`.
pub fn name_problems(name: &str, rule: NameRule) -> Vec<String> {
    match rule {
        NameRule::Subdomain => v::is_dns1123_subdomain(name),
        NameRule::Label => v::is_dns1123_label(name),
        NameRule::Dns1035Label => v::is_dns1035_label(name),
        NameRule::PathSegment => v::is_valid_path_segment_name(name),
    }
}

/// Validate the metadata of an object about to be stored.
pub fn validate_object_meta(meta: &ObjectMeta, namespaced: bool, rule: NameRule) -> ErrorList {
    let path = FieldPath::new("metadata");
    let mut errs = ErrorList::new();
    match meta.name.as_deref() {
        None | Some("") => {
            if meta.generate_name.as_deref().unwrap_or("").is_empty() {
                errs.push(FieldError::required(path.child("name"), "name or generateName is required"));
            }
        }
        Some(name) => {
            for m in name_problems(name, rule) {
                errs.push(FieldError::invalid(path.child("name"), name, m));
            }
        }
    }
    if namespaced {
        match meta.namespace.as_deref() {
            None | Some("") => errs.push(FieldError::required(path.child("namespace"), "")),
            Some(ns) => {
                for m in v::is_dns1123_label(ns) {
                    errs.push(FieldError::invalid(path.child("namespace"), ns, m));
                }
            }
        }
    } else if meta.namespace.as_deref().is_some_and(|ns| !ns.is_empty()) {
        errs.push(FieldError::forbidden(path.child("namespace"), "not allowed on this type"));
    }
    if let Some(labels) = &meta.labels {
        errs.extend(v::validate_labels(labels, &path.child("labels")));
    }
    if let Some(annotations) = &meta.annotations {
        errs.extend(v::validate_annotations(annotations, &path.child("annotations")));
    }
    errs
}

/// Validate what an update may not change in metadata.
pub fn validate_object_meta_update(new: &ObjectMeta, old: &ObjectMeta) -> ErrorList {
    let path = FieldPath::new("metadata");
    let mut errs = ErrorList::new();
    let immutable = |errs: &mut ErrorList, field: &str, a: Option<&String>, b: Option<&String>| {
        if a != b {
            errs.push(FieldError::invalid(
                path.child(field),
                a.cloned().unwrap_or_default(),
                "field is immutable",
            ));
        }
    };
    immutable(&mut errs, "name", new.name.as_ref(), old.name.as_ref());
    immutable(&mut errs, "namespace", new.namespace.as_ref(), old.namespace.as_ref());
    immutable(&mut errs, "uid", new.uid.as_ref(), old.uid.as_ref());
    errs
}
