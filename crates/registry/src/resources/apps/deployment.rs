//! Deployment (apps/v1): the rules of `deployments`.
//!
//! Upstream: defaults in `pkg/apis/apps/v1/defaults.go` (`SetDefaults_Deployment`), rules in
//! `pkg/apis/apps/validation` (`ValidateDeploymentSpec`) and the immutable selector of
//! `pkg/registry/apps/deployment/strategy.go`.

use super::shared::selector_unchanged;
use super::shared::{
    int_or_percent_value, nonnegative, nonnegative_opt, validate_not_more_than_100_percent,
    validate_positive_int_or_percent, validate_replica_set_template, validate_workload_selector,
};
use crate::resources::core::pod::default_pod_template_spec;
use crate::strategy::{Generation, TypedStrategy};
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy as Strategy, RollingUpdateDeployment,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use rkube_machinery::{ErrorList, FieldError, FieldPath, Value};

/// The rules of Deployment objects.
pub struct DeploymentStrategy;

impl TypedStrategy for DeploymentStrategy {
    type Object = Deployment;
    /// Deployments copy their annotations to their ReplicaSets, so upstream bumps the
    /// generation on annotation changes too.
    const GENERATION: Generation = Generation::SpecAndAnnotations;

    fn default(&self, obj: &mut Deployment) {
        default_deployment_spec(obj.spec.get_or_insert_with(Default::default));
    }

    fn validate(&self, obj: &Deployment) -> ErrorList {
        validate_deployment_spec(&spec_of(obj), &FieldPath::new("spec"))
    }

    fn validate_update(&self, new: &Deployment, old: &Deployment) -> ErrorList {
        let (new_spec, old_spec) = (spec_of(new), spec_of(old));
        let mut errs = validate_deployment_spec(&new_spec, &FieldPath::new("spec"));
        errs.extend(selector_unchanged(&new_spec.selector, &old_spec.selector));
        errs
    }
}

/// The spec of a Deployment (defaulting always creates one).
fn spec_of(obj: &Deployment) -> DeploymentSpec {
    obj.spec.clone().unwrap_or_default()
}

/// The rolling update upstream defaults to: 25% surge, 25% unavailable.
fn default_rolling_update(ru: &mut RollingUpdateDeployment) {
    ru.max_unavailable
        .get_or_insert_with(|| IntOrString::String("25%".into()));
    ru.max_surge
        .get_or_insert_with(|| IntOrString::String("25%".into()));
}

/// `SetDefaults_Deployment`: one replica, a 25%/25% rolling update, ten old ReplicaSets kept,
/// ten minutes to make progress, and the pod template defaults.
pub fn default_deployment_spec(spec: &mut DeploymentSpec) {
    spec.replicas.get_or_insert(1);
    let strategy = spec.strategy.get_or_insert_with(Strategy::default);
    let kind = strategy.type_.get_or_insert_with(|| "RollingUpdate".into());
    if kind == "RollingUpdate" {
        default_rolling_update(strategy.rolling_update.get_or_insert_with(Default::default));
    }
    spec.revision_history_limit.get_or_insert(10);
    spec.progress_deadline_seconds.get_or_insert(600);
    default_pod_template_spec(&mut spec.template);
}

/// `ValidateDeploymentSpec`.
pub fn validate_deployment_spec(spec: &DeploymentSpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    nonnegative(
        &mut errs,
        path.child("replicas"),
        spec.replicas.unwrap_or(0).into(),
    );
    errs.extend(validate_workload_selector(
        &spec.selector,
        &path.child("selector"),
        "deployment",
    ));
    errs.extend(validate_replica_set_template(
        &spec.selector,
        &spec.template,
        &path.child("template"),
        "ReplicaSet",
    ));
    errs.extend(validate_strategy(
        spec.strategy.as_ref(),
        &path.child("strategy"),
    ));
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    nonnegative(&mut errs, path.child("minReadySeconds"), min_ready.into());
    nonnegative_opt(
        &mut errs,
        path.child("revisionHistoryLimit"),
        spec.revision_history_limit,
    );
    if let Some(deadline) = spec.progress_deadline_seconds {
        nonnegative(
            &mut errs,
            path.child("progressDeadlineSeconds"),
            deadline.into(),
        );
        if deadline <= min_ready {
            errs.push(FieldError::invalid(
                path.child("progressDeadlineSeconds"),
                deadline,
                "must be greater than minReadySeconds",
            ));
        }
    }
    errs
}

/// `ValidateDeploymentStrategy`: `Recreate` without rolling parameters, or `RollingUpdate`
/// with valid ones.
fn validate_strategy(strategy: Option<&Strategy>, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let kind = strategy.and_then(|s| s.type_.as_deref()).unwrap_or("");
    let rolling = strategy.and_then(|s| s.rolling_update.as_ref());
    match (kind, rolling) {
        ("Recreate", Some(_)) => {
            errs.push(FieldError::forbidden(
                path.child("rollingUpdate"),
                "may not be specified when strategy `type` is 'Recreate'",
            ));
        }
        ("Recreate", None) => {}
        ("RollingUpdate", None) => errs.push(FieldError::required(
            path.child("rollingUpdate"),
            "this should be defaulted and never be nil",
        )),
        ("RollingUpdate", Some(ru)) => {
            errs.extend(validate_rolling_update(ru, &path.child("rollingUpdate")))
        }
        (other, _) => errs.push(FieldError::not_supported(
            path.clone(),
            go_strategy(other),
            &["Recreate", "RollingUpdate"],
        )),
    }
    errs
}

