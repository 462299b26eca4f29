//! DaemonSet (apps/v1): the rules of `daemonsets`.
//!
//! Upstream: `SetDefaults_DaemonSet` (`pkg/apis/apps/v1/defaults.go`), `ValidateDaemonSetSpec`
//! (`pkg/apis/apps/validation`) and `pkg/registry/apps/daemonset/strategy.go`, which keeps the
//! template generation (served in apps/v1 as the `deprecated.daemonset.template.generation`
//! annotation) and makes the selector immutable.

use super::shared::selector_unchanged;
use super::shared::{
    go_int_or_string, go_label_selector, go_string_map, int_or_percent_value, nonnegative,
    nonnegative_opt, selector_is_convertible, selector_is_empty, selector_is_unset,
    selector_matches, validate_label_selector, validate_not_more_than_100_percent,
    validate_positive_int_or_percent,
};
use crate::resources::core::pod::{default_pod_template_spec, validate_pod_template_spec};
use crate::strategy::{Generation, TypedStrategy};
use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, DaemonSetUpdateStrategy, RollingUpdateDaemonSet,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use rkube_machinery::{ErrorList, FieldError, FieldPath, Value};

/// The annotation apps/v1 serves the DaemonSet's template generation in.
pub const TEMPLATE_GENERATION_ANNOTATION: &str = "deprecated.daemonset.template.generation";

/// The rules of DaemonSet objects.
pub struct DaemonSetStrategy;

impl TypedStrategy for DaemonSetStrategy {
    type Object = DaemonSet;
    const GENERATION: Generation = Generation::Spec;

    fn default(&self, obj: &mut DaemonSet) {
        default_daemon_set_spec(obj.spec.get_or_insert_with(Default::default));
    }

    /// A new DaemonSet starts at template generation 1, whatever the client sent.
    fn prepare_for_create(&self, obj: &mut DaemonSet) {
        set_template_generation(obj, 1);
    }

    /// Clients may not set the template generation; it goes up by one when the template
    /// changes, so the controller can tell old pods from new ones.
    fn prepare_for_update(&self, new: &mut DaemonSet, old: &DaemonSet) {
        let previous = template_generation(old);
        let changed =
            new.spec.as_ref().map(|s| &s.template) != old.spec.as_ref().map(|s| &s.template);
        set_template_generation(new, if changed { previous + 1 } else { previous });
    }

    fn validate(&self, obj: &DaemonSet) -> ErrorList {
        validate_daemon_set_spec(
            &obj.spec.clone().unwrap_or_default(),
            &FieldPath::new("spec"),
        )
    }

    fn validate_update(&self, new: &DaemonSet, old: &DaemonSet) -> ErrorList {
        let (new_spec, old_spec) = (
            new.spec.clone().unwrap_or_default(),
            old.spec.clone().unwrap_or_default(),
        );
        let mut errs = validate_daemon_set_spec(&new_spec, &FieldPath::new("spec"));
        errs.extend(selector_unchanged(&new_spec.selector, &old_spec.selector));
        errs
    }
}

