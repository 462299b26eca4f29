//! Validation of tolerations (upstream's `ValidateTolerations`).

use k8s_openapi::api::core::v1::Toleration;
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath};

/// Taint effects a toleration may name.
pub const TAINT_EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// Validate tolerations at `path`.
pub fn validate_tolerations(tolerations: &[Toleration], path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    for (i, t) in tolerations.iter().enumerate() {
        errs.extend(validate_toleration(t, &path.index(i)));
    }
    errs
}

fn validate_toleration(t: &Toleration, p: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let key = t.key.as_deref().unwrap_or("");
    let operator = t.operator.as_deref().unwrap_or("");
    let value = t.value.as_deref().unwrap_or("");
    let effect = t.effect.as_deref().unwrap_or("");
    if !key.is_empty() {
        errs.extend(v::validate_qualified_name(key, &p.child("key")));
    }
    if key.is_empty() && operator != "Exists" {
        errs.push(FieldError::invalid(
            p.child("operator"),
            operator,
            "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
        ));
    }
    if t.toleration_seconds.is_some() && effect != "NoExecute" {
        errs.push(FieldError::invalid(
            p.child("effect"),
            effect,
            "effect must be 'NoExecute' when `tolerationSeconds` is set",
        ));
    }
    match operator {
        "Equal" | "" => {
            let msgs = v::is_valid_label_value(value);
            if !msgs.is_empty() {
                errs.push(FieldError::invalid(
                    p.child("operator"),
                    value,
                    msgs.join(";"),
                ));
            }
        }
        "Exists" if !value.is_empty() => errs.push(FieldError::invalid(
            p.child("operator"),
            value,
            "value must be empty when `operator` is 'Exists'",
        )),
        "Exists" => {}
        other => errs.push(FieldError::not_supported(
            p.child("operator"),
            other,
            &["Equal", "Exists"],
        )),
    }
    if !effect.is_empty() && !TAINT_EFFECTS.contains(&effect) {
        errs.push(FieldError::not_supported(
            p.child("effect"),
            effect,
            &TAINT_EFFECTS,
        ));
    }
    errs
}
