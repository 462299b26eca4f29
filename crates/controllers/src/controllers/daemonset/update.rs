//! The DaemonSet RollingUpdate plan, as upstream's controller makes it. It runs only when the
//! manage step had nothing to do, and sees every node holding daemon pods (terminating ones
//! included).
//!
//! Without surge (`maxSurge` 0): an old pod that is not available is replaced freely; available
//! old pods are deleted while fewer than `maxUnavailable` nodes are unavailable (a node counts
//! as unavailable while its pod terminates, while its new pod is not yet available, or while it
//! holds both an old and a new pod); the manage step then creates the new pod on the emptied
//! node.
//!
//! With surge (`maxSurge` > 0, `maxUnavailable` 0): a node keeps its old pod while a new one
//! starts beside it, on at most `maxSurge` nodes at once; the old pod is deleted once the new one
//! is available. A node whose old pod is not available gets its new pod at once, outside the
//! surge budget. Old pods on nodes the daemon no longer belongs on go only while enough daemons
//! elsewhere are available.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::sync::Arc;

/// The daemon pods on one node, terminating ones included, oldest first.
pub struct NodePods {
    pub node: String,
    /// A new daemon may be created on the node.
    pub should_run: bool,
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

/// The numbers a round works with.
pub struct Budget {
    pub max_surge: usize,
    pub max_unavailable: usize,
    /// Nodes that should run the daemon.
    pub desired: usize,
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

/// A node's (new, old) pod, not counting terminating ones; `None` when it holds more than
/// one of either (the manage step sorts that out).
fn new_and_old<'a>(
    pods: &'a [Arc<Pod>],
    updated: &impl Fn(&Pod) -> bool,
) -> Option<(Option<&'a Pod>, Option<&'a Pod>)> {
    let (mut new, mut old) = (None, None);
    for p in pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
    {
        let slot = if updated(p) { &mut new } else { &mut old };
        if slot.is_some() {
            return None;
        }
        *slot = Some(p.as_ref());
    }
    Some((new, old))
}

/// Plan one round. `max_unavailable` is used only without surge (upstream requires it to be 0
/// when `max_surge` is set).
pub fn plan(
    nodes: &[NodePods],
    budget: &Budget,
    updated: impl Fn(&Pod) -> bool,
    available: impl Fn(&Pod) -> bool,
) -> Plan {
    if budget.max_surge == 0 {
        plan_without_surge(nodes, budget.max_unavailable.max(1), updated, available)
    } else {
        plan_with_surge(nodes, budget, updated, available)
    }
}

fn plan_without_surge(
    nodes: &[NodePods],
    max_unavailable: usize,
    updated: impl Fn(&Pod) -> bool,
    available: impl Fn(&Pod) -> bool,
) -> Plan {
    let mut out = Plan::default();
    let mut unavailable = 0;
    let mut candidates = Vec::new();
    for n in nodes {
        match new_and_old(&n.pods, &updated) {
            None | Some((None, None)) | Some((Some(_), Some(_))) => unavailable += 1,
            Some((Some(new), None)) => {
                if !available(new) {
                    unavailable += 1;
                }
            }
            Some((None, Some(old))) => {
                if available(old) {
                    candidates.push(name_of(old));
                } else {
                    out.delete.push(name_of(old));
                }
            }
        }
    }
    let room = max_unavailable.saturating_sub(unavailable);
    out.delete.extend(candidates.into_iter().take(room));
    out
}

fn plan_with_surge(
    nodes: &[NodePods],
    budget: &Budget,
    updated: impl Fn(&Pod) -> bool,
    available: impl Fn(&Pod) -> bool,
) -> Plan {
    let mut out = Plan::default();
    let mut surging = 0;
    let mut available_nodes: usize = 0;
    let mut candidates = Vec::new();
    let mut leaving = Vec::new();
    for n in nodes {
        let Some((new, old)) = new_and_old(&n.pods, &updated) else {
            surging += 1;
            continue;
        };
        if old.or(new).is_some_and(&available) {
            available_nodes += 1;
        }
        match (old, new) {
            (None, _) => {}
            (Some(old), None) => match (available(old), n.should_run) {
                (false, false) => out.delete.push(name_of(old)),
                (false, true) => out.create_on.push(n.node.clone()),
                (true, false) => leaving.push(name_of(old)),
                (true, true) => candidates.push(n.node.clone()),
            },
            (Some(old), Some(new)) => {
                if available(new) {
                    out.delete.push(name_of(old));
                } else {
                    surging += 1;
                }
            }
        }
    }
    if let Some(spare) = available_nodes.checked_sub(budget.desired) {
        out.delete.extend(leaving.into_iter().take(spare));
    }
    let room = budget.max_surge.saturating_sub(surging);
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
            should_run: true,
            pods,
        }
    }

    fn ready(p: &Pod) -> bool {
        pods::is_ready(p)
    }

    fn v2(p: &Pod) -> bool {
        p.metadata.labels.as_ref().unwrap()["controller-revision-hash"] == "v2"
    }

    fn budget(max_surge: usize, max_unavailable: usize, desired: usize) -> Budget {
        Budget {
            max_surge,
            max_unavailable,
            desired,
        }
    }

    fn terminating(p: Arc<Pod>) -> Arc<Pod> {
        let mut p = (*p).clone();
        p.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            jiff::Timestamp::now(),
        ));
        Arc::new(p)
    }

    #[test]
    fn surge_starts_new_pods_beside_old_ones_within_max_surge() {
        let nodes = vec![
            node("a", vec![pod("a-old", "v1", true)]),
            node("b", vec![pod("b-old", "v1", true)]),
            node("c", vec![pod("c-old", "v1", true)]),
        ];
        let p = plan(&nodes, &budget(2, 0, 3), v2, ready);
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
        let p = plan(&nodes, &budget(2, 0, 4), v2, ready);
        assert_eq!(p.delete, ["a-old"]);
        // d's old pod is unavailable: replaced at once; only b still surges (a's new pod is
        // available), so c gets the one free place.
        assert_eq!(p.create_on, ["d", "c"]);
        let p = plan(&nodes, &budget(1, 0, 4), v2, ready);
        assert_eq!(p.create_on, ["d"], "c waits while b surges");
    }

    #[test]
    fn without_surge_replaces_unavailable_old_pods_freely_and_available_ones_within_max_unavailable()
     {
        let nodes = vec![
            node("a", vec![pod("a-old", "v1", true)]),
            node("b", vec![pod("b-old", "v1", true)]),
            node("c", vec![pod("c-old", "v1", false)]),
            node("d", vec![pod("d-old", "v1", true)]),
        ];
        let p = plan(&nodes, &budget(0, 2, 4), v2, ready);
        assert_eq!(p.delete, ["c-old", "a-old", "b-old"]);
        assert!(p.create_on.is_empty());
    }

    #[test]
    fn without_surge_a_terminating_or_unready_new_pod_uses_up_max_unavailable() {
        let nodes = vec![
            node("a", vec![terminating(pod("a-old", "v1", true))]),
            node("b", vec![pod("b-new", "v2", false)]),
            node("c", vec![pod("c-old", "v1", true)]),
        ];
        let p = plan(&nodes, &budget(0, 2, 3), v2, ready);
        assert!(p.delete.is_empty(), "{p:?}");
        let p = plan(&nodes, &budget(0, 3, 3), v2, ready);
        assert_eq!(p.delete, ["c-old"]);
    }

    #[test]
    fn surge_removes_old_pods_from_nodes_they_no_longer_belong_on_only_when_enough_are_available() {
        let mut leaving = node("x", vec![pod("x-old", "v1", true)]);
        leaving.should_run = false;
        let nodes = vec![node("a", vec![pod("a-new", "v2", true)]), leaving];
        let p = plan(&nodes, &budget(1, 0, 1), v2, ready);
        assert_eq!(p.delete, ["x-old"]);
        let p = plan(&nodes, &budget(1, 0, 3), v2, ready);
        assert!(p.delete.is_empty());
    }

    #[test]
    fn percentages_round_up() {
        let pct = IntOrString::String("10%".into());
        assert_eq!(scaled(Some(&pct), 15, 0), 2);
        assert_eq!(scaled(None, 15, 1), 1);
        assert_eq!(scaled(Some(&IntOrString::Int(3)), 15, 0), 3);
    }
}