/// The template generation recorded on a stored DaemonSet (0 when absent or unreadable, as
/// upstream's conversion reads it).
fn template_generation(obj: &DaemonSet) -> i64 {
    let annotations = obj.metadata.annotations.as_ref();
    annotations
        .and_then(|a| a.get(TEMPLATE_GENERATION_ANNOTATION))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Record the template generation in its annotation.
fn set_template_generation(obj: &mut DaemonSet, generation: i64) {
    let annotations = obj
        .metadata
        .annotations
        .get_or_insert_with(Default::default);
    annotations.insert(
        TEMPLATE_GENERATION_ANNOTATION.to_string(),
        generation.to_string(),
    );
}

/// `SetDefaults_DaemonSet`: rolling updates one node at a time without surge, ten revisions
/// kept, and the pod template defaults.
pub fn default_daemon_set_spec(spec: &mut DaemonSetSpec) {
    let strategy = spec
        .update_strategy
        .get_or_insert_with(DaemonSetUpdateStrategy::default);
    let kind = strategy.type_.get_or_insert_with(|| "RollingUpdate".into());
    if kind == "RollingUpdate" {
        let ru = strategy
            .rolling_update
            .get_or_insert_with(RollingUpdateDaemonSet::default);
        ru.max_unavailable.get_or_insert(IntOrString::Int(1));
        ru.max_surge.get_or_insert(IntOrString::Int(0));
    }
    spec.revision_history_limit.get_or_insert(10);
    default_pod_template_spec(&mut spec.template);
}

/// `ValidateDaemonSetSpec`. Unlike the other controllers, a missing selector selects nothing,
/// so it is reported as a template mismatch.
pub fn validate_daemon_set_spec(spec: &DaemonSetSpec, path: &FieldPath) -> ErrorList {
    let mut errs = validate_label_selector(&spec.selector, &path.child("selector"));
    let labels = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.as_ref());
    let matches = !selector_is_unset(&spec.selector) && selector_matches(&spec.selector, labels);
    if selector_is_convertible(&spec.selector) && !matches {
        let labels_path = path.child("template").child("metadata").child("labels");
        errs.push(FieldError::invalid(
            labels_path,
            go_string_map(labels),
            "`selector` does not match template `labels`",
        ));
    }
    if !selector_is_unset(&spec.selector) && selector_is_empty(&spec.selector) {
        errs.push(FieldError::invalid(
            path.child("selector"),
            go_label_selector(&spec.selector),
            "empty selector is invalid for daemonset",
        ));
    }
    errs.extend(validate_pod_template_spec(
        &spec.template,
        &path.child("template"),
    ));
    errs.extend(validate_template_policies(
        spec,
        &path.child("template").child("spec"),
    ));
    nonnegative(
        &mut errs,
        path.child("minReadySeconds"),
        spec.min_ready_seconds.unwrap_or(0).into(),
    );
    errs.extend(validate_update_strategy(
        spec.update_strategy.as_ref(),
        &path.child("updateStrategy"),
    ));
    nonnegative_opt(
        &mut errs,
        path.child("revisionHistoryLimit"),
        spec.revision_history_limit,
    );
    errs
}

/// Daemon pods always restart and never have a deadline.
fn validate_template_policies(spec: &DaemonSetSpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let pod = spec.template.spec.as_ref();
    if let Some(policy) = pod
        .and_then(|p| p.restart_policy.as_deref())
        .filter(|p| *p != "Always")
    {
        errs.push(FieldError::not_supported(
            path.child("restartPolicy"),
            policy,
            &["Always"],
        ));
    }
    if let Some(deadline) = pod.and_then(|p| p.active_deadline_seconds) {
        errs.push(FieldError::invalid(
            path.child("activeDeadlineSeconds"),
            deadline,
            "activeDeadlineSeconds must be nil for daemon set pods",
        ));
    }
    errs
}

/// `ValidateDaemonSetUpdateStrategy`.
fn validate_update_strategy(
    strategy: Option<&DaemonSetUpdateStrategy>,
    path: &FieldPath,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let kind = strategy.and_then(|s| s.type_.as_deref()).unwrap_or("");
    match (kind, strategy.and_then(|s| s.rolling_update.as_ref())) {
        ("OnDelete", _) => {}
        ("RollingUpdate", None) => errs.push(FieldError::required(path.child("rollingUpdate"), "")),
        ("RollingUpdate", Some(ru)) => {
            errs.extend(validate_rolling_update(ru, &path.child("rollingUpdate")))
        }
        (other, _) => {
            let shown = Value::Raw(format!(
                "apps.DaemonSetUpdateStrategy{{Type:{}, RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}}",
                Value::quote(other)
            ));
            errs.push(FieldError::not_supported(
                path.clone(),
                shown,
                &["RollingUpdate", "OnDelete"],
            ));
        }
    }
    errs
}

