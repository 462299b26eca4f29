//! Job (batch/v1): the rules of `jobs`.
//!
//! Upstream: `SetDefaults_Job` (`pkg/apis/batch/v1/defaults.go`), `ValidateJob` and
//! `ValidateJobUpdate` (`pkg/apis/batch/validation`) and `pkg/registry/batch/job/strategy.go`,
//! which generates the selector and pod labels from the Job's uid so that a Job only ever
//! adopts its own pods.

use crate::resources::apps::shared::{
    IMMUTABLE_MSG, go_label_selector, go_string_map, nonnegative_opt, selector_is_convertible,
    selector_matches, str_value, validate_label_selector,
};
use crate::resources::core::pod::{default_pod_template_spec, validate_pod_template_spec};
use crate::strategy::{Generation, TypedStrategy};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use rkube_machinery::{ErrorList, FieldError, FieldPath, Value};
use std::collections::BTreeMap;

/// The label carrying the owning Job's uid, on pods and in the generated selector.
pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
/// The unprefixed controller-uid label older clients select on.
pub const LEGACY_CONTROLLER_UID_LABEL: &str = "controller-uid";
/// The label carrying the owning Job's name on its pods.
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
/// The unprefixed job-name label older clients select on.
pub const LEGACY_JOB_NAME_LABEL: &str = "job-name";

/// Indexed Jobs may not run more pods at once than this.
const MAX_PARALLELISM_FOR_INDEXED_JOB: i32 = 100_000;

/// The rules of Job objects.
pub struct JobStrategy;

impl TypedStrategy for JobStrategy {
    type Object = Job;
    const GENERATION: Generation = Generation::Spec;
    /// Upstream lets clients select Jobs by their number of succeeded pods.
    const FIELDS: &'static [&'static str] = &["status.successful"];

    fn default(&self, obj: &mut Job) {
        let spec = obj.spec.get_or_insert_with(Default::default);
        default_job_spec(spec);
        copy_template_labels(obj);
    }

    /// Unless the user manages the selector, generate it and the pod labels from the uid.
    fn prepare_for_create(&self, obj: &mut Job) {
        let manual = obj
            .spec
            .as_ref()
            .and_then(|s| s.manual_selector)
            .unwrap_or(false);
        if !manual {
            generate_selector(obj);
            copy_template_labels(obj);
        }
    }

    fn validate(&self, obj: &Job) -> ErrorList {
        let spec = obj.spec.clone().unwrap_or_default();
        let mut errs = validate_generated_selector(obj, &spec);
        errs.extend(validate_job_spec(&spec, &FieldPath::new("spec")));
        errs.extend(validate_indexed_hostnames(obj, &spec));
        errs
    }

    fn validate_update(&self, new: &Job, old: &Job) -> ErrorList {
        let (spec, old_spec) = (
            new.spec.clone().unwrap_or_default(),
            old.spec.clone().unwrap_or_default(),
        );
        let path = FieldPath::new("spec");
        let mut errs = validate_job_spec(&spec, &path);
        errs.extend(validate_immutable_fields(&spec, &old_spec, &path));
        errs.extend(validate_template_update(new, old, &path.child("template")));
        errs
    }

    fn field_values(&self, obj: &Job) -> Vec<(&'static str, String)> {
        let succeeded = obj.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0);
        vec![("status.successful", succeeded.to_string())]
    }
}

/// `SetDefaults_Job`: one pod run to completion once, six retries, not suspended, pods
/// replaced once terminating or failed, and the pod template defaults.
pub fn default_job_spec(spec: &mut JobSpec) {
    if spec.completions.is_none() && spec.parallelism.is_none() {
        spec.completions = Some(1);
    }
    spec.parallelism.get_or_insert(1);
    let backoff = if spec.backoff_limit_per_index.is_some() {
        i32::MAX
    } else {
        6
    };
    spec.backoff_limit.get_or_insert(backoff);
    spec.completion_mode
        .get_or_insert_with(|| "NonIndexed".into());
    spec.suspend.get_or_insert(false);
    spec.manual_selector.get_or_insert(false);
    default_pod_failure_policy(spec);
    let replacement = if spec.pod_failure_policy.is_some() {
        "Failed"
    } else {
        "TerminatingOrFailed"
    };
    spec.pod_replacement_policy
        .get_or_insert_with(|| replacement.into());
    default_pod_template_spec(&mut spec.template);
}

