//! The validation every RBAC object shares (`pkg/apis/rbac/validation`): policy rules,
//! binding subjects and role references, with upstream's messages.

use crate::resources::apps::shared::validate_label_selector;
use k8s_openapi::api::rbac::v1::{AggregationRule, PolicyRule, RoleRef, Subject};
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath, Value};

/// The API group roles live in, which role references and user/group subjects name.
pub const GROUP: &str = "rbac.authorization.k8s.io";

/// `ValidatePolicyRule`: every rule needs verbs; resource rules need groups and resources;
/// URL rules exist only in cluster roles and may not also name resources.
pub fn validate_policy_rule(rule: &PolicyRule, namespaced: bool, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if rule.verbs.is_empty() {
        errs.push(FieldError::required(
            path.child("verbs"),
            "verbs must contain at least one value",
        ));
    }
    let len = |list: &Option<Vec<String>>| list.as_ref().map_or(0, Vec::len);
    if len(&rule.non_resource_urls) > 0 {
        let urls = go_strings(rule.non_resource_urls.as_deref().unwrap_or_default());
        if namespaced {
            errs.push(FieldError::invalid(
                path.child("nonResourceURLs"),
                urls.clone(),
                "namespaced rules cannot apply to non-resource URLs",
            ));
        }
        if len(&rule.api_groups) + len(&rule.resources) + len(&rule.resource_names) > 0 {
            errs.push(FieldError::invalid(
                path.child("nonResourceURLs"),
                urls,
                "rules cannot apply to both regular resources and non-resource URLs",
            ));
        }
        return errs;
    }
    if len(&rule.api_groups) == 0 {
        errs.push(FieldError::required(
            path.child("apiGroups"),
            "resource rules must supply at least one api group",
        ));
    }
    if len(&rule.resources) == 0 {
        errs.push(FieldError::required(
            path.child("resources"),
            "resource rules must supply at least one resource",
        ));
    }
    errs
}

/// Go's `%#v` of a `[]string`.
fn go_strings(values: &[String]) -> Value {
    let quoted: Vec<String> = values.iter().map(|s| Value::quote(s)).collect();
    Value::Raw(format!("[]string{{{}}}", quoted.join(", ")))
}

/// The rules of a role: each rule valid at `rules[i]`.
pub fn validate_rules(rules: Option<&Vec<PolicyRule>>, namespaced: bool) -> ErrorList {
    let mut errs = ErrorList::new();
    for (i, rule) in rules.into_iter().flatten().enumerate() {
        errs.extend(validate_policy_rule(
            rule,
            namespaced,
            &FieldPath::new("rules").index(i),
        ));
    }
    errs
}

/// A cluster role's aggregation rule: at least one valid selector.
pub fn validate_aggregation_rule(rule: Option<&AggregationRule>) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(rule) = rule else { return errs };
    let path = FieldPath::new("aggregationRule").child("clusterRoleSelectors");
    let selectors = rule.cluster_role_selectors.as_deref().unwrap_or_default();
    if selectors.is_empty() {
        errs.push(FieldError::required(
            path.clone(),
            "at least one clusterRoleSelector required if aggregationRule is non-nil",
        ));
    }
    for (i, selector) in selectors.iter().enumerate() {
        errs.extend(validate_label_selector(selector, &path.index(i)));
    }
    errs
}

/// A binding's role reference: this API group, one of `kinds`, and a valid name.
pub fn validate_role_ref(role_ref: &RoleRef, kinds: &[&str]) -> ErrorList {
    let mut errs = ErrorList::new();
    let path = FieldPath::new("roleRef");
    if role_ref.api_group != GROUP {
        errs.push(FieldError::not_supported(
            path.child("apiGroup"),
            role_ref.api_group.as_str(),
            &[GROUP],
        ));
    }
    if !kinds.contains(&role_ref.kind.as_str()) {
        errs.push(FieldError::not_supported(
            path.child("kind"),
            role_ref.kind.as_str(),
            kinds,
        ));
    }
    if role_ref.name.is_empty() {
        errs.push(FieldError::required(path.child("name"), ""));
    } else {
        for m in v::is_valid_path_segment_name(&role_ref.name) {
            errs.push(FieldError::invalid(
                path.child("name"),
                role_ref.name.as_str(),
                m,
            ));
        }
    }
    errs
}

/// A binding may not point at another role once created: `Invalid value: rbac.RoleRef{...}:
/// cannot change roleRef`.
pub fn validate_role_ref_update(new: &RoleRef, old: &RoleRef) -> ErrorList {
    let mut errs = ErrorList::new();
    if new != old {
        let shown = format!(
            "rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}",
            Value::quote(&new.api_group),
            Value::quote(&new.kind),
            Value::quote(&new.name)
        );
        errs.push(FieldError::invalid(
            FieldPath::new("roleRef"),
            Value::Raw(shown),
            "cannot change roleRef",
        ));
    }
    errs
}

/// `SetDefaults_Subject` and the role reference default: user and group subjects, and role
/// references, belong to the RBAC group unless told otherwise.
pub fn default_binding(role_ref: &mut RoleRef, subjects: Option<&mut Vec<Subject>>) {
    if role_ref.api_group.is_empty() {
        role_ref.api_group = GROUP.into();
    }
    for subject in subjects.into_iter().flatten() {
        let empty = subject.api_group.as_deref().unwrap_or("").is_empty();
        if empty && (subject.kind == "User" || subject.kind == "Group") {
            subject.api_group = Some(GROUP.into());
        }
    }
}

/// Each subject at `subjects[i]` (`ValidateRoleBindingSubject`); cluster-wide bindings must
/// say which namespace a service account is in.
pub fn validate_subjects(subjects: Option<&Vec<Subject>>, namespaced: bool) -> ErrorList {
    let mut errs = ErrorList::new();
    for (i, subject) in subjects.into_iter().flatten().enumerate() {
        errs.extend(validate_subject(
            subject,
            namespaced,
            &FieldPath::new("subjects").index(i),
        ));
    }
    errs
}

/// One subject: a named User, Group or ServiceAccount, in the right API group.
fn validate_subject(subject: &Subject, namespaced: bool, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if subject.name.is_empty() {
        errs.push(FieldError::required(path.child("name"), ""));
    }
    let api_group = subject.api_group.as_deref().unwrap_or("");
    match subject.kind.as_str() {
        "ServiceAccount" => {
            if !subject.name.is_empty() {
                for m in v::is_dns1123_subdomain(&subject.name) {
                    errs.push(FieldError::invalid(
                        path.child("name"),
                        subject.name.as_str(),
                        m,
                    ));
                }
            }
            if !api_group.is_empty() {
                errs.push(FieldError::not_supported(
                    path.child("apiGroup"),
                    api_group,
                    &[""],
                ));
            }
            if !namespaced && subject.namespace.as_deref().unwrap_or("").is_empty() {
                errs.push(FieldError::required(path.child("namespace"), ""));
            }
        }
        "User" | "Group" if api_group != GROUP => {
            errs.push(FieldError::not_supported(
                path.child("apiGroup"),
                api_group,
                &[GROUP],
            ));
        }
        "User" | "Group" => {}
        other => errs.push(FieldError::not_supported(
            path.child("kind"),
            other,
            &["ServiceAccount", "User", "Group"],
        )),
    }
    errs
}
