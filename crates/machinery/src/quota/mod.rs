//! Resource quota accounting shared by the API server's ResourceQuota admission and the
//! quota controller (upstream's `k8s.io/apiserver/pkg/quota/v1` and the core evaluators): what
//! an object costs, which quotas count it, and the resource-list arithmetic in between.

pub mod evaluators;
pub mod pod_resources;
pub mod resource_list;
pub mod scopes;

pub use evaluators::Evaluator;
pub use resource_list::ResourceList;
pub use scopes::ScopeRequirement;

use serde_json::Value;

/// A quota's name, `status.hard`, `status.used` and scopes, read from its JSON.
#[derive(Debug, Clone)]
pub struct QuotaView {
    pub name: String,
    pub hard: ResourceList,
    pub used: ResourceList,
    pub scopes: Vec<ScopeRequirement>,
}

impl QuotaView {
    /// Read a ResourceQuota object.
    pub fn of(quota: &Value) -> Self {
        Self {
            name: quota["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            hard: resource_list::from_json(&quota["status"]["hard"]),
            used: resource_list::from_json(&quota["status"]["used"]),
            scopes: scopes::of_quota(quota),
        }
    }
}

/// The usage of `objects` (one resource, one namespace) under a quota limiting `hard` with
/// `scopes`: every name the evaluator measures starts at zero, then each object the scopes
/// admit adds its cost (upstream's `CalculateUsageStats`).
pub fn usage_of<'a>(
    evaluator: &Evaluator,
    hard: &ResourceList,
    scopes: &[ScopeRequirement],
    objects: impl IntoIterator<Item = &'a Value>,
    now: jiff::Timestamp,
) -> ResourceList {
    let names = evaluator.matching(hard.keys());
    let mut used: ResourceList = names
        .iter()
        .map(|n| (n.clone(), crate::quantity::Quantity::ZERO))
        .collect();
    for o in objects {
        if scopes.iter().all(|s| evaluator.matches_scope(s, o)) {
            let cost = resource_list::mask(&evaluator.usage(o, now), &names);
            used = resource_list::add(&used, &cost);
        }
    }
    used
}
