//! Role (rbac.authorization.k8s.io/v1): the rules of `roles`.
//!
//! Upstream (`ValidateRole`): names are path segments, and each rule is a valid namespaced
//! policy rule.

use super::rules::validate_rules;
use crate::strategy::{NameRule, TypedStrategy};
use k8s_openapi::api::rbac::v1::Role;
use rkube_machinery::ErrorList;

/// The rules of Role objects.
pub struct RoleStrategy;

impl TypedStrategy for RoleStrategy {
    type Object = Role;
    const NAME_RULE: NameRule = NameRule::PathSegment;

    fn validate(&self, obj: &Role) -> ErrorList {
        validate_rules(obj.rules.as_ref(), true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rules_need_verbs_groups_and_resources() {
        let role: Role = serde_json::from_value(json!({
            "metadata": {"name": "r", "namespace": "default"},
            "rules": [{"verbs": []}, {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}]
        }))
        .unwrap();
        let msgs: Vec<String> = RoleStrategy
            .validate(&role)
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            msgs,
            vec![
                "rules[0].verbs: Required value: verbs must contain at least one value",
                "rules[0].apiGroups: Required value: resource rules must supply at least one api group",
                "rules[0].resources: Required value: resource rules must supply at least one resource",
                r#"rules[1].nonResourceURLs: Invalid value: []string{"/healthz"}: namespaced rules cannot apply to non-resource URLs"#,
            ]
        );
    }
}
