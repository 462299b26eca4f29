//! Namespace (v1): the rules of `namespaces`. Names are DNS-1123 labels; every namespace is
//! labelled `kubernetes.io/metadata.name=<name>` (upstream does this in defaulting, so users
//! cannot remove it), starts `Active`, and carries the `kubernetes` finalizer that the
//! namespace controller removes once the namespace is emptied.

use crate::meta::validate_kube_finalizer_name;
use crate::strategy::{NameRule, TypedStrategy};
use k8s_openapi::api::core::v1::{Namespace, NamespaceSpec, NamespaceStatus};
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldPath};

/// The label every namespace carries with its own name.
pub const NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// The finalizer of the namespace controller.
pub const KUBERNETES_FINALIZER: &str = "kubernetes";

/// The rules of Namespace objects.
pub struct NamespaceStrategy;

impl TypedStrategy for NamespaceStrategy {
    type Object = Namespace;
    const NAME_RULE: NameRule = NameRule::Label;
    const FIELDS: &'static [&'static str] = &["status.phase"];

    fn default(&self, ns: &mut Namespace) {
        if let Some(name) = ns.metadata.name.clone().filter(|n| !n.is_empty()) {
            ns.metadata
                .labels
                .get_or_insert_default()
                .insert(NAME_LABEL.into(), name);
        }
    }

    fn prepare_for_create(&self, ns: &mut Namespace) {
        ns.status = Some(NamespaceStatus {
            phase: Some("Active".into()),
            ..Default::default()
        });
        let finalizers = ns
            .spec
            .get_or_insert_with(NamespaceSpec::default)
            .finalizers
            .get_or_insert_default();
        if !finalizers.iter().any(|f| f == KUBERNETES_FINALIZER) {
            finalizers.push(KUBERNETES_FINALIZER.into());
        }
    }

    /// Spec finalizers change only through the `finalize` subresource.
    fn prepare_for_update(&self, new: &mut Namespace, old: &Namespace) {
        new.spec.clone_from(&old.spec);
    }

    fn validate(&self, ns: &Namespace) -> ErrorList {
        let path = FieldPath::new("spec").child("finalizers");
        let mut errs = ErrorList::new();
        for f in ns.spec.iter().flat_map(|s| s.finalizers.iter().flatten()) {
            errs.extend(v::validate_qualified_name(f, &path));
            errs.extend(validate_kube_finalizer_name(f, &path));
        }
        errs
    }

    fn validate_update(&self, _new: &Namespace, _old: &Namespace) -> ErrorList {
        ErrorList::new()
    }

    fn field_values(&self, ns: &Namespace) -> Vec<(&'static str, String)> {
        let phase = ns
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        vec![("status.phase", phase)]
    }
}

#[cfg(test)]
mod tests {
    use crate::resources::core::testing::{create, create_error};
    use serde_json::json;

    #[test]
    fn namespace_create() {
        let (stored, errs) = create(
            "namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}),
        );
        assert!(errs.is_empty(), "{}", errs.aggregate_message());
        assert_eq!(
            stored["metadata"]["labels"],
            json!({"kubernetes.io/metadata.name": "team-a"})
        );
        assert_eq!(stored["spec"], json!({"finalizers": ["kubernetes"]}));
        assert_eq!(stored["status"], json!({"phase": "Active"}));
        assert_eq!(
            create_error(
                "namespaces",
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}})
            ),
            "metadata.name: Invalid value: \"a.b\": must not contain dots"
        );
    }
}