/// Pod condition patterns of a failure policy match `status: True` unless told otherwise.
fn default_pod_failure_policy(spec: &mut JobSpec) {
    let rules = spec
        .pod_failure_policy
        .iter_mut()
        .flat_map(|p| p.rules.iter_mut());
    for pattern in rules.flat_map(|r| r.on_pod_conditions.iter_mut().flatten()) {
        if pattern.status.is_empty() {
            pattern.status = "True".into();
        }
    }
}

/// A Job without labels of its own takes its pod template's labels (upstream's defaulting).
fn copy_template_labels(obj: &mut Job) {
    let template_labels = obj
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.labels.clone());
    if let Some(labels) = template_labels
        && obj.metadata.labels.as_ref().is_none_or(BTreeMap::is_empty)
    {
        obj.metadata.labels = Some(labels);
    }
}

/// `generateSelector`: label the pod template with the Job's name and uid (keeping labels
/// the user set, which validation then checks) and select on the uid.
fn generate_selector(obj: &mut Job) {
    let name = obj.metadata.name.clone().unwrap_or_default();
    let uid = obj.metadata.uid.clone().unwrap_or_default();
    let spec = obj.spec.get_or_insert_with(Default::default);
    let meta = spec.template.metadata.get_or_insert_with(Default::default);
    let labels = meta.labels.get_or_insert_with(Default::default);
    for key in [LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL] {
        labels
            .entry(key.to_string())
            .or_insert_with(|| name.clone());
    }
    for key in [LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL] {
        labels.entry(key.to_string()).or_insert_with(|| uid.clone());
    }
    let selector = spec.selector.get_or_insert_with(LabelSelector::default);
    let match_labels = selector.match_labels.get_or_insert_with(Default::default);
    match_labels
        .entry(CONTROLLER_UID_LABEL.to_string())
        .or_insert(uid);
}

/// `validateGeneratedSelector`: with a generated selector, the selector and the template's
/// uid labels must carry this Job's uid.
fn validate_generated_selector(obj: &Job, spec: &JobSpec) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(selector) = spec
        .selector
        .as_ref()
        .filter(|_| !spec.manual_selector.unwrap_or(false))
    else {
        return errs;
    };
    let uid = obj.metadata.uid.clone().unwrap_or_default();
    let selector_uid = selector
        .match_labels
        .as_ref()
        .and_then(|m| m.get(CONTROLLER_UID_LABEL));
    let selector_path = FieldPath::new("spec")
        .child("selector")
        .child("matchLabels")
        .key(CONTROLLER_UID_LABEL);
    check_uid(&mut errs, selector_path, selector_uid, &uid);
    let labels = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.as_ref());
    let labels_path = FieldPath::new("spec")
        .child("template")
        .child("metadata")
        .child("labels");
    for key in [LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL] {
        check_uid(
            &mut errs,
            labels_path.key(key),
            labels.and_then(|l| l.get(key)),
            &uid,
        );
    }
    errs
}

/// Report a uid label that differs from the Job's uid, as upstream's immutable-field check does.
fn check_uid(errs: &mut ErrorList, path: FieldPath, found: Option<&String>, uid: &str) {
    if found.map(String::as_str).unwrap_or("") != uid {
        errs.push(FieldError::invalid(path, str_value(found), IMMUTABLE_MSG));
    }
}

/// Indexed pods are named `<job>-<index>` and use it as hostname, so the longest such name
/// must be a DNS label.
fn validate_indexed_hostnames(obj: &Job, spec: &JobSpec) -> ErrorList {
    let mut errs = ErrorList::new();
    let completions = spec.completions.unwrap_or(0);
    if spec.completion_mode.as_deref() != Some("Indexed") || completions <= 0 {
        return errs;
    }
    let name = obj.metadata.name.clone().unwrap_or_default();
    let hostname = format!("{name}-{}", completions - 1);
    if !rkube_machinery::validation::is_dns1123_label(&hostname).is_empty() {
        let detail = format!("will not able to create pod with invalid DNS label: {hostname}");
        errs.push(FieldError::invalid(
            FieldPath::new("metadata").child("name"),
            name.as_str(),
            detail,
        ));
    }
    errs
}

/// `ValidateJobSpec`: the spec's own rules, a valid selector, and a template it selects.
pub fn validate_job_spec(spec: &JobSpec, path: &FieldPath) -> ErrorList {
    let mut errs = validate_job_spec_fields(spec, path);
    match &spec.selector {
        None => errs.push(FieldError::required(path.child("selector"), "")),
        Some(selector) => {
            errs.extend(validate_label_selector(selector, &path.child("selector")));
            let labels = spec
                .template
                .metadata
                .as_ref()
                .and_then(|m| m.labels.as_ref());
            if selector_is_convertible(selector) && !selector_matches(selector, labels) {
                let labels_path = path.child("template").child("metadata").child("labels");
                errs.push(FieldError::invalid(
                    labels_path,
                    go_string_map(labels),
                    "`selector` does not match template `labels`",
                ));
            }
        }
    }
    errs
}