/// Upstream prints the whole internal strategy struct (with Go's `%#v`) for an unknown type.
fn go_strategy(kind: &str) -> Value {
    Value::Raw(format!(
        "apps.DeploymentStrategy{{Type:{}, RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}}",
        Value::quote(kind)
    ))
}

/// `ValidateRollingUpdateDeployment`: both bounds valid, not both zero, unavailability at
/// most 100%.
fn validate_rolling_update(ru: &RollingUpdateDeployment, path: &FieldPath) -> ErrorList {
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
    if int_or_percent_value(unavailable) == 0 && int_or_percent_value(surge) == 0 {
        errs.push(FieldError::invalid(
            path.child("maxUnavailable"),
            super::shared::go_int_or_string(unavailable),
            "may not be 0 when `maxSurge` is 0",
        ));
    }
    errs.extend(validate_not_more_than_100_percent(
        unavailable,
        &path.child("maxUnavailable"),
    ));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::TypedStrategy;
    use serde_json::json;

    fn deployment(v: serde_json::Value) -> Deployment {
        serde_json::from_value(v).unwrap()
    }

    fn minimal() -> Deployment {
        deployment(json!({
            "metadata": {"name": "d", "namespace": "golden"},
            "spec": {
                "selector": {"matchLabels": {"a": "b"}},
                "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}}
            }
        }))
    }

    fn errors(obj: &Deployment) -> Vec<String> {
        DeploymentStrategy
            .validate(obj)
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    fn defaulted(mut d: Deployment) -> Deployment {
        DeploymentStrategy.default(&mut d);
        d
    }

    #[test]
    fn minimal_deployment_gets_upstreams_defaults() {
        let d = defaulted(minimal());
        // The Deployment-level fields of shared/golden/responses/create_deployment_defaults.json.
        let want = json!({
            "replicas": 1,
            "selector": {"matchLabels": {"a": "b"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
            "template": {"metadata": {"labels": {"a": "b"}}}
        });
        let got = serde_json::to_value(&d).unwrap()["spec"].clone();
        for field in [
            "replicas",
            "selector",
            "strategy",
            "revisionHistoryLimit",
            "progressDeadlineSeconds",
        ] {
            assert_eq!(got[field], want[field], "spec.{field}");
        }
        assert_eq!(
            got["template"]["metadata"]["labels"],
            want["template"]["metadata"]["labels"]
        );
        assert!(errors(&d).is_empty(), "{:?}", errors(&d));
    }

    #[test]
    fn recreate_gets_no_rolling_parameters() {
        let mut d = minimal();
        d.spec.as_mut().unwrap().strategy = Some(Strategy {
            type_: Some("Recreate".into()),
            rolling_update: None,
        });
        let d = defaulted(d);
        assert_eq!(d.spec.unwrap().strategy.unwrap().rolling_update, None);
    }

    #[test]
    fn upstream_messages() {
        let cases: Vec<(&str, serde_json::Value, &str)> = vec![
            (
                "selector does not match",
                json!({"spec": {"template": {"metadata": {"labels": {"a": "c"}}}}}),
                "spec.template.metadata.labels: Invalid value: map[string]string{\"a\":\"c\"}: `selector` does not match template `labels`",
            ),
            (
                "negative replicas",
                json!({"spec": {"replicas": -1}}),
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
            ),
            (
                "selector missing",
                json!({"spec": {"selector": null}}),
                "spec.selector: Required value",
            ),
            (
                "both bounds zero",
                json!({"spec": {"strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}}}),
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0%: may not be 0 when `maxSurge` is 0",
            ),
            (
                "unavailable above 100%",
                json!({"spec": {"strategy": {"rollingUpdate": {"maxUnavailable": "150%"}}}}),
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 150%: must not be greater than 100%",
            ),
            (
                "negative surge",
                json!({"spec": {"strategy": {"rollingUpdate": {"maxSurge": -1}}}}),
                "spec.strategy.rollingUpdate.maxSurge: Invalid value: -1: must be greater than or equal to 0",
            ),
            (
                "recreate with rolling parameters",
                json!({"spec": {"strategy": {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}}}),
                "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'",
            ),
            (
                "deadline not above minReadySeconds",
                json!({"spec": {"minReadySeconds": 30, "progressDeadlineSeconds": 30}}),
                "spec.progressDeadlineSeconds: Invalid value: 30: must be greater than minReadySeconds",
            ),
            (
                "restart policy",
                json!({"spec": {"template": {"spec": {"restartPolicy": "Never"}}}}),
                "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
            ),
        ];
        for (name, patch, want) in cases {
            let mut v = serde_json::to_value(minimal()).unwrap();
            crate::resources::apps::shared::merge(&mut v, &patch);
            let d = defaulted(deployment(v));
            let errs = errors(&d);
            assert!(
                errs.iter().any(|e| e == want),
                "{name}: want {want:?}, got {errs:?}"
            );
        }
    }

    #[test]
    fn selector_is_immutable() {
        let old = defaulted(minimal());
        let mut new = old.clone();
        let spec = new.spec.as_mut().unwrap();
        spec.selector.match_labels = Some(
            [
                ("a".to_string(), "b".to_string()),
                ("x".to_string(), "y".to_string()),
            ]
            .into(),
        );
        spec.template.metadata.as_mut().unwrap().labels = spec.selector.match_labels.clone();
        let errs: Vec<String> = DeploymentStrategy
            .validate_update(&new, &old)
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            errs,
            vec![
                "spec.selector: Invalid value: &LabelSelector{MatchLabels:map[string]string{a: b,x: y,},MatchExpressions:[]LabelSelectorRequirement{},}: field is immutable"
            ]
        );
        assert!(DeploymentStrategy.validate_update(&old, &old).is_empty());
    }
}
