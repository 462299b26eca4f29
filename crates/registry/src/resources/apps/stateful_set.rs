//! StatefulSet (apps/v1): the rules of `statefulsets`.
//!
//! Upstream: `SetDefaults_StatefulSet` (`pkg/apis/apps/v1/defaults.go`, plus the claim
//! defaults of its volume claim templates), `ValidateStatefulSetSpec` and
//! `ValidateStatefulSetUpdate` (`pkg/apis/apps/validation`). Pods are named `<set>-<ordinal>`
//! and use that as their hostname, so the set's name must be a DNS label.

use super::shared::{
    go_int_or_string, go_label_selector, int_or_percent_value, nonnegative,
    selector_is_convertible, validate_not_more_than_100_percent, validate_positive_int_or_percent,
    validate_selector_matches_template, validate_workload_selector,
};
use crate::resources::core::pod::default_pod_template_spec;
use crate::strategy::{Generation, NameRule, TypedStrategy};
use k8s_openapi::api::apps::v1::{
    RollingUpdateStatefulSetStrategy, StatefulSet,
    StatefulSetPersistentVolumeClaimRetentionPolicy as RetentionPolicy, StatefulSetSpec,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimStatus, PodTemplateSpec,
};
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath, Value};

/// The rules of StatefulSet objects.
pub struct StatefulSetStrategy;

impl TypedStrategy for StatefulSetStrategy {
    type Object = StatefulSet;
    const GENERATION: Generation = Generation::Spec;
    const NAME_RULE: NameRule = NameRule::Label;

    fn default(&self, obj: &mut StatefulSet) {
        default_stateful_set_spec(obj.spec.get_or_insert_with(Default::default));
    }

    fn validate(&self, obj: &StatefulSet) -> ErrorList {
        validate_stateful_set_spec(
            &obj.spec.clone().unwrap_or_default(),
            &FieldPath::new("spec"),
        )
    }

    fn validate_update(&self, new: &StatefulSet, old: &StatefulSet) -> ErrorList {
        let (new_spec, old_spec) = (
            new.spec.clone().unwrap_or_default(),
            old.spec.clone().unwrap_or_default(),
        );
        let mut errs = validate_stateful_set_spec(&new_spec, &FieldPath::new("spec"));
        if without_mutable_fields(new_spec, &old_spec) != old_spec {
            errs.push(FieldError::forbidden(
                FieldPath::new("spec"),
                UPDATE_FORBIDDEN_MSG,
            ));
        }
        errs
    }
}

/// Upstream's message for an update touching a field that may not change.
const UPDATE_FORBIDDEN_MSG: &str = "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";

/// `new` with the fields an update may change taken from `old`, so what remains must be equal.
fn without_mutable_fields(mut new: StatefulSetSpec, old: &StatefulSetSpec) -> StatefulSetSpec {
    new.replicas = old.replicas;
    new.ordinals = old.ordinals.clone();
    new.template = old.template.clone();
    new.update_strategy = old.update_strategy.clone();
    new.persistent_volume_claim_retention_policy =
        old.persistent_volume_claim_retention_policy.clone();
    new.min_ready_seconds = old.min_ready_seconds;
    new
}

/// `SetDefaults_StatefulSet`: ordered pod management, rolling updates from partition 0,
/// claims retained, one replica, ten revisions kept; plus template and claim defaults.
pub fn default_stateful_set_spec(spec: &mut StatefulSetSpec) {
    spec.pod_management_policy
        .get_or_insert_with(|| "OrderedReady".into());
    default_update_strategy(
        spec.update_strategy
            .get_or_insert_with(StatefulSetUpdateStrategy::default),
    );
    let retention = spec
        .persistent_volume_claim_retention_policy
        .get_or_insert_with(RetentionPolicy::default);
    retention
        .when_deleted
        .get_or_insert_with(|| "Retain".into());
    retention.when_scaled.get_or_insert_with(|| "Retain".into());
    spec.replicas.get_or_insert(1);
    spec.revision_history_limit.get_or_insert(10);
    default_pod_template_spec(&mut spec.template);
    spec.volume_claim_templates
        .iter_mut()
        .flatten()
        .for_each(default_claim_template);
}

/// A missing strategy becomes a rolling update; a rolling update's partition defaults to 0.
fn default_update_strategy(strategy: &mut StatefulSetUpdateStrategy) {
    if strategy.type_.is_none() {
        strategy.type_ = Some("RollingUpdate".into());
        strategy
            .rolling_update
            .get_or_insert_with(RollingUpdateStatefulSetStrategy::default);
    }
    if strategy.type_.as_deref() == Some("RollingUpdate")
        && let Some(ru) = strategy.rolling_update.as_mut()
    {
        ru.partition.get_or_insert(0);
    }
}

