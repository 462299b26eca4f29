//! NodeAffinity: `nodeSelector` and required node affinity (filter), preferred node affinity
//! (score). Also the matching rules NodeSelectorTerms share with other plugins.

use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm};

pub const REASON: &str = "node(s) didn't match Pod's node affinity/selector";

fn requirement_matches(r: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = r.values.as_deref().unwrap_or_default();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(bound)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                values.first().and_then(|b| b.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if r.operator == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

/// Whether a node selector term matches the node (an empty term matches nothing).
pub fn term_matches(term: &NodeSelectorTerm, node: &NodeInfo) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs
        .iter()
        .all(|r| requirement_matches(r, node.labels.get(&r.key).map(String::as_str)))
        && fields
            .iter()
            .all(|r| r.key == "metadata.name" && requirement_matches(r, Some(&node.name)))
}

/// Whether the node satisfies the pod's nodeSelector and required node affinity.
pub fn required_matches(pod: &PodInfo, node: &NodeInfo) -> bool {
    pod.node_selector
        .iter()
        .all(|(k, v)| node.labels.get(k) == Some(v))
        && pod.required_node_affinity.as_ref().is_none_or(|sel| {
            sel.node_selector_terms
                .iter()
                .any(|t| term_matches(t, node))
        })
}

/// Filter.
pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Option<&'static str> {
    (!required_matches(pod, node)).then_some(REASON)
}

/// Raw score: the sum of the weights of the preferred terms the node matches.
pub fn score(pod: &PodInfo, node: &NodeInfo) -> i64 {
    pod.preferred_node_affinity
        .iter()
        .filter(|t| t.weight != 0 && term_matches(&t.preference, node))
        .map(|t| t.weight as i64)
        .sum()
}
