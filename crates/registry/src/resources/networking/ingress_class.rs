//! IngressClass (networking.k8s.io/v1): the rules of `ingressclasses`.
//!
//! Upstream: `SetDefaults_IngressClass` (parameters are cluster-scoped unless told
//! otherwise) and `ValidateIngressClass`/`ValidateIngressClassUpdate`: a domain-prefixed
//! controller name that never changes, and a complete parameters reference.

use crate::resources::apps::shared::IMMUTABLE_MSG;
use crate::strategy::TypedStrategy;
use k8s_openapi::api::networking::v1::{
    IngressClass, IngressClassParametersReference, IngressClassSpec,
};
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath};

/// The longest controller name upstream accepts.
const MAX_CONTROLLER_LENGTH: usize = 250;

/// The rules of IngressClass objects.
pub struct IngressClassStrategy;

impl TypedStrategy for IngressClassStrategy {
    type Object = IngressClass;

    fn default(&self, obj: &mut IngressClass) {
        if let Some(params) = obj.spec.as_mut().and_then(|s| s.parameters.as_mut()) {
            params.scope.get_or_insert_with(|| "Cluster".into());
        }
    }

    fn validate(&self, obj: &IngressClass) -> ErrorList {
        validate_spec(
            &obj.spec.clone().unwrap_or_default(),
            &FieldPath::new("spec"),
        )
    }

    fn validate_update(&self, new: &IngressClass, old: &IngressClass) -> ErrorList {
        let (spec, old_spec) = (
            new.spec.clone().unwrap_or_default(),
            old.spec.clone().unwrap_or_default(),
        );
        let mut errs = validate_spec(&spec, &FieldPath::new("spec"));
        if spec.controller != old_spec.controller {
            let shown = spec.controller.clone().unwrap_or_default();
            errs.push(FieldError::invalid(
                FieldPath::new("spec").child("controller"),
                shown,
                IMMUTABLE_MSG,
            ));
        }
        errs
    }
}

/// The controller name and the parameters reference.
fn validate_spec(spec: &IngressClassSpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let controller = spec.controller.as_deref().unwrap_or("");
    let controller_path = path.child("controller");
    if controller.len() > MAX_CONTROLLER_LENGTH {
        errs.push(FieldError::too_long(
            controller_path.clone(),
            MAX_CONTROLLER_LENGTH,
        ));
    }
    errs.extend(validate_domain_prefixed_path(controller, &controller_path));
    if let Some(params) = &spec.parameters {
        errs.extend(validate_parameters(params, &path.child("parameters")));
    }
    errs
}

/// `IsDomainPrefixedPath`: `example.com/name`.
fn validate_domain_prefixed_path(value: &str, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if value.is_empty() {
        errs.push(FieldError::required(path.clone(), ""));
        return errs;
    }
    let Some((host, _)) = value.split_once('/') else {
        errs.push(FieldError::invalid(
            path.clone(),
            value,
            "must be a domain-prefixed path (such as \"acme.io/foo\")",
        ));
        return errs;
    };
    for m in v::is_dns1123_subdomain(host) {
        errs.push(FieldError::invalid(path.clone(), host, m));
    }
    errs
}

/// `validateIngressClassParametersReference`.
fn validate_parameters(params: &IngressClassParametersReference, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if params.kind.is_empty() {
        errs.push(FieldError::required(path.child("kind"), "kind is required"));
    }
    if params.name.is_empty() {
        errs.push(FieldError::required(path.child("name"), "name is required"));
    }
    match (params.scope.as_deref(), &params.namespace) {
        (None, _) => errs.push(FieldError::required(path.child("scope"), "")),
        (Some("Namespace"), None) => errs.push(FieldError::required(
            path.child("namespace"),
            "`parameters.scope` is set to 'Namespace'",
        )),
        (Some("Cluster"), Some(_)) => errs.push(FieldError::forbidden(
            path.child("namespace"),
            "`parameters.scope` is set to 'Cluster'",
        )),
        (Some("Namespace" | "Cluster"), _) => {}
        (Some(other), _) => errs.push(FieldError::not_supported(
            path.child("scope"),
            other,
            &["Cluster", "Namespace"],
        )),
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn controller_rules() {
        let mut c: IngressClass = serde_json::from_value(json!({"metadata": {"name": "nginx"}, "spec": {"controller": "nginx", "parameters": {"kind": "K", "name": "n"}}})).unwrap();
        IngressClassStrategy.default(&mut c);
        let msgs: Vec<String> = IngressClassStrategy
            .validate(&c)
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            msgs,
            vec![
                r#"spec.controller: Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")"#
            ]
        );
        assert_eq!(
            c.spec.unwrap().parameters.unwrap().scope.as_deref(),
            Some("Cluster")
        );
    }
}
