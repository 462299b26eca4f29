//! PodTopologySpread: `DoNotSchedule` constraints filter, `ScheduleAnyway` constraints (and,
//! for pods without constraints, the default spreading of pods of the same Service or
//! controller: maxSkew 3 per host, 5 per zone) score.

use super::node_affinity;
use super::taint_toleration::tolerates;
use crate::cache::Cache;
use crate::node_info::NodeInfo;
use crate::pod_info::{PodInfo, SpreadConstraint};
use rkube_machinery::selector::LabelSelector;
use std::collections::HashMap;

pub const REASON: &str = "node(s) didn't match pod topology spread constraints";
pub const REASON_LABEL: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

/// The default constraints of pods selected by a Service or controller.
pub fn default_constraints(selector: LabelSelector) -> Vec<SpreadConstraint> {
    [
        ("kubernetes.io/hostname", 3),
        ("topology.kubernetes.io/zone", 5),
    ]
    .into_iter()
    .map(|(key, skew)| SpreadConstraint {
        max_skew: skew,
        topology_key: key.into(),
        hard: false,
        selector: selector.clone(),
        min_domains: 1,
        honor_node_affinity: true,
        honor_taints: false,
    })
    .collect()
}

/// Matching pods per topology value, for each constraint.
#[derive(Debug, Default)]
pub struct Counts {
    pub constraints: Vec<SpreadConstraint>,
    pub per_value: Vec<HashMap<String, i64>>,
}

fn node_eligible(pod: &PodInfo, c: &[SpreadConstraint], node: &NodeInfo) -> bool {
    c.iter().all(|c| node.labels.contains_key(&c.topology_key))
        && c.iter()
            .all(|c| !c.honor_node_affinity || node_affinity::required_matches(pod, node))
        && c.iter().all(|c| {
            !c.honor_taints
                || node
                    .taints
                    .iter()
                    .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
                    .all(|taint| pod.tolerations.iter().any(|t| tolerates(t, taint)))
        })
}

/// Count, over the nodes the constraints apply to, the pods each constraint selects.
pub fn count(pod: &PodInfo, constraints: Vec<SpreadConstraint>, cache: &Cache) -> Counts {
    let mut per_value = vec![HashMap::new(); constraints.len()];
    for node in cache.nodes.iter().filter(|n| n.present) {
        if !node_eligible(pod, &constraints, node) {
            continue;
        }
        for (i, c) in constraints.iter().enumerate() {
            let value = &node.labels[&c.topology_key];
            let n = node
                .pods
                .iter()
                .filter(|p| {
                    !p.terminating && p.namespace == pod.namespace && c.selector.matches(&p.labels)
                })
                .count() as i64;
            *per_value[i].entry(value.clone()).or_insert(0) += n;
        }
    }
    Counts {
        constraints,
        per_value,
    }
}

/// Filter with the hard constraints' counts.
pub fn filter(pod: &PodInfo, counts: &Counts, node: &NodeInfo) -> Option<(&'static str, bool)> {
    for (i, c) in counts.constraints.iter().enumerate() {
        let Some(value) = node.labels.get(&c.topology_key) else {
            return Some((REASON_LABEL, true));
        };
        let domains = &counts.per_value[i];
        let min = if (domains.len() as i32) < c.min_domains {
            0
        } else {
            domains.values().copied().min().unwrap_or(0)
        };
        let own = c.selector.matches(&pod.labels) as i64;
        let here = domains.get(value).copied().unwrap_or(0);
        if here + own - min > c.max_skew as i64 {
            return Some((REASON, false));
        }
    }
    None
}

/// Raw score for soft constraints (lower is better; `None` when the node lacks a key).
pub fn score(counts: &Counts, node: &NodeInfo) -> Option<i64> {
    let mut total = 0.0;
    for (i, c) in counts.constraints.iter().enumerate() {
        let value = node.labels.get(&c.topology_key)?;
        let weight = ((counts.per_value[i].len() + 2) as f64).ln();
        let n = counts.per_value[i].get(value).copied().unwrap_or(0) as f64;
        total += n * weight + (c.max_skew - 1) as f64;
    }
    Some(total.round() as i64)
}
