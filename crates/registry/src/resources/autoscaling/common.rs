//! Rules both served versions of HorizontalPodAutoscaler share
//! (`pkg/apis/autoscaling/validation`): replica bounds and the scale target reference.

use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath};

/// `minReplicas` of at least 1 (0 needs the alpha `HPAScaleToZero` gate), a positive
/// `maxReplicas` no smaller than `minReplicas`.
pub fn validate_replica_bounds(min: Option<i32>, max: i32, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Some(min) = min.filter(|m| *m < 1) {
        errs.push(FieldError::invalid(
            path.child("minReplicas"),
            min,
            "must be greater than or equal to 1",
        ));
    }
    if max < 1 {
        errs.push(FieldError::invalid(
            path.child("maxReplicas"),
            max,
            "must be greater than 0",
        ));
    }
    if min.is_some_and(|m| max < m) {
        errs.push(FieldError::invalid(
            path.child("maxReplicas"),
            max,
            "must be greater than or equal to `minReplicas`",
        ));
    }
    errs
}

/// `ValidateCrossVersionObjectReference`: a kind and a name, both path segments.
pub fn validate_target_ref(kind: &str, name: &str, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    for (field, value) in [("kind", kind), ("name", name)] {
        if value.is_empty() {
            errs.push(FieldError::required(path.child(field), ""));
        }
        for m in v::is_valid_path_segment_name(value)
            .into_iter()
            .filter(|_| !value.is_empty())
        {
            errs.push(FieldError::invalid(path.child(field), value, m));
        }
    }
    errs
}
