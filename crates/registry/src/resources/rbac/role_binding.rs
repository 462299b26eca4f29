//! RoleBinding (rbac.authorization.k8s.io/v1): the rules of `rolebindings`.
//!
//! Upstream (`SetDefaults_RoleBinding`, `ValidateRoleBinding`, `ValidateRoleBindingUpdate`):
//! a binding grants a Role or ClusterRole to users, groups and service accounts; which role
//! it grants never changes.

use super::rules::{
    default_binding, validate_role_ref, validate_role_ref_update, validate_subjects,
};
use crate::strategy::{NameRule, TypedStrategy};
use k8s_openapi::api::rbac::v1::RoleBinding;
use rkube_machinery::ErrorList;

/// The rules of RoleBinding objects.
pub struct RoleBindingStrategy;

impl TypedStrategy for RoleBindingStrategy {
    type Object = RoleBinding;
    const NAME_RULE: NameRule = NameRule::PathSegment;

    fn default(&self, obj: &mut RoleBinding) {
        default_binding(&mut obj.role_ref, obj.subjects.as_mut());
    }

    fn validate(&self, obj: &RoleBinding) -> ErrorList {
        let mut errs = validate_role_ref(&obj.role_ref, &["Role", "ClusterRole"]);
        errs.extend(validate_subjects(obj.subjects.as_ref(), true));
        errs
    }

    fn validate_update(&self, new: &RoleBinding, old: &RoleBinding) -> ErrorList {
        let mut errs = self.validate(new);
        errs.extend(validate_role_ref_update(&new.role_ref, &old.role_ref));
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn binding(v: serde_json::Value) -> RoleBinding {
        let mut b: RoleBinding = serde_json::from_value(v).unwrap();
        RoleBindingStrategy.default(&mut b);
        b
    }

    fn messages(errs: ErrorList) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn defaults_and_messages() {
        let b = binding(json!({
            "metadata": {"name": "b", "namespace": "default"},
            "roleRef": {"kind": "Role", "name": "reader"},
            "subjects": [{"kind": "User", "name": "jane"}, {"kind": "ServiceAccount", "name": "default"}, {"kind": "Robot", "name": "r2"}]
        }));
        assert_eq!(b.role_ref.api_group, "rbac.authorization.k8s.io");
        assert_eq!(
            b.subjects.as_ref().unwrap()[0].api_group.as_deref(),
            Some("rbac.authorization.k8s.io")
        );
        assert_eq!(
            messages(RoleBindingStrategy.validate(&b)),
            vec![
                r#"subjects[2].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group""#
            ]
        );
    }

    #[test]
    fn role_ref_is_fixed() {
        let old = binding(
            json!({"metadata": {"name": "b", "namespace": "default"}, "roleRef": {"kind": "Role", "name": "reader"}}),
        );
        let new = binding(
            json!({"metadata": {"name": "b", "namespace": "default"}, "roleRef": {"kind": "ClusterRole", "name": "admin"}}),
        );
        assert_eq!(
            messages(RoleBindingStrategy.validate_update(&new, &old)),
            vec![
                r#"roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"admin"}: cannot change roleRef"#
            ]
        );
    }
}
