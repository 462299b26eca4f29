//! ReplicaSet (apps/v1): the rules of `replicasets`.
//!
//! Upstream: `SetDefaults_ReplicaSet` (`pkg/apis/apps/v1/defaults.go`), `ValidateReplicaSetSpec`
//! (`pkg/apis/apps/validation`) and `pkg/registry/apps/replicaset/strategy.go` (immutable
//! selector, the `status.replicas` field selector).

use super::shared::selector_unchanged;
use super::shared::{nonnegative, validate_replica_set_template, validate_workload_selector};
use crate::resources::core::pod::default_pod_template_spec;
use crate::strategy::{Generation, TypedStrategy};
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetSpec};
use rkube_machinery::{ErrorList, FieldPath};

/// The rules of ReplicaSet objects.
pub struct ReplicaSetStrategy;

impl TypedStrategy for ReplicaSetStrategy {
    type Object = ReplicaSet;
    const GENERATION: Generation = Generation::Spec;
    /// Upstream lets clients select ReplicaSets by their observed replica count.
    const FIELDS: &'static [&'static str] = &["status.replicas"];

    fn default(&self, obj: &mut ReplicaSet) {
        let spec = obj.spec.get_or_insert_with(Default::default);
        spec.replicas.get_or_insert(1);
        if let Some(template) = spec.template.as_mut() {
            default_pod_template_spec(template);
        }
    }

    fn validate(&self, obj: &ReplicaSet) -> ErrorList {
        validate_replica_set_spec(
            &obj.spec.clone().unwrap_or_default(),
            &FieldPath::new("spec"),
        )
    }

    fn validate_update(&self, new: &ReplicaSet, old: &ReplicaSet) -> ErrorList {
        let (new_spec, old_spec) = (
            new.spec.clone().unwrap_or_default(),
            old.spec.clone().unwrap_or_default(),
        );
        let mut errs = validate_replica_set_spec(&new_spec, &FieldPath::new("spec"));
        errs.extend(selector_unchanged(&new_spec.selector, &old_spec.selector));
        errs
    }

    fn field_values(&self, obj: &ReplicaSet) -> Vec<(&'static str, String)> {
        let replicas = obj.status.as_ref().map_or(0, |s| s.replicas);
        vec![("status.replicas", replicas.to_string())]
    }
}

/// `ValidateReplicaSetSpec` (its "empty selector" message says "deployment", as upstream's does).
pub fn validate_replica_set_spec(spec: &ReplicaSetSpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
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
    errs.extend(validate_workload_selector(
        &spec.selector,
        &path.child("selector"),
        "deployment",
    ));
    let template = spec.template.clone().unwrap_or_default();
    errs.extend(validate_replica_set_template(
        &spec.selector,
        &template,
        &path.child("template"),
        "ReplicaSet",
    ));
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn replica_set(patch: serde_json::Value) -> ReplicaSet {
        let mut v = json!({
            "metadata": {"name": "rs", "namespace": "default"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
            }
        });
        super::super::shared::merge(&mut v, &patch);
        let mut rs: ReplicaSet = serde_json::from_value(v).unwrap();
        ReplicaSetStrategy.default(&mut rs);
        rs
    }

    fn messages(errs: ErrorList) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn defaults_one_replica() {
        assert_eq!(replica_set(json!({})).spec.unwrap().replicas, Some(1));
    }

    #[test]
    fn upstream_messages() {
        let cases = [
            (json!({}), vec![]),
            (
                json!({"spec": {"replicas": -2}}),
                vec!["spec.replicas: Invalid value: -2: must be greater than or equal to 0"],
            ),
            (
                json!({"spec": {"template": {"metadata": {"labels": {"app": "db"}}}}}),
                vec![
                    "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"db\"}: `selector` does not match template `labels`",
                ],
            ),
            (
                json!({"spec": {"selector": {"matchLabels": {"app": null}}}}),
                vec![
                    "spec.selector: Invalid value: &LabelSelector{MatchLabels:map[string]string{},MatchExpressions:[]LabelSelectorRequirement{},}: empty selector is invalid for deployment",
                ],
            ),
            (
                json!({"spec": {"template": {"spec": {"activeDeadlineSeconds": 5}}}}),
                vec![
                    "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported",
                ],
            ),
        ];
        for (patch, want) in cases {
            let rs = replica_set(patch.clone());
            assert_eq!(messages(ReplicaSetStrategy.validate(&rs)), want, "{patch}");
        }
    }

    #[test]
    fn selector_is_immutable_and_replicas_are_selectable() {
        let old = replica_set(json!({}));
        let new = replica_set(
            json!({"spec": {"selector": {"matchLabels": {"tier": "x"}}, "template": {"metadata": {"labels": {"tier": "x"}}}}}),
        );
        let errs = messages(ReplicaSetStrategy.validate_update(&new, &old));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].starts_with("spec.selector: Invalid value: &LabelSelector{MatchLabels:map[string]string{app: web,tier: x,}"), "{errs:?}");
        assert!(errs[0].ends_with(": field is immutable"));
        assert_eq!(
            ReplicaSetStrategy.field_values(&old),
            vec![("status.replicas", "0".to_string())]
        );
    }
}
