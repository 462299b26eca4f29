//! ClusterRole (rbac.authorization.k8s.io/v1): the rules of `clusterroles`.
//!
//! Upstream (`ValidateClusterRole`): names are path segments, rules are valid (non-resource
//! URLs allowed), and an aggregation rule has at least one valid selector.

use super::rules::{validate_aggregation_rule, validate_rules};
use crate::strategy::{NameRule, TypedStrategy};
use k8s_openapi::api::rbac::v1::ClusterRole;
use rkube_machinery::ErrorList;

/// The rules of ClusterRole objects.
pub struct ClusterRoleStrategy;

impl TypedStrategy for ClusterRoleStrategy {
    type Object = ClusterRole;
    const NAME_RULE: NameRule = NameRule::PathSegment;

    fn validate(&self, obj: &ClusterRole) -> ErrorList {
        let mut errs = validate_rules(obj.rules.as_ref(), false);
        errs.extend(validate_aggregation_rule(obj.aggregation_rule.as_ref()));
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn url_rules_and_aggregation() {
        let ok: ClusterRole = serde_json::from_value(json!({"metadata": {"name": "system:viewer"}, "rules": [{"verbs": ["get"], "nonResourceURLs": ["/metrics"]}]})).unwrap();
        assert!(ClusterRoleStrategy.validate(&ok).is_empty());
        let empty: ClusterRole = serde_json::from_value(
            json!({"metadata": {"name": "agg"}, "aggregationRule": {"clusterRoleSelectors": []}}),
        )
        .unwrap();
        let msgs: Vec<String> = ClusterRoleStrategy
            .validate(&empty)
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            msgs,
            vec![
                "aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector required if aggregationRule is non-nil"
            ]
        );
    }
}
