//! What a pod update may change (upstream's `ValidatePodUpdate`): container images, a shorter
//! `activeDeadlineSeconds`, added tolerations, removed scheduling gates, and a negative grace
//! period set to 1. Anything else in the spec is refused with upstream's Forbidden message.

use super::tolerations::validate_tolerations;
use k8s_openapi::api::core::v1::{Container, PodSpec, Toleration};
use rkube_machinery::{ErrorList, FieldError, FieldPath};
use serde_json::Value;

/// The fields upstream lists as updatable, joined as in its message.
const UPDATABLE: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// Validate an update of a pod's spec from `old` to `new`.
pub fn validate_spec_update(new: &PodSpec, old: &PodSpec) -> ErrorList {
    let path = FieldPath::new("spec");
    let mut errs = ErrorList::new();
    for (field, n, o) in [
        ("containers", &new.containers, &old.containers),
        (
            "initContainers",
            new.init_containers.as_ref().unwrap_or(&Vec::new()),
            old.init_containers.as_ref().unwrap_or(&Vec::new()),
        ),
    ] {
        let (e, stop) = container_updates(n, o, &path.child(field));
        errs.extend(e);
        if stop {
            return errs;
        }
    }
    match active_deadline_update(
        new.active_deadline_seconds,
        old.active_deadline_seconds,
        &path,
    ) {
        Err(e) => {
            errs.push(e);
            return errs;
        }
        Ok(Some(e)) => errs.push(e),
        Ok(None) => {}
    }
    errs.extend(only_added_tolerations(
        new.tolerations.as_deref().unwrap_or(&[]),
        old.tolerations.as_deref().unwrap_or(&[]),
        &path.child("tolerations"),
    ));
    errs.extend(only_removed_gates(new, old, &path.child("schedulingGates")));
    let munged = munge(new, old);
    let (a, b) = (to_json(old), to_json(&munged));
    if a != b {
        errs.push(FieldError::forbidden(
            path,
            format!(
                "pod updates may not change fields other than {UPDATABLE}\n{}",
                diff(&a, &b)
            ),
        ));
    }
    errs
}

fn container_updates(new: &[Container], old: &[Container], path: &FieldPath) -> (ErrorList, bool) {
    let mut errs = ErrorList::new();
    if new.len() != old.len() {
        errs.push(FieldError::forbidden(
            path.clone(),
            "pod updates may not add or remove containers",
        ));
        return (errs, true);
    }
    for (i, c) in new.iter().enumerate() {
        let image = c.image.as_deref().unwrap_or("");
        if image.is_empty() {
            errs.push(FieldError::required(path.index(i).child("image"), ""));
        }
        if image.trim() != image {
            errs.push(FieldError::invalid(
                path.index(i).child("image"),
                image,
                "must not have leading or trailing whitespace",
            ));
        }
    }
    (errs, false)
}

/// `Err` stops validation as upstream does; `Ok(Some)` is an error that does not.
fn active_deadline_update(
    new: Option<i64>,
    old: Option<i64>,
    path: &FieldPath,
) -> Result<Option<FieldError>, FieldError> {
    let p = path.child("activeDeadlineSeconds");
    match (new, old) {
        (Some(n), _) if n < 0 || n > i64::from(i32::MAX) => Err(FieldError::invalid(
            p,
            n,
            rkube_machinery::validation::inclusive_range_error(0, i64::from(i32::MAX)),
        )),
        (Some(n), Some(o)) if o < n => Err(FieldError::invalid(
            p,
            n,
            "must be less than or equal to previous value",
        )),
        (None, Some(_)) => Ok(Some(FieldError::invalid(
            p,
            rkube_machinery::Value::Raw("null".into()),
            "must not update from a positive integer to nil value",
        ))),
        _ => Ok(None),
    }
}

fn only_added_tolerations(new: &[Toleration], old: &[Toleration], path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    for o in old {
        let found = new.iter().any(|n| {
            Toleration {
                toleration_seconds: n.toleration_seconds,
                ..o.clone()
            } == *n
        });
        if !found {
            errs.push(FieldError::forbidden(
                path.clone(),
                "existing toleration can not be modified except its tolerationSeconds",
            ));
            return errs;
        }
    }
    errs.extend(validate_tolerations(new, path));
    errs
}

fn only_removed_gates(new: &PodSpec, old: &PodSpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let old_names: Vec<&str> = old
        .scheduling_gates
        .iter()
        .flatten()
        .map(|g| g.name.as_str())
        .collect();
    for (i, g) in new.scheduling_gates.iter().flatten().enumerate() {
        if !old_names.contains(&g.name.as_str()) {
            errs.push(FieldError::forbidden(
                path.index(i).child("name"),
                format!(
                    "only deletion is allowed, but found new scheduling gate '{}'",
                    g.name
                ),
            ));
        }
    }
    errs
}

/// The new spec with every updatable field put back to its old value.
fn munge(new: &PodSpec, old: &PodSpec) -> PodSpec {
    let mut m = new.clone();
    for (c, o) in m.containers.iter_mut().zip(&old.containers) {
        c.image.clone_from(&o.image);
    }
    if let (Some(n), Some(o)) = (m.init_containers.as_mut(), old.init_containers.as_ref()) {
        for (c, o) in n.iter_mut().zip(o) {
            c.image.clone_from(&o.image);
        }
    }
    m.active_deadline_seconds = old.active_deadline_seconds;
    m.scheduling_gates.clone_from(&old.scheduling_gates);
    m.tolerations.clone_from(&old.tolerations);
    let was_negative = old.termination_grace_period_seconds.is_some_and(|g| g < 0);
    if was_negative && m.termination_grace_period_seconds == Some(1) {
        m.termination_grace_period_seconds = old.termination_grace_period_seconds;
    }
    m
}

fn to_json(spec: &PodSpec) -> Value {
    serde_json::to_value(spec).unwrap_or(Value::Null)
}

/// A readable diff of two specs in the spirit of upstream's `cmp.Diff` output: changed
/// fields, old with `-` and new with `+`.
fn diff(old: &Value, new: &Value) -> String {
    let mut lines = vec!["  core.PodSpec{".to_string()];
    diff_values(old, new, "", &mut lines);
    lines.push("  }".to_string());
    lines.join("\n")
}

fn diff_values(old: &Value, new: &Value, path: &str, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                diff_values(
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                    &p,
                    out,
                );
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff_values(x, y, &format!("{path}[{i}]"), out);
            }
        }
        (a, b) if a != b => {
            out.push(format!("- \t{path}: {a},"));
            out.push(format!("+ \t{path}: {b},"));
        }
        _ => {}
    }
}
