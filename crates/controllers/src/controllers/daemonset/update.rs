//! The DaemonSet RollingUpdate plan, as upstream's controller makes it.
//!
//! Without surge (`maxSurge` 0): old pods are deleted, unavailable ones first and free, available
//! ones while fewer than `maxUnavailable` daemons are unavailable; the manage step then creates
//! the new pod on the emptied node.
//!
//! With surge (`maxSurge` > 0, `maxUnavailable` 0): a node keeps its old pod while a new one
//! starts beside it, on at most `maxSurge` nodes at once; the old pod is deleted once the new one
//! is available. A node whose old pod is not available gets its new pod at once, outside the
//! surge budget.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::sync::Arc;

/// The daemon pods on one eligible node, not terminating, oldest first.
pub struct NodePods {
    pub node: String,
    pub pods: Vec<Arc<Pod>>,
}

/// What the rolling update does this round.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Old pods to delete.
    pub delete: Vec<String>,
    /// Nodes to create a new pod on (surge only; otherwise the manage step creates them).
    pub create_on: Vec<String>,
}

/// An int-or-percent of `total`, percentages rounded up as upstream does for DaemonSets.
pub fn scaled(v: Option<&IntOrString>, total: usize, default: usize) -> usize {
    match v {
        Some(IntOrString::Int(i)) => (*i).max(0) as usize,
        Some(IntOrString::String(s)) => {
            let pct: usize = s.trim_end_matches('%').parse().unwrap_or(0);
            (pct * total).div_ceil(100)
        }
        None => default,
    }
}

fn name_of(p: &Pod) -> String {
    p.metadata.name.clone().unwrap_or_default()
}

fn updated(p: &Pod, hash: &str) -> bool {
    p.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(super::REVISION_LABEL))
        .is_some_and(|h| h == hash)
}

/// Plan one round. `max_unavailable` is used only without surge (upstream requires it to be 0
/// when `max_surge` is set).
pub fn plan(
    nodes: &[NodePods],
    hash: &str,
    max_surge: usize,
    max_unavailable: usize,
    available: impl Fn(&Pod) -> bool,
) -> Plan {
    let mut out = Plan::default();
    if max_surge == 0 {
        let max_unavailable = max_unavailable.max(1);
        let unavailable = nodes
            .iter()
            .filter(|n| !n.pods.first().is_some_and(|p| available(p)))
            .count();
        let mut budget = max_unavailable.saturating_sub(unavailable);
        let mut available_old = Vec::new();
        for n in nodes {
            let Some(p) = n.pods.first() else { continue };
            if updated(p, hash) {
                continue;
            }
            if !available(p) {
                out.delete.push(name_of(p));
            } else {
                available_old.push(name_of(p));
            }
        }
        for name in available_old {
            if budget == 0 {
                break;
            }
            budget -= 1;
            out.delete.push(name);
        }
        return out;
    }
    let mut surging = 0;
    let mut candidates = Vec::new();
    for n in nodes {
        let new = n.pods.iter().find(|p| updated(p, hash));
        let old = n.pods.iter().find(|p| !updated(p, hash));
        match (old, new) {
            (None, _) => {}
            (Some(old), None) => {
                if available(old) {
                    candidates.push(n.node.clone());
                } else {
                    out.create_on.push(n.node.clone());
                }
            }
            (Some(old), Some(new)) => {
                surging += 1;
                if available(new) {
                    out.delete.push(name_of(old));
                }
            }
        }
    }
    let room = max_surge.saturating_sub(surging).min(candidates.len());
    out.create_on.extend(candidates.into_iter().take(room));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods;
    use serde_json::json;

    fn pod(name: &str, hash: &str, ready: bool) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "labels": {"controller-revision-hash": hash}},
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}
            }))
            .unwrap(),
        )
    }

    fn node(name: &str, pods: Vec<Arc<Pod>>) -> NodePods {
        NodePods {
            node: name.into(),
            pods,
        }
    }

    fn ready(p: &Pod) -> bool {
        pods::is_ready(p)
    }

    #[test]
    fn surge_starts_new_pods_beside_old_ones_within_max_surge() {
        let nodes = vec![
            node("a", vec![pod("a-old", "v1", true)]),
            node("b", vec![pod("b-old", "v1", true)]),
            node("c", vec![pod("c-old", "v1", true)]),
        ];
        let p = plan(&nodes, "v2", 2, 0, ready);
        assert_eq!(p.create_on, ["a", "b"]);
        assert!(p.delete.is_empty());
    }

    #[test]
    fn surge_deletes_the_old_pod_once_the_new_one_is_available() {
        let nodes = vec![
            node(
                "a",
                vec![pod("a-old", "v1", true), pod("a-new", "v2", true)],
            ),
            node(
                "b",
                vec![pod("b-old", "v1", true), pod("b-new", "v2", false)],
            ),
            node("c", vec![pod("c-old", "v1", true)]),
            node("d", vec![pod("d-old", "v1", false)]),
        ];
        let p = plan(&nodes, "v2", 2, 0, ready);
        assert_eq!(p.delete, ["a-old"]);
        // d's old pod is unavailable: replaced at once; c waits for room (2 nodes surging).
        assert_eq!(p.create_on, ["d"]);
    }

    #[test]
    fn without_surge_deletes_within_max_unavailable() {
        let nodes = vec![
            node("a", vec![pod("a-old", "v1", true)]),
            node("b", vec![pod("b-old", "v1", true)]),
            node("c", vec![pod("c-old", "v1", false)]),
        ];
        let p = plan(&nodes, "v2", 0, 2, ready);
        assert_eq!(p.delete, ["c-old", "a-old"]);
        assert!(p.create_on.is_empty());
    }

    #[test]
    fn percentages_round_up() {
        let pct = IntOrString::String("10%".into());
        assert_eq!(scaled(Some(&pct), 15, 0), 2);
        assert_eq!(scaled(None, 15, 1), 1);
        assert_eq!(scaled(Some(&IntOrString::Int(3)), 15, 0), 3);
    }
}
