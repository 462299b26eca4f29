//! CustomResourceDefinition (apiextensions.k8s.io/v1): the rules of `customresourcedefinitions`.
//!
//! The basic rules of upstream's `ValidateCustomResourceDefinition`
//! (`apiextensions-apiserver/pkg/apis/apiextensions/validation`): the name is
//! `<plural>.<group>`, the group is a dotted domain, names and scope are given, and exactly
//! one version is stored. Schema validation is not done here.

use crate::resources::apps::shared::IMMUTABLE_MSG;
use crate::strategy::{Generation, TypedStrategy};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionSpec,
};
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath, Value};

/// The rules of CustomResourceDefinition objects.
pub struct CustomResourceDefinitionStrategy;

impl TypedStrategy for CustomResourceDefinitionStrategy {
    type Object = CustomResourceDefinition;
    const GENERATION: Generation = Generation::Spec;

    fn validate(&self, obj: &CustomResourceDefinition) -> ErrorList {
        let mut errs = ErrorList::new();
        let name = obj.metadata.name.as_deref().unwrap_or("");
        let spec = &obj.spec;
        if name != format!("{}.{}", spec.names.plural, spec.group) {
            errs.push(FieldError::invalid(
                FieldPath::new("metadata").child("name"),
                name,
                "must be spec.names.plural+\".\"+spec.group",
            ));
        }
        errs.extend(validate_spec(spec, &FieldPath::new("spec")));
        errs
    }

    fn validate_update(
        &self,
        new: &CustomResourceDefinition,
        old: &CustomResourceDefinition,
    ) -> ErrorList {
        let mut errs = self.validate(new);
        let path = FieldPath::new("spec");
        if new.spec.group != old.spec.group {
            errs.push(FieldError::invalid(
                path.child("group"),
                new.spec.group.as_str(),
                IMMUTABLE_MSG,
            ));
        }
        if new.spec.names.plural != old.spec.names.plural {
            errs.push(FieldError::invalid(
                path.child("names").child("plural"),
                new.spec.names.plural.as_str(),
                IMMUTABLE_MSG,
            ));
        }
        errs
    }
}

/// Group, names, scope and versions.
fn validate_spec(spec: &CustomResourceDefinitionSpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    if spec.group.is_empty() {
        errs.push(FieldError::required(path.child("group"), ""));
    } else if !spec.group.contains('.') {
        errs.push(FieldError::invalid(
            path.child("group"),
            spec.group.as_str(),
            "should be a domain with at least one dot",
        ));
    } else {
        for m in v::is_dns1123_subdomain(&spec.group) {
            errs.push(FieldError::invalid(
                path.child("group"),
                spec.group.as_str(),
                m,
            ));
        }
    }
    errs.extend(validate_names(spec, &path.child("names")));
    match spec.scope.as_str() {
        "" => errs.push(FieldError::required(path.child("scope"), "")),
        "Cluster" | "Namespaced" => {}
        other => errs.push(FieldError::not_supported(
            path.child("scope"),
            other,
            &["Cluster", "Namespaced"],
        )),
    }
    errs.extend(validate_versions(spec, &path.child("versions")));
    errs
}

/// Plural and kind are required; the plural is a DNS label.
fn validate_names(spec: &CustomResourceDefinitionSpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let names = &spec.names;
    if names.plural.is_empty() {
        errs.push(FieldError::required(path.child("plural"), ""));
    } else {
        for m in v::is_dns1123_label(&names.plural) {
            errs.push(FieldError::invalid(
                path.child("plural"),
                names.plural.as_str(),
                m,
            ));
        }
    }
    if names.kind.is_empty() {
        errs.push(FieldError::required(path.child("kind"), ""));
    }
    errs
}

/// Named versions, unique, exactly one stored.
fn validate_versions(spec: &CustomResourceDefinitionSpec, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut seen = Vec::new();
    for (i, version) in spec.versions.iter().enumerate() {
        if version.name.is_empty() {
            errs.push(FieldError::required(path.index(i).child("name"), ""));
        } else if seen.contains(&&version.name) {
            errs.push(FieldError::invalid(
                path.index(i).child("name"),
                version.name.as_str(),
                "must be unique",
            ));
        }
        seen.push(&version.name);
    }
    if spec.versions.iter().filter(|v| v.storage).count() != 1 {
        let shown = Value::Raw("[]apiextensions.CustomResourceDefinitionVersion{...}".into());
        errs.push(FieldError::invalid(
            path.clone(),
            shown,
            "must have exactly one version marked as storage version",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crd(name: &str, versions: serde_json::Value) -> CustomResourceDefinition {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"group": "stable.example.com", "scope": "Namespaced", "names": {"plural": "crontabs", "kind": "CronTab"}, "versions": versions}
        }))
        .unwrap()
    }

    #[test]
    fn names_and_storage_versions() {
        let one = json!([{"name": "v1", "served": true, "storage": true}]);
        assert!(
            CustomResourceDefinitionStrategy
                .validate(&crd("crontabs.stable.example.com", one.clone()))
                .is_empty()
        );
        assert_eq!(
            CustomResourceDefinitionStrategy
                .validate(&crd("crontabs", one))
                .aggregate_message(),
            r#"metadata.name: Invalid value: "crontabs": must be spec.names.plural+"."+spec.group"#
        );
        let two = json!([{"name": "v1", "served": true, "storage": true}, {"name": "v2", "served": true, "storage": true}]);
        let msgs: Vec<String> = CustomResourceDefinitionStrategy
            .validate(&crd("crontabs.stable.example.com", two))
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            msgs,
            vec![
                "spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion{...}: must have exactly one version marked as storage version"
            ]
        );
    }
}