/// `ValidateRollingUpdateDaemonSet`: valid bounds, at most 100%, and exactly one non-zero.
fn validate_rolling_update(ru: &RollingUpdateDaemonSet, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let zero = IntOrString::Int(0);
    let unavailable = ru.max_unavailable.as_ref().unwrap_or(&zero);
    let surge = ru.max_surge.as_ref().unwrap_or(&zero);
    errs.extend(validate_positive_int_or_percent(
        unavailable,
        &path.child("maxUnavailable"),
    ));
    errs.extend(validate_positive_int_or_percent(
        surge,
        &path.child("maxSurge"),
    ));
    errs.extend(validate_not_more_than_100_percent(
        unavailable,
        &path.child("maxUnavailable"),
    ));
    errs.extend(validate_not_more_than_100_percent(
        surge,
        &path.child("maxSurge"),
    ));
    match (
        int_or_percent_value(unavailable) != 0,
        int_or_percent_value(surge) != 0,
    ) {
        (true, true) => errs.push(FieldError::invalid(
            path.child("maxSurge"),
            go_int_or_string(surge),
            "may not be set when maxUnavailable is non-zero",
        )),
        (false, false) => errs.push(FieldError::required(
            path.child("maxUnavailable"),
            "cannot be 0 when maxSurge is 0",
        )),
        _ => {}
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn daemon_set(patch: serde_json::Value) -> DaemonSet {
        let mut v = json!({
            "metadata": {"name": "ds", "namespace": "kube-system"},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "c", "image": "agent"}]}}
            }
        });
        super::super::shared::merge(&mut v, &patch);
        let mut ds: DaemonSet = serde_json::from_value(v).unwrap();
        DaemonSetStrategy.default(&mut ds);
        ds
    }

    fn messages(errs: ErrorList) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn defaults_rolling_update_one_at_a_time() {
        let spec = serde_json::to_value(daemon_set(json!({})).spec).unwrap();
        assert_eq!(
            spec["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        );
        assert_eq!(spec["revisionHistoryLimit"], 10);
    }

    #[test]
    fn upstream_messages() {
        let cases = [
            (json!({}), vec![]),
            (
                json!({"spec": {"selector": null}}),
                vec![
                    "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"agent\"}: `selector` does not match template `labels`",
                ],
            ),
            (
                json!({"spec": {"updateStrategy": {"rollingUpdate": {"maxSurge": 1}}}}),
                vec![
                    "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero",
                ],
            ),
            (
                json!({"spec": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": 0}}}}),
                vec![
                    "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0",
                ],
            ),
            (
                json!({"spec": {"template": {"spec": {"activeDeadlineSeconds": 3}}}}),
                vec![
                    "spec.template.spec.activeDeadlineSeconds: Invalid value: 3: activeDeadlineSeconds must be nil for daemon set pods",
                ],
            ),
        ];
        for (patch, want) in cases {
            assert_eq!(
                messages(DaemonSetStrategy.validate(&daemon_set(patch.clone()))),
                want,
                "{patch}"
            );
        }
    }

    #[test]
    fn template_generation_follows_template_changes() {
        let mut old =
            daemon_set(json!({"metadata": {"annotations": {TEMPLATE_GENERATION_ANNOTATION: "7"}}}));
        DaemonSetStrategy.prepare_for_create(&mut old);
        assert_eq!(template_generation(&old), 1);
        let mut same = old.clone();
        same.spec.as_mut().unwrap().min_ready_seconds = Some(5);
        DaemonSetStrategy.prepare_for_update(&mut same, &old);
        assert_eq!(template_generation(&same), 1);
        let mut changed = daemon_set(
            json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "agent:2"}]}}}}),
        );
        DaemonSetStrategy.prepare_for_update(&mut changed, &old);
        assert_eq!(template_generation(&changed), 2);
    }
}