/// `validateJobSpec`: the rules a Job spec follows both in a Job and in a CronJob's template.
pub fn validate_job_spec_fields(spec: &JobSpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    nonnegative_opt(&mut errs, path.child("parallelism"), spec.parallelism);
    nonnegative_opt(&mut errs, path.child("completions"), spec.completions);
    nonnegative_opt(
        &mut errs,
        path.child("activeDeadlineSeconds"),
        spec.active_deadline_seconds,
    );
    nonnegative_opt(&mut errs, path.child("backoffLimit"), spec.backoff_limit);
    nonnegative_opt(
        &mut errs,
        path.child("ttlSecondsAfterFinished"),
        spec.ttl_seconds_after_finished,
    );
    nonnegative_opt(
        &mut errs,
        path.child("backoffLimitPerIndex"),
        spec.backoff_limit_per_index,
    );
    if let Some(max_failed) = spec.max_failed_indexes {
        nonnegative_opt(&mut errs, path.child("maxFailedIndexes"), Some(max_failed));
        if spec.backoff_limit_per_index.is_none() {
            errs.push(FieldError::required(
                path.child("backoffLimitPerIndex"),
                "when maxFailedIndexes is specified",
            ));
        }
    }
    errs.extend(validate_completion_mode(spec, path));
    errs.extend(validate_pod_replacement_policy(
        spec,
        &path.child("podReplacementPolicy"),
    ));
    errs.extend(validate_pod_template_spec(
        &spec.template,
        &path.child("template"),
    ));
    errs.extend(validate_restart_policy(
        spec,
        &path.child("template").child("spec").child("restartPolicy"),
    ));
    errs
}

/// `NonIndexed` or `Indexed`, and the rules only indexed Jobs may use.
fn validate_completion_mode(spec: &JobSpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let mode = spec.completion_mode.as_deref();
    if let Some(mode) = mode.filter(|m| *m != "NonIndexed" && *m != "Indexed") {
        errs.push(FieldError::not_supported(
            path.child("completionMode"),
            mode,
            &["NonIndexed", "Indexed"],
        ));
    }
    if mode == Some("Indexed") {
        if spec.completions.is_none() {
            errs.push(FieldError::required(
                path.child("completions"),
                "when completion mode is Indexed",
            ));
        }
        if let Some(p) = spec
            .parallelism
            .filter(|p| *p > MAX_PARALLELISM_FOR_INDEXED_JOB)
        {
            let detail = format!(
                "must be less than or equal to {MAX_PARALLELISM_FOR_INDEXED_JOB} when completion mode is Indexed"
            );
            errs.push(FieldError::invalid(path.child("parallelism"), p, detail));
        }
        if let (Some(max), Some(completions)) = (spec.max_failed_indexes, spec.completions)
            && max > completions
        {
            errs.push(FieldError::invalid(
                path.child("maxFailedIndexes"),
                max,
                "must be less than or equal to completions",
            ));
        }
    }
    if mode.is_none() || mode == Some("NonIndexed") {
        if let Some(b) = spec.backoff_limit_per_index {
            errs.push(FieldError::invalid(
                path.child("backoffLimitPerIndex"),
                b,
                "requires indexed completion mode",
            ));
        }
        if let Some(m) = spec.max_failed_indexes {
            errs.push(FieldError::invalid(
                path.child("maxFailedIndexes"),
                m,
                "requires indexed completion mode",
            ));
        }
    }
    errs
}

/// With a pod failure policy only `Failed` replacement is allowed; otherwise either value.
fn validate_pod_replacement_policy(spec: &JobSpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(policy) = spec.pod_replacement_policy.as_deref() else {
        return errs;
    };
    if spec.pod_failure_policy.is_some() {
        if policy != "Failed" {
            errs.push(FieldError::not_supported(path.clone(), policy, &["Failed"]));
        }
    } else if policy != "Failed" && policy != "TerminatingOrFailed" {
        errs.push(FieldError::not_supported(
            path.clone(),
            policy,
            &["Failed", "TerminatingOrFailed"],
        ));
    }
    errs
}