/// The claim defaults upstream applies to each volume claim template: filesystem volumes,
/// and a `Pending` phase.
fn default_claim_template(claim: &mut PersistentVolumeClaim) {
    if let Some(spec) = claim.spec.as_mut() {
        spec.volume_mode.get_or_insert_with(|| "Filesystem".into());
    }
    let status = claim
        .status
        .get_or_insert_with(PersistentVolumeClaimStatus::default);
    status.phase.get_or_insert_with(|| "Pending".into());
}

/// `ValidateStatefulSetSpec`.
pub fn validate_stateful_set_spec(spec: &StatefulSetSpec, path: &FieldPath) -> ErrorList {
    let mut errs = validate_pod_management_policy(
        spec.pod_management_policy.as_deref(),
        &path.child("podManagementPolicy"),
    );
    errs.extend(validate_update_strategy(
        spec.update_strategy.as_ref(),
        &path.child("updateStrategy"),
    ));
    errs.extend(validate_retention_policy(
        spec.persistent_volume_claim_retention_policy.as_ref(),
        &path.child("persistentVolumeClaimRetentionPolicy"),
    ));
    nonnegative(
        &mut errs,
        path.child("replicas"),
        spec.replicas.unwrap_or(0).into(),
    );
    nonnegative(
        &mut errs,
        path.child("minReadySeconds"),
        spec.min_ready_seconds.unwrap_or(0).into(),
    );
    if let Some(ordinals) = &spec.ordinals {
        nonnegative(
            &mut errs,
            path.child("ordinals.start"),
            ordinals.start.unwrap_or(0).into(),
        );
    }
    errs.extend(validate_workload_selector(
        &spec.selector,
        &path.child("selector"),
        "statefulset",
    ));
    if selector_is_convertible(&spec.selector) {
        errs.extend(validate_template(spec, &path.child("template")));
    } else {
        errs.push(FieldError::invalid(
            path.child("selector"),
            go_label_selector(&spec.selector),
            "",
        ));
    }
    errs.extend(validate_template_policies(
        &spec.template,
        &path.child("template").child("spec"),
    ));
    errs
}

/// `ValidatePodTemplateSpecForStatefulSet`: the selector must match, and the template's labels
/// and annotations must be valid. Upstream leaves the pod spec itself alone here, because its
/// volume mounts may name volume claim templates rather than pod volumes.
fn validate_template(spec: &StatefulSetSpec, path: &FieldPath) -> ErrorList {
    let mut errs = validate_selector_matches_template(&spec.selector, &spec.template, path);
    if let Some(meta) = &spec.template.metadata {
        if let Some(labels) = &meta.labels {
            errs.extend(v::validate_labels(labels, &path.child("labels")));
        }
        if let Some(annotations) = &meta.annotations {
            errs.extend(v::validate_annotations(
                annotations,
                &path.child("annotations"),
            ));
        }
    }
    errs
}

/// Stateful pods always restart and never have a deadline.
fn validate_template_policies(template: &PodTemplateSpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let pod = template.spec.as_ref();
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
    if pod.is_some_and(|p| p.active_deadline_seconds.is_some()) {
        errs.push(FieldError::forbidden(
            path.child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in StatefulSet is not Supported",
        ));
    }
    errs
}

