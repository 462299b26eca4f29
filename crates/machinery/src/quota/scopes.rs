//! Quota scopes: which objects a scoped quota counts. A quota's `spec.scopes` each read as an
//! `Exists` requirement, and its `spec.scopeSelector.matchExpressions` add more; an object is
//! counted only when it satisfies them all (upstream's `CalculateScopeSelectors`).

use super::pod_resources::is_best_effort;
use serde_json::Value;

/// One requirement on a scope (`{scopeName, operator, values}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRequirement {
    pub scope: String,
    pub operator: String,
    pub values: Vec<String>,
}

/// The scope requirements of a quota object.
pub fn of_quota(quota: &Value) -> Vec<ScopeRequirement> {
    let spec = &quota["spec"];
    let mut out: Vec<ScopeRequirement> = spec["scopes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|s| ScopeRequirement {
            scope: s.to_string(),
            operator: "Exists".to_string(),
            values: Vec::new(),
        })
        .collect();
    for e in spec["scopeSelector"]["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        out.push(ScopeRequirement {
            scope: e["scopeName"].as_str().unwrap_or_default().to_string(),
            operator: e["operator"].as_str().unwrap_or_default().to_string(),
            values: e["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        });
    }
    out
}

/// Whether a pod satisfies one scope requirement (upstream's `podMatchesScopeFunc`).
pub fn pod_matches(req: &ScopeRequirement, pod: &Value) -> bool {
    match req.scope.as_str() {
        "Terminating" => is_terminating(pod),
        "NotTerminating" => !is_terminating(pod),
        "BestEffort" => is_best_effort(pod),
        "NotBestEffort" => !is_best_effort(pod),
        "PriorityClass" => {
            let class = pod["spec"]["priorityClassName"]
                .as_str()
                .filter(|c| !c.is_empty());
            match req.operator.as_str() {
                "Exists" => class.is_some(),
                "DoesNotExist" => class.is_none(),
                "In" => class.is_some_and(|c| req.values.iter().any(|v| v == c)),
                "NotIn" => class.is_none_or(|c| !req.values.iter().any(|v| v == c)),
                _ => false,
            }
        }
        "CrossNamespacePodAffinity" => uses_cross_namespace_affinity(pod),
        _ => false,
    }
}

/// `activeDeadlineSeconds` set (to zero or more) makes a pod terminating.
fn is_terminating(pod: &Value) -> bool {
    pod["spec"]["activeDeadlineSeconds"]
        .as_i64()
        .is_some_and(|s| s >= 0)
}

/// Any pod (anti-)affinity term naming other namespaces or a namespace selector.
fn uses_cross_namespace_affinity(pod: &Value) -> bool {
    let affinity = &pod["spec"]["affinity"];
    let crosses = |term: &Value| {
        term["namespaces"].as_array().is_some_and(|n| !n.is_empty())
            || term.get("namespaceSelector").is_some_and(|s| !s.is_null())
    };
    ["podAffinity", "podAntiAffinity"].iter().any(|kind| {
        let a = &affinity[kind];
        let required = a["requiredDuringSchedulingIgnoredDuringExecution"]
            .as_array()
            .into_iter()
            .flatten()
            .any(crosses);
        let preferred = a["preferredDuringSchedulingIgnoredDuringExecution"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|w| crosses(&w["podAffinityTerm"]));
        required || preferred
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pods_fall_in_the_scopes_their_spec_puts_them_in() {
        let quota = json!({"spec": {"scopes": ["NotBestEffort"], "scopeSelector": {"matchExpressions": [
            {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}}});
        let scopes = of_quota(&quota);
        let high = json!({"spec": {"priorityClassName": "high", "activeDeadlineSeconds": 0,
            "containers": [{"name": "a", "resources": {"requests": {"memory": "1Mi"}}}]}});
        let plain = json!({"spec": {"containers": [{"name": "a"}]}});
        assert!(scopes.iter().all(|s| pod_matches(s, &high)));
        assert!(!scopes.iter().any(|s| pod_matches(s, &plain)));
        let terminating = ScopeRequirement {
            scope: "Terminating".into(),
            operator: "Exists".into(),
            values: vec![],
        };
        assert!(pod_matches(&terminating, &high));
        assert!(!pod_matches(&terminating, &plain));
    }
}