/// Job pods finish: `OnFailure` or `Never` (only `Never` with a pod failure policy).
fn validate_restart_policy(spec: &JobSpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let policy = spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("");
    match policy {
        "" | "Always" => errs.push(FieldError::required(
            path.clone(),
            r#"valid values: "OnFailure", "Never""#,
        )),
        "OnFailure" | "Never" => {
            if spec.pod_failure_policy.is_some() && policy != "Never" {
                errs.push(FieldError::invalid(
                    path.clone(),
                    policy,
                    r#"only "Never" is supported when podFailurePolicy is specified"#,
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            path.clone(),
            other,
            &["OnFailure", "Never"],
        )),
    }
    errs
}

/// The fields of a Job that never change once it exists (`ValidateJobSpecUpdate`).
fn validate_immutable_fields(spec: &JobSpec, old: &JobSpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if !completions_may_change(spec, old) && spec.completions != old.completions {
        let shown = spec
            .completions
            .map_or(Value::Raw("null".into()), Value::from);
        errs.push(FieldError::invalid(
            path.child("completions"),
            shown,
            IMMUTABLE_MSG,
        ));
    }
    if spec.selector != old.selector {
        let shown = spec
            .selector
            .as_ref()
            .map_or(Value::Raw("null".into()), go_label_selector);
        errs.push(FieldError::invalid(
            path.child("selector"),
            shown,
            IMMUTABLE_MSG,
        ));
    }
    if spec.completion_mode != old.completion_mode {
        errs.push(FieldError::invalid(
            path.child("completionMode"),
            str_value(spec.completion_mode.as_ref()),
            IMMUTABLE_MSG,
        ));
    }
    let opaque = [
        (
            "podFailurePolicy",
            spec.pod_failure_policy != old.pod_failure_policy,
        ),
        (
            "backoffLimitPerIndex",
            spec.backoff_limit_per_index != old.backoff_limit_per_index,
        ),
        ("managedBy", spec.managed_by != old.managed_by),
        ("successPolicy", spec.success_policy != old.success_policy),
    ];
    for (field, _) in opaque.into_iter().filter(|(_, changed)| *changed) {
        errs.push(FieldError::invalid(
            path.child(field),
            shown_value(spec, field),
            IMMUTABLE_MSG,
        ));
    }
    errs
}

/// The new value of an immutable field, for its error.
fn shown_value(spec: &JobSpec, field: &str) -> Value {
    let v = serde_json::to_value(spec)
        .ok()
        .and_then(|v| v.get(field).cloned());
    match v {
        None | Some(serde_json::Value::Null) => Value::Raw("null".into()),
        Some(serde_json::Value::Number(n)) => Value::Raw(n.to_string()),
        Some(serde_json::Value::String(s)) => Value::Str(s),
        Some(other) => Value::Raw(other.to_string()),
    }
}

/// Elastic indexed Jobs may change completions together with parallelism.
fn completions_may_change(spec: &JobSpec, old: &JobSpec) -> bool {
    spec.completion_mode.as_deref() == Some("Indexed")
        && old.completion_mode.as_deref() == Some("Indexed")
        && spec.completions.is_some()
        && spec.completions == spec.parallelism
}

/// The pod template is immutable, except that a suspended Job that never started may change
/// its scheduling directives (node selector, affinity, tolerations, scheduling gates, labels,
/// annotations), so queueing systems can place it.
fn validate_template_update(new: &Job, old: &Job, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let template = new
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let mut old_template = old
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let suspended = new.spec.as_ref().and_then(|s| s.suspend).unwrap_or(false);
    let never_started = old
        .status
        .as_ref()
        .and_then(|s| s.start_time.as_ref())
        .is_none();
    if suspended && never_started {
        copy_scheduling_directives(&template, &mut old_template);
    }
    if template != old_template {
        errs.push(FieldError::invalid(
            path.clone(),
            Value::Raw("core.PodTemplateSpec{...}".into()),
            IMMUTABLE_MSG,
        ));
    }
    errs
}

/// Take `from`'s scheduling directives into `to`.
fn copy_scheduling_directives(from: &PodTemplateSpec, to: &mut PodTemplateSpec) {
    let meta = to.metadata.get_or_insert_with(Default::default);
    meta.labels = from.metadata.as_ref().and_then(|m| m.labels.clone());
    meta.annotations = from.metadata.as_ref().and_then(|m| m.annotations.clone());
    if let (Some(src), Some(dst)) = (from.spec.as_ref(), to.spec.as_mut()) {
        dst.node_selector = src.node_selector.clone();
        dst.affinity = src.affinity.clone();
        dst.tolerations = src.tolerations.clone();
        dst.scheduling_gates = src.scheduling_gates.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::apps::shared::merge;
    use serde_json::json;

    const UID: &str = "0b0f6f9e-1111-2222-3333-444455556666";

    fn job(patch: serde_json::Value) -> Job {
        let mut v = json!({
            "metadata": {"name": "pi", "namespace": "default", "uid": UID},
            "spec": {"template": {"spec": {"containers": [{"name": "pi", "image": "perl"}], "restartPolicy": "Never"}}}
        });
        merge(&mut v, &patch);
        let mut j: Job = serde_json::from_value(v).unwrap();
        JobStrategy.default(&mut j);
        JobStrategy.prepare_for_create(&mut j);
        j
    }

    fn messages(errs: ErrorList) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn defaults_and_generated_selector() {
        let j = serde_json::to_value(job(json!({}))).unwrap();
        let spec = &j["spec"];
        for (field, want) in [
            ("parallelism", json!(1)),
            ("completions", json!(1)),
            ("backoffLimit", json!(6)),
            ("completionMode", json!("NonIndexed")),
            ("suspend", json!(false)),
            ("manualSelector", json!(false)),
            ("podReplacementPolicy", json!("TerminatingOrFailed")),
        ] {
            assert_eq!(spec[field], want, "{field}");
        }
        assert_eq!(
            spec["selector"],
            json!({"matchLabels": {CONTROLLER_UID_LABEL: UID}})
        );
        let labels = json!({CONTROLLER_UID_LABEL: UID, JOB_NAME_LABEL: "pi", "controller-uid": UID, "job-name": "pi"});
        assert_eq!(spec["template"]["metadata"]["labels"], labels);
        assert_eq!(j["metadata"]["labels"], labels);
        assert!(JobStrategy.validate(&job(json!({}))).is_empty());
    }

    #[test]
    fn parallelism_alone_leaves_completions_unset() {
        let spec = job(json!({"spec": {"parallelism": 3}})).spec.unwrap();
        assert_eq!((spec.parallelism, spec.completions), (Some(3), None));
    }

    #[test]
    fn upstream_messages() {
        let cases = [
            (
                json!({"spec": {"template": {"spec": {"restartPolicy": "Always"}}}}),
                r#"spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never""#,
            ),
            (
                json!({"spec": {"template": {"spec": {"restartPolicy": "Sometimes"}}}}),
                r#"spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: "OnFailure", "Never""#,
            ),
            (
                json!({"spec": {"backoffLimit": -1}}),
                "spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0",
            ),
            (
                json!({"spec": {"completionMode": "Indexed", "parallelism": 2}}),
                "spec.completions: Required value: when completion mode is Indexed",
            ),
            (
                json!({"spec": {"completionMode": "Sometimes"}}),
                r#"spec.completionMode: Unsupported value: "Sometimes": supported values: "NonIndexed", "Indexed""#,
            ),
            (
                json!({"spec": {"backoffLimitPerIndex": 1}}),
                "spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode",
            ),
            (
                json!({"spec": {"template": {"metadata": {"labels": {"controller-uid": "other"}}}}}),
                r#"spec.template.metadata.labels[controller-uid]: Invalid value: "other": field is immutable"#,
            ),
        ];
        for (patch, want) in cases {
            let errs = messages(JobStrategy.validate(&job(patch.clone())));
            assert!(
                errs.iter().any(|e| e == want),
                "{patch}: want {want:?} in {errs:?}"
            );
        }
    }

    #[test]
    fn most_of_the_spec_is_immutable() {
        let old = job(json!({}));
        let mut new = old.clone();
        new.spec.as_mut().unwrap().completions = Some(3);
        assert_eq!(
            messages(JobStrategy.validate_update(&new, &old)),
            vec!["spec.completions: Invalid value: 3: field is immutable"]
        );
        let mut scaled = old.clone();
        scaled.spec.as_mut().unwrap().parallelism = Some(4);
        assert!(JobStrategy.validate_update(&scaled, &old).is_empty());
        let mut image = old.clone();
        image
            .spec
            .as_mut()
            .unwrap()
            .template
            .spec
            .as_mut()
            .unwrap()
            .containers[0]
            .image = Some("perl:2".into());
        let errs = messages(JobStrategy.validate_update(&image, &old));
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].starts_with("spec.template: Invalid value: ")
                && errs[0].ends_with(": field is immutable"),
            "{errs:?}"
        );
    }

    #[test]
    fn suspended_jobs_may_move() {
        let old = job(json!({"spec": {"suspend": true}}));
        let mut new = old.clone();
        let pod = new.spec.as_mut().unwrap().template.spec.as_mut().unwrap();
        pod.node_selector = Some([("zone".to_string(), "a".to_string())].into());
        assert!(JobStrategy.validate_update(&new, &old).is_empty());
    }
}
