//! ReplicationController (v1): the rules of `replicationcontrollers`: one replica and a
//! selector (and labels) copied from the template's labels by default, and a template that
//! matches the selector and restarts `Always`.

use super::pod::{default_pod_template_spec, validate_pod_template_spec};
use crate::strategy::{Generation, TypedStrategy};
use k8s_openapi::api::core::v1::{
    ReplicationController, ReplicationControllerSpec, ReplicationControllerStatus,
};
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath, Value};

/// The rules of ReplicationController objects.
pub struct ReplicationControllerStrategy;

impl TypedStrategy for ReplicationControllerStrategy {
    type Object = ReplicationController;
    const GENERATION: Generation = Generation::Spec;
    const FIELDS: &'static [&'static str] = &["status.replicas"];

    fn default(&self, rc: &mut ReplicationController) {
        let spec = rc.spec.get_or_insert_default();
        let labels = spec
            .template
            .as_ref()
            .and_then(|t| t.metadata.as_ref())
            .and_then(|m| m.labels.clone());
        if let Some(labels) = labels.filter(|l| !l.is_empty()) {
            if spec.selector.as_ref().is_none_or(|s| s.is_empty()) {
                spec.selector = Some(labels.clone());
            }
            if rc.metadata.labels.as_ref().is_none_or(|l| l.is_empty()) {
                rc.metadata.labels = Some(labels);
            }
        }
        spec.replicas.get_or_insert(1);
        if let Some(t) = spec.template.as_mut() {
            default_pod_template_spec(t);
        }
    }

    fn prepare_for_create(&self, rc: &mut ReplicationController) {
        rc.status = Some(ReplicationControllerStatus::default());
    }

    fn validate(&self, rc: &ReplicationController) -> ErrorList {
        validate_spec(
            rc.spec
                .as_ref()
                .unwrap_or(&ReplicationControllerSpec::default()),
            &FieldPath::new("spec"),
        )
    }

    fn field_values(&self, rc: &ReplicationController) -> Vec<(&'static str, String)> {
        let replicas = rc.status.as_ref().map_or(0, |s| s.replicas);
        vec![("status.replicas", replicas.to_string())]
    }
}

fn validate_spec(spec: &ReplicationControllerSpec, path: &FieldPath) -> ErrorList {
    let mut errs = v::validate_nonnegative(
        i64::from(spec.min_ready_seconds.unwrap_or(0)),
        &path.child("minReadySeconds"),
    );
    let selector = spec.selector.clone().unwrap_or_default();
    if selector.is_empty() {
        errs.push(FieldError::required(path.child("selector"), ""));
    }
    errs.extend(v::validate_nonnegative(
        i64::from(spec.replicas.unwrap_or(0)),
        &path.child("replicas"),
    ));
    let tpath = path.child("template");
    let Some(template) = spec.template.as_ref() else {
        errs.push(FieldError::required(tpath, ""));
        return errs;
    };
    let labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    if !selector.is_empty() && !selector.iter().all(|(k, val)| labels.get(k) == Some(val)) {
        errs.push(FieldError::invalid(
            tpath.child("metadata").child("labels"),
            Value::string_map(&labels),
            "`selector` does not match template `labels`",
        ));
    }
    errs.extend(validate_pod_template_spec(template, &tpath));
    let tspec = template.spec.as_ref();
    let restart = tspec
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("");
    if restart != "Always" {
        errs.push(FieldError::not_supported(
            tpath.child("spec").child("restartPolicy"),
            restart,
            &["Always"],
        ));
    }
    if tspec.is_some_and(|s| s.active_deadline_seconds.is_some()) {
        errs.push(FieldError::forbidden(
            tpath.child("spec").child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in ReplicationController is not Supported",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use crate::resources::core::testing::{create, create_error};
    use serde_json::json;

    #[test]
    fn selector_and_replicas_default_from_the_template() {
        let rc = json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "r"},
            "spec": {"template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}});
        let (stored, errs) = create("replicationcontrollers", rc);
        assert!(errs.is_empty(), "{}", errs.aggregate_message());
        assert_eq!(stored["spec"]["selector"], json!({"app": "x"}));
        assert_eq!(stored["spec"]["replicas"], 1);
        assert_eq!(stored["metadata"]["labels"], json!({"app": "x"}));
        assert_eq!(stored["status"], json!({"replicas": 0}));
        let bad = json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "r"},
            "spec": {"selector": {"app": "y"}, "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}});
        assert_eq!(
            create_error("replicationcontrollers", bad),
            "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`"
        );
    }
}