/// `OrderedReady` or `Parallel`.
fn validate_pod_management_policy(policy: Option<&str>, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    match policy.unwrap_or("") {
        "" => errs.push(FieldError::required(path.clone(), "")),
        "OrderedReady" | "Parallel" => {}
        other => errs.push(FieldError::invalid(
            path.clone(),
            other,
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    errs
}

/// `RollingUpdate` (with a valid partition) or `OnDelete` (without rolling parameters).
fn validate_update_strategy(
    strategy: Option<&StatefulSetUpdateStrategy>,
    path: &FieldPath,
) -> ErrorList {
    let mut errs = ErrorList::new();
    let rolling = strategy.and_then(|s| s.rolling_update.as_ref());
    match (
        strategy.and_then(|s| s.type_.as_deref()).unwrap_or(""),
        rolling,
    ) {
        ("", _) => errs.push(FieldError::required(path.clone(), "")),
        ("OnDelete", Some(ru)) => errs.push(FieldError::invalid(
            path.child("rollingUpdate"),
            go_rolling_update(ru),
            "only allowed for updateStrategy 'RollingUpdate'",
        )),
        ("OnDelete", None) | ("RollingUpdate", None) => {}
        ("RollingUpdate", Some(ru)) => {
            errs.extend(validate_rolling_update(ru, &path.child("rollingUpdate")))
        }
        (other, _) => {
            let shown = Value::Raw(format!(
                "apps.StatefulSetUpdateStrategy{{Type:{}, RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy)(nil)}}",
                Value::quote(other)
            ));
            errs.push(FieldError::invalid(
                path.clone(),
                shown,
                "must be 'RollingUpdate' or 'OnDelete'",
            ));
        }
    }
    errs
}

/// Go's `%#v` of the internal rolling update struct, as upstream prints it.
fn go_rolling_update(ru: &RollingUpdateStatefulSetStrategy) -> Value {
    Value::Raw(format!(
        "apps.RollingUpdateStatefulSetStrategy{{Partition:{}, MaxUnavailable:(*intstr.IntOrString)(nil)}}",
        ru.partition.unwrap_or(0)
    ))
}

/// `validateRollingUpdateStatefulSet`: a non-negative partition, and a non-zero
/// `maxUnavailable` of at most 100% when given.
fn validate_rolling_update(ru: &RollingUpdateStatefulSetStrategy, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    nonnegative(
        &mut errs,
        path.child("partition"),
        ru.partition.unwrap_or(0).into(),
    );
    if let Some(max) = &ru.max_unavailable {
        let max_path = path.child("maxUnavailable");
        errs.extend(validate_positive_int_or_percent(max, &max_path));
        if int_or_percent_value(max) == 0 {
            errs.push(FieldError::invalid(
                max_path.clone(),
                go_int_or_string(max),
                "cannot be 0",
            ));
        }
        errs.extend(validate_not_more_than_100_percent(max, &max_path));
    }
    errs
}

/// Both retention choices are `Retain` or `Delete`.
fn validate_retention_policy(policy: Option<&RetentionPolicy>, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(policy) = policy else { return errs };
    for (name, value) in [
        ("whenDeleted", &policy.when_deleted),
        ("whenScaled", &policy.when_scaled),
    ] {
        let value = value.as_deref().unwrap_or("");
        if value != "Retain" && value != "Delete" {
            errs.push(FieldError::not_supported(
                path.child(name),
                value,
                &["Retain", "Delete"],
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stateful_set(patch: serde_json::Value) -> StatefulSet {
        let mut v = json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "serviceName": "web",
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
            }
        });
        super::super::shared::merge(&mut v, &patch);
        let mut sts: StatefulSet = serde_json::from_value(v).unwrap();
        StatefulSetStrategy.default(&mut sts);
        sts
    }

    fn messages(errs: ErrorList) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn defaults_like_upstream() {
        let spec = serde_json::to_value(stateful_set(json!({})).spec).unwrap();
        assert_eq!(spec["podManagementPolicy"], "OrderedReady");
        assert_eq!(
            spec["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        );
        assert_eq!(
            spec["persistentVolumeClaimRetentionPolicy"],
            json!({"whenDeleted": "Retain", "whenScaled": "Retain"})
        );
        assert_eq!(spec["replicas"], 1);
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(
            spec["volumeClaimTemplates"][0]["spec"]["volumeMode"],
            "Filesystem"
        );
        assert_eq!(
            spec["volumeClaimTemplates"][0]["status"],
            json!({"phase": "Pending"})
        );
        let on_delete = serde_json::to_value(
            stateful_set(json!({"spec": {"updateStrategy": {"type": "OnDelete"}}})).spec,
        )
        .unwrap();
        assert_eq!(on_delete["updateStrategy"], json!({"type": "OnDelete"}));
    }

    #[test]
    fn upstream_messages() {
        let cases = [
            (json!({}), vec![]),
            (
                json!({"spec": {"podManagementPolicy": "Fast"}}),
                vec![
                    "spec.podManagementPolicy: Invalid value: \"Fast\": must be 'OrderedReady' or 'Parallel'",
                ],
            ),
            (
                json!({"spec": {"updateStrategy": {"rollingUpdate": {"partition": -1}}}}),
                vec![
                    "spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or equal to 0",
                ],
            ),
            (
                json!({"spec": {"persistentVolumeClaimRetentionPolicy": {"whenScaled": "Keep"}}}),
                vec![
                    "spec.persistentVolumeClaimRetentionPolicy.whenScaled: Unsupported value: \"Keep\": supported values: \"Retain\", \"Delete\"",
                ],
            ),
            (
                json!({"spec": {"template": {"metadata": {"labels": {"app": "db"}}}}}),
                vec![
                    "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"db\"}: `selector` does not match template `labels`",
                ],
            ),
            (
                json!({"spec": {"template": {"spec": {"restartPolicy": "OnFailure"}}}}),
                vec![
                    "spec.template.spec.restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\"",
                ],
            ),
        ];
        for (patch, want) in cases {
            assert_eq!(
                messages(StatefulSetStrategy.validate(&stateful_set(patch.clone()))),
                want,
                "{patch}"
            );
        }
    }

    #[test]
    fn only_some_fields_may_change() {
        let old = stateful_set(json!({}));
        let scaled = stateful_set(
            json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}}),
        );
        assert!(
            StatefulSetStrategy
                .validate_update(&scaled, &old)
                .is_empty()
        );
        let renamed = stateful_set(json!({"spec": {"serviceName": "other"}}));
        assert_eq!(
            messages(StatefulSetStrategy.validate_update(&renamed, &old)),
            vec![format!("spec: Forbidden: {UPDATE_FORBIDDEN_MSG}")]
        );
    }
}
