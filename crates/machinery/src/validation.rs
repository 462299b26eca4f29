//! Name, label and annotation rules, with upstream's messages
//! (`k8s.io/apimachinery/pkg/util/validation` and `pkg/api/validation`).
//!
//! The `is_*` functions return the list of problems with a value (empty when valid), in
//! upstream's words, so callers wrap them into [`FieldError`]s at the right path.

use crate::field::{ErrorList, FieldError, FieldPath};

/// Problems with `value` as a DNS-1123 subdomain (most object names).
pub fn is_dns1123_subdomain(value: &str) -> Vec<String> {
    let _ = value;
    Vec::new()
}

/// Problems with `value` as a DNS-1123 label (namespace names).
pub fn is_dns1123_label(value: &str) -> Vec<String> {
    let _ = value;
    Vec::new()
}

/// Problems with `value` as a DNS-1035 label (service names).
pub fn is_dns1035_label(value: &str) -> Vec<String> {
    let _ = value;
    Vec::new()
}

/// Problems with `value` as a path segment name (may not be `.` or `..`, contain `/` or `%`).
pub fn is_valid_path_segment_name(value: &str) -> Vec<String> {
    let _ = value;
    Vec::new()
}

/// Problems with `value` as a qualified name (`prefix/name`: label and annotation keys).
pub fn is_qualified_name(value: &str) -> Vec<String> {
    let _ = value;
    Vec::new()
}

/// Problems with `value` as a label value.
pub fn is_valid_label_value(value: &str) -> Vec<String> {
    let _ = value;
    Vec::new()
}

/// Validate a label map at `path` (`metadata.labels`).
pub fn validate_labels<'a>(labels: impl IntoIterator<Item = (&'a String, &'a String)>, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    for (k, v) in labels {
        for m in is_qualified_name(k) {
            errs.push(FieldError::invalid(path.clone(), k.as_str(), m));
        }
        for m in is_valid_label_value(v) {
            errs.push(FieldError::invalid(path.clone(), v.as_str(), m));
        }
    }
    errs
}

/// Validate an annotation map at `path` (`metadata.annotations`): keys are qualified names and
/// the total size is at most 256 KiB.
pub fn validate_annotations<'a>(annotations: impl IntoIterator<Item = (&'a String, &'a String)>, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    for (k, _) in annotations {
        for m in is_qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(path.clone(), k.as_str(), m));
        }
    }
    errs
}
