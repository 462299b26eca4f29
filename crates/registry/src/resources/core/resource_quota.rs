//! ResourceQuota (v1): the rules of `resourcequotas`: hard limits name quota resources with
//! valid quantities, scopes are known and not contradictory, status starts empty, and scopes
//! may not change.

use super::resources::{
    is_huge_page, parse_quantity, validate_quantity_value, validate_resource_name,
};
use crate::strategy::TypedStrategy;
use k8s_openapi::api::core::v1::{ResourceQuota, ResourceQuotaStatus};
use rkube_machinery::{ErrorList, FieldError, FieldPath, Value};

/// Unprefixed resource names a quota may limit.
const QUOTA_RESOURCES: [&str; 19] = [
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.storage",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "persistentvolumeclaims",
    "configmaps",
    "services.nodeports",
    "services.loadbalancers",
];

/// Quota scopes.
const SCOPES: [&str; 7] = [
    "Terminating",
    "NotTerminating",
    "BestEffort",
    "NotBestEffort",
    "PriorityClass",
    "CrossNamespacePodAffinity",
    "VolumeAttributesClass",
];

/// The rules of ResourceQuota objects.
pub struct ResourceQuotaStrategy;

impl TypedStrategy for ResourceQuotaStrategy {
    type Object = ResourceQuota;

    fn prepare_for_create(&self, rq: &mut ResourceQuota) {
        rq.status = Some(ResourceQuotaStatus::default());
    }

    fn validate(&self, rq: &ResourceQuota) -> ErrorList {
        let spec = rq.spec.clone().unwrap_or_default();
        let mut errs = ErrorList::new();
        let hard_path = FieldPath::new("spec").child("hard");
        for (name, raw) in spec.hard.iter().flatten() {
            let p = hard_path.key(name);
            errs.extend(validate_quota_resource_name(name, &p));
            if let Some(q) = parse_quantity(raw, &p, &mut errs) {
                errs.extend(validate_quantity_value(name, &q, &p));
            }
        }
        errs.extend(validate_scopes(spec.scopes.as_deref().unwrap_or(&[])));
        errs
    }

    fn validate_update(&self, new: &ResourceQuota, old: &ResourceQuota) -> ErrorList {
        let mut errs = self.validate(new);
        let scopes = |rq: &ResourceQuota| {
            let mut s = rq
                .spec
                .as_ref()
                .and_then(|s| s.scopes.clone())
                .unwrap_or_default();
            s.sort();
            s.dedup();
            s
        };
        if scopes(new) != scopes(old) {
            let value = crate::meta::go_string_slice(
                new.spec
                    .as_ref()
                    .and_then(|s| s.scopes.as_deref())
                    .unwrap_or(&[]),
            );
            errs.push(FieldError::invalid(
                FieldPath::new("spec").child("scopes"),
                value,
                "field is immutable",
            ));
        }
        errs
    }
}

fn validate_quota_resource_name(name: &str, path: &FieldPath) -> ErrorList {
    let mut errs = validate_resource_name(name, path);
    let hugepages = name.strip_prefix("requests.").is_some_and(is_huge_page);
    if !name.contains('/') && !QUOTA_RESOURCES.contains(&name) && !hugepages {
        errs.push(FieldError::invalid(
            path.clone(),
            name,
            "must be a standard resource for quota",
        ));
    }
    errs
}

fn validate_scopes(scopes: &[String]) -> ErrorList {
    let mut errs = ErrorList::new();
    let path = FieldPath::new("spec").child("scopes");
    let value = || {
        Value::Raw(format!(
            "[]core.ResourceQuotaScope{{{}}}",
            scopes
                .iter()
                .map(|s| Value::quote(s))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    };
    for s in scopes {
        if !SCOPES.contains(&s.as_str()) {
            errs.push(FieldError::invalid(
                path.clone(),
                value(),
                "unsupported scope",
            ));
        }
    }
    let has = |s: &str| scopes.iter().any(|x| x == s);
    for (a, b) in [
        ("BestEffort", "NotBestEffort"),
        ("Terminating", "NotTerminating"),
    ] {
        if has(a) && has(b) {
            errs.push(FieldError::invalid(
                path.clone(),
                value(),
                "conflicting scopes",
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use crate::resources::core::testing::{create, create_error};
    use serde_json::json;

    #[test]
    fn hard_limits() {
        let rq = |hard: serde_json::Value| json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"}, "spec": {"hard": hard}});
        let (stored, errs) = create(
            "resourcequotas",
            rq(json!({"pods": "10", "requests.cpu": "4", "count/deployments.apps": "2"})),
        );
        assert!(errs.is_empty(), "{}", errs.aggregate_message());
        assert_eq!(stored["status"], json!({}));
        assert_eq!(
            create_error("resourcequotas", rq(json!({"pods": "1500m"}))),
            "spec.hard[pods]: Invalid value: \"1500m\": must be an integer"
        );
        assert_eq!(
            create_error("resourcequotas", rq(json!({"storage": "1Gi"}))),
            "spec.hard[storage]: Invalid value: \"storage\": must be a standard resource for quota"
        );
    }
}
