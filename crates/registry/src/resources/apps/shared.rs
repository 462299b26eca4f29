//! Validation pieces shared by the workload resources (apps, batch, policy, networking, ...).
//!
//! Upstream spreads these over `apimachinery/pkg/apis/meta/v1/validation`
//! (`ValidateLabelSelector`), `pkg/apis/core/validation` (`ValidateNonnegativeField`,
//! `ValidateImmutableField`) and `pkg/apis/apps/validation` (int-or-percent rules, the
//! ReplicaSet pod template rules). Several groups need the same rules with the same messages,
//! so they live here once. The `go_*` functions render values the way Go's `%#v` prints them in
//! upstream's error messages (`map[string]string{"a":"b"}`, or a type's `String()`),
//! since kubectl users and scripts match on those texts.

use crate::resources::core::pod::validate_pod_template_spec;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath, Value};
use std::collections::BTreeMap;

/// Upstream's message for a negative count (`IsNegativeErrorMsg`).
pub(crate) const NEGATIVE_MSG: &str = "must be greater than or equal to 0";

/// Upstream's message for a changed immutable field (`FieldImmutableErrorMsg`).
pub(crate) const IMMUTABLE_MSG: &str = "field is immutable";

/// `ValidateNonnegativeField`: counts, seconds and limits may not be negative.
pub(crate) fn nonnegative(errs: &mut ErrorList, path: FieldPath, value: i64) {
    if value < 0 {
        errs.push(FieldError::invalid(path, value, NEGATIVE_MSG));
    }
}

/// [`nonnegative`] for an optional field: unset values are not checked.
pub(crate) fn nonnegative_opt(
    errs: &mut ErrorList,
    path: FieldPath,
    value: Option<impl Into<i64>>,
) {
    if let Some(value) = value {
        nonnegative(errs, path, value.into());
    }
}

/// Go's `%q` rendering of an optional string as an `Invalid value` (nil prints `""`).
pub(crate) fn str_value(s: Option<&String>) -> Value {
    Value::Str(s.cloned().unwrap_or_default())
}

/// Go's `%#v` of a `map[string]string`, which prints `map[string]string(nil)` for a nil map.
pub(crate) fn go_string_map(map: Option<&BTreeMap<String, String>>) -> Value {
    match map {
        Some(m) => Value::string_map(m),
        None => Value::Raw("map[string]string(nil)".to_string()),
    }
}

/// Go's `%v` of a `[]string` (`[a b]`), as protobuf-generated `String()` methods print lists.
fn go_plain_slice(values: Option<&Vec<String>>) -> String {
    format!("[{}]", values.map(|v| v.join(" ")).unwrap_or_default())
}

/// The protobuf-generated `String()` of one `LabelSelectorRequirement`, as it appears inside
/// a selector (without the leading `&`).
fn go_requirement(r: &LabelSelectorRequirement) -> String {
    format!(
        "LabelSelectorRequirement{{Key:{},Operator:{},Values:{},}}",
        r.key,
        r.operator,
        go_plain_slice(r.values.as_ref())
    )
}

/// A `metav1.LabelSelector` as upstream prints it in `Invalid value` errors. Upstream passes
/// a `*LabelSelector`, whose protobuf-generated `String()` the error formatter uses:
/// `&LabelSelector{MatchLabels:map[string]string{a: b,},MatchExpressions:[]LabelSelectorRequirement{},}`.
pub(crate) fn go_label_selector(sel: &LabelSelector) -> Value {
    let labels: String = sel
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}: {v},"))
        .collect();
    let exprs: String = sel
        .match_expressions
        .iter()
        .flatten()
        .map(|r| format!("{},", go_requirement(r)))
        .collect();
    Value::Raw(format!(
        "&LabelSelector{{MatchLabels:map[string]string{{{labels}}},MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"
    ))
}

/// An `intstr.IntOrString` as upstream prints it in `Invalid value` errors: through its
/// `String()` method, so `25%` or `1`, unquoted.
pub(crate) fn go_int_or_string(v: &IntOrString) -> Value {
    match v {
        IntOrString::Int(i) => Value::Int(i64::from(*i)),
        IntOrString::String(s) => Value::Raw(s.clone()),
    }
}

/// Whether a selector has neither labels nor expressions (and so selects everything).
pub(crate) fn selector_is_empty(sel: &LabelSelector) -> bool {
    sel.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
        && sel.match_expressions.as_ref().is_none_or(Vec::is_empty)
}

/// Whether a selector was left out of the request. The typed structs default a missing
/// required selector to the empty one, so "no labels and no expressions, not even an empty
/// map" stands for upstream's nil selector.
pub(crate) fn selector_is_unset(sel: &LabelSelector) -> bool {
    sel.match_labels.is_none() && sel.match_expressions.is_none()
}

/// Whether `sel` can be turned into a label selector at all.
pub(crate) fn selector_is_convertible(sel: &LabelSelector) -> bool {
    crate::meta::label_selector_of(sel).is_some()
}

