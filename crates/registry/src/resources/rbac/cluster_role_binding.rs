//! ClusterRoleBinding (rbac.authorization.k8s.io/v1): the rules of `clusterrolebindings`.
//!
//! Upstream (`SetDefaults_ClusterRoleBinding`, `ValidateClusterRoleBinding`,
//! `ValidateClusterRoleBindingUpdate`): a cluster-wide binding can only grant a ClusterRole,
//! its service account subjects must name their namespace, and its role never changes.

use super::rules::{
    default_binding, validate_role_ref, validate_role_ref_update, validate_subjects,
};
use crate::strategy::{NameRule, TypedStrategy};
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use rkube_machinery::ErrorList;

/// The rules of ClusterRoleBinding objects.
pub struct ClusterRoleBindingStrategy;

impl TypedStrategy for ClusterRoleBindingStrategy {
    type Object = ClusterRoleBinding;
    const NAME_RULE: NameRule = NameRule::PathSegment;

    fn default(&self, obj: &mut ClusterRoleBinding) {
        default_binding(&mut obj.role_ref, obj.subjects.as_mut());
    }

    fn validate(&self, obj: &ClusterRoleBinding) -> ErrorList {
        let mut errs = validate_role_ref(&obj.role_ref, &["ClusterRole"]);
        errs.extend(validate_subjects(obj.subjects.as_ref(), false));
        errs
    }

    fn validate_update(&self, new: &ClusterRoleBinding, old: &ClusterRoleBinding) -> ErrorList {
        let mut errs = self.validate(new);
        errs.extend(validate_role_ref_update(&new.role_ref, &old.role_ref));
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_cluster_roles_and_namespaced_service_accounts() {
        let mut b: ClusterRoleBinding = serde_json::from_value(json!({
            "metadata": {"name": "b"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "default"}, {"kind": "Group", "apiGroup": "", "name": "devs"}]
        }))
        .unwrap();
        ClusterRoleBindingStrategy.default(&mut b);
        let msgs: Vec<String> = ClusterRoleBindingStrategy
            .validate(&b)
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            msgs,
            vec![
                r#"roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole""#,
                "subjects[0].namespace: Required value"
            ]
        );
    }
}