/// Whether a structured selector selects an object with `labels` (`matchLabels` and every
/// `matchExpressions` entry must hold; the empty selector selects everything).
pub(crate) fn selector_matches(
    sel: &LabelSelector,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    let empty = BTreeMap::new();
    crate::meta::label_selector_of(sel).is_some_and(|s| s.matches(labels.unwrap_or(&empty)))
}

/// The error for a changed `spec.selector`, which workloads may never change.
pub(crate) fn selector_unchanged(new: &LabelSelector, old: &LabelSelector) -> ErrorList {
    let mut errs = ErrorList::new();
    if new != old {
        errs.push(FieldError::invalid(
            FieldPath::new("spec").child("selector"),
            go_label_selector(new),
            IMMUTABLE_MSG,
        ));
    }
    errs
}

/// Validate one `matchExpressions` entry (`ValidateLabelSelectorRequirement`).
fn validate_requirement(r: &LabelSelectorRequirement, path: &FieldPath, errs: &mut ErrorList) {
    let values = r.values.as_deref().unwrap_or_default();
    match r.operator.as_str() {
        "In" | "NotIn" if values.is_empty() => {
            errs.push(FieldError::required(
                path.child("values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            ));
        }
        "Exists" | "DoesNotExist" if !values.is_empty() => {
            errs.push(FieldError::forbidden(
                path.child("values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            ));
        }
        "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
        other => errs.push(FieldError::invalid(
            path.child("operator"),
            other,
            "not a valid selector operator",
        )),
    }
    for m in v::is_qualified_name(&r.key) {
        errs.push(FieldError::invalid(path.child("key"), r.key.as_str(), m));
    }
    for (i, value) in values.iter().enumerate() {
        for m in v::is_valid_label_value(value) {
            errs.push(FieldError::invalid(
                path.child("values").index(i),
                value.as_str(),
                m,
            ));
        }
    }
}

/// `ValidateLabelSelector`: label keys and values of `matchLabels`, and each expression.
pub(crate) fn validate_label_selector(sel: &LabelSelector, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Some(labels) = &sel.match_labels {
        errs.extend(v::validate_labels(labels, &path.child("matchLabels")));
    }
    for (i, r) in sel.match_expressions.iter().flatten().enumerate() {
        validate_requirement(r, &path.child("matchExpressions").index(i), &mut errs);
    }
    errs
}

/// The selector rules of the replica-managing workloads: required, valid, not empty.
/// `kind` names the resource in the "empty selector" message (upstream says "deployment"
/// for ReplicaSets too, and "statefulset" for StatefulSets).
pub(crate) fn validate_workload_selector(
    sel: &LabelSelector,
    path: &FieldPath,
    kind: &str,
) -> ErrorList {
    let mut errs = ErrorList::new();
    if selector_is_unset(sel) {
        errs.push(FieldError::required(path.clone(), ""));
        return errs;
    }
    errs.extend(validate_label_selector(sel, path));
    if selector_is_empty(sel) {
        errs.push(FieldError::invalid(
            path.clone(),
            go_label_selector(sel),
            format!("empty selector is invalid for {kind}"),
        ));
    }
    errs
}

/// The "`selector` does not match template `labels`" check every controller makes: a
/// controller whose pods would not match its own selector would create pods forever.
pub(crate) fn validate_selector_matches_template(
    sel: &LabelSelector,
    template: &PodTemplateSpec,
    path: &FieldPath,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let labels = template.metadata.as_ref().and_then(|m| m.labels.as_ref());
    if !selector_is_empty(sel) && !selector_matches(sel, labels) {
        errs.push(FieldError::invalid(
            path.child("metadata").child("labels"),
            go_string_map(labels),
            "`selector` does not match template `labels`",
        ));
    }
    errs
}

/// `ValidatePodTemplateSpecForReplicaSet` (Deployments, ReplicaSets, DaemonSets): the selector
/// must match, the template must be a valid pod template, restart policy must be `Always` and
/// `activeDeadlineSeconds` is forbidden (`owner` names the resource in that message).
pub(crate) fn validate_replica_set_template(
    sel: &LabelSelector,
    template: &PodTemplateSpec,
    path: &FieldPath,
    owner: &str,
) -> ErrorList {
    let mut errs = ErrorList::new();
    if selector_is_convertible(sel) {
        errs.extend(validate_selector_matches_template(sel, template, path));
    }
    errs.extend(validate_pod_template_spec(template, path));
    let spec = template.spec.as_ref();
    let spec_path = path.child("spec");
    if let Some(policy) = spec
        .and_then(|s| s.restart_policy.as_deref())
        .filter(|p| *p != "Always")
    {
        errs.push(FieldError::not_supported(
            spec_path.child("restartPolicy"),
            policy,
            &["Always"],
        ));
    }
    if spec.is_some_and(|s| s.active_deadline_seconds.is_some()) {
        errs.push(FieldError::forbidden(
            spec_path.child("activeDeadlineSeconds"),
            format!("activeDeadlineSeconds in {owner} is not Supported"),
        ));
    }
    errs
}

/// `IsValidPercent`'s message.
const PERCENT_MSG: &str = "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')";

/// The number of a well-formed percent string (`25%` is 25), or `None`.
pub(crate) fn percent_value(s: &str) -> Option<i64> {
    let digits = s.strip_suffix('%')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The number an int-or-percent stands for, as upstream's `getIntOrPercentValue` reads it
/// (a malformed string counts as 0).
pub(crate) fn int_or_percent_value(v: &IntOrString) -> i64 {
    match v {
        IntOrString::Int(i) => i64::from(*i),
        IntOrString::String(s) => percent_value(s).unwrap_or(0),
    }
}

/// `ValidatePositiveIntOrPercent`: a non-negative integer or a `N%` string.
pub(crate) fn validate_positive_int_or_percent(v: &IntOrString, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    match v {
        IntOrString::String(s) if percent_value(s).is_none() => {
            errs.push(FieldError::invalid(
                path.clone(),
                go_int_or_string(v),
                PERCENT_MSG,
            ));
        }
        IntOrString::String(_) => {}
        IntOrString::Int(i) => nonnegative(&mut errs, path.clone(), i64::from(*i)),
    }
    errs
}

/// `IsNotMoreThan100Percent`: percentages above 100% make no sense for availability.
pub(crate) fn validate_not_more_than_100_percent(v: &IntOrString, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if let IntOrString::String(s) = v
        && percent_value(s).is_some_and(|p| p > 100)
    {
        errs.push(FieldError::invalid(
            path.clone(),
            go_int_or_string(v),
            "must not be greater than 100%",
        ));
    }
    errs
}

/// A JSON merge patch (RFC 7386), so tests can write cases as small changes of a valid object.
#[cfg(test)]
pub(crate) fn merge(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match (target, patch) {
        (serde_json::Value::Object(t), serde_json::Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(serde_json::Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(labels: &[(&str, &str)]) -> LabelSelector {
        LabelSelector {
            match_labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            match_expressions: None,
        }
    }

    #[test]
    fn selector_renders_like_go() {
        assert_eq!(
            go_label_selector(&sel(&[("app", "x"), ("b", "c")])).to_string(),
            "&LabelSelector{MatchLabels:map[string]string{app: x,b: c,},MatchExpressions:[]LabelSelectorRequirement{},}"
        );
        let with_expr = LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "k".into(),
                operator: "In".into(),
                values: Some(vec!["a".into(), "b".into()]),
            }]),
        };
        assert_eq!(
            go_label_selector(&with_expr).to_string(),
            "&LabelSelector{MatchLabels:map[string]string{},MatchExpressions:[]LabelSelectorRequirement{LabelSelectorRequirement{Key:k,Operator:In,Values:[a b],},},}"
        );
    }

    #[test]
    fn int_or_string_renders_like_go() {
        assert_eq!(go_int_or_string(&IntOrString::Int(0)).to_string(), "0");
        assert_eq!(
            go_int_or_string(&IntOrString::String("5".into())).to_string(),
            "5"
        );
    }

    #[test]
    fn selectors_match_labels_and_expressions() {
        let labels: BTreeMap<String, String> = [("a".to_string(), "b".to_string())].into();
        assert!(selector_matches(&sel(&[("a", "b")]), Some(&labels)));
        assert!(!selector_matches(&sel(&[("a", "c")]), Some(&labels)));
        assert!(!selector_matches(&sel(&[("a", "b")]), None));
        let not_in = LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "NotIn".into(),
                values: Some(vec!["b".into()]),
            }]),
        };
        assert!(!selector_matches(&not_in, Some(&labels)));
        assert!(selector_matches(&not_in, None));
    }

    #[test]
    fn bad_operators_and_values_are_reported() {
        let s = LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![
                LabelSelectorRequirement {
                    key: "a".into(),
                    operator: "Is".into(),
                    values: None,
                },
                LabelSelectorRequirement {
                    key: "b".into(),
                    operator: "In".into(),
                    values: None,
                },
                LabelSelectorRequirement {
                    key: "c".into(),
                    operator: "Exists".into(),
                    values: Some(vec!["x".into()]),
                },
            ]),
        };
        let msgs: Vec<String> =
            validate_label_selector(&s, &FieldPath::new("spec").child("selector"))
                .iter()
                .map(|e| e.to_string())
                .collect();
        assert_eq!(
            msgs,
            vec![
                r#"spec.selector.matchExpressions[0].operator: Invalid value: "Is": not a valid selector operator"#,
                "spec.selector.matchExpressions[1].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                "spec.selector.matchExpressions[2].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            ]
        );
    }

    #[test]
    fn percents() {
        assert_eq!(percent_value("25%"), Some(25));
        assert_eq!(percent_value("25"), None);
        assert_eq!(percent_value("%"), None);
        let p = FieldPath::new("x");
        assert_eq!(
            validate_positive_int_or_percent(&IntOrString::String("abc".into()), &p)
                .aggregate_message(),
            "x: Invalid value: abc: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"
        );
        assert_eq!(
            validate_positive_int_or_percent(&IntOrString::Int(-1), &p).aggregate_message(),
            "x: Invalid value: -1: must be greater than or equal to 0"
        );
        assert!(
            validate_not_more_than_100_percent(&IntOrString::String("101%".into()), &p).len() == 1
        );
    }
}
