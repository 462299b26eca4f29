//! PodTopologySpread: `DoNotSchedule` constraints filter, `ScheduleAnyway` constraints (and,
//! for pods without constraints, the default spreading of pods of the same Service or
//! controller: maxSkew 3 per host, 5 per zone) score.

use super::node_affinity;
use super::taint_toleration::tolerates;
use crate::cache::Cache;
use crate::node_info::NodeInfo;
use crate::pod_info::{PodInfo, SpreadConstraint};
use rkube_machinery::selector::LabelSelector;
use std::collections::{BTreeMap, HashMap};

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

/// Matching pods per topology value, for each constraint, and how many domains hold each
/// count (so the smallest count, which the skew is measured against, is read without a scan
/// of every domain on every node, and stays right as preemption and nominated pods add and
/// remove pods).
#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub constraints: Vec<SpreadConstraint>,
    pub per_value: Vec<HashMap<String, i64>>,
    /// For each constraint: count → number of domains with that count.
    histogram: Vec<BTreeMap<i64, usize>>,
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

/// Whether constraint `c` of `pod` counts `other`.
fn counted(pod: &PodInfo, c: &SpreadConstraint, other: &PodInfo) -> bool {
    !other.terminating && other.namespace == pod.namespace && c.selector.matches(&other.labels)
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
            let n = node.pods.iter().filter(|p| counted(pod, c, p)).count() as i64;
            *per_value[i].entry(value.clone()).or_insert(0) += n;
        }
    }
    let histogram = per_value
        .iter()
        .map(|domains: &HashMap<String, i64>| {
            let mut h = BTreeMap::new();
            for n in domains.values() {
                *h.entry(*n).or_insert(0) += 1;
            }
            h
        })
        .collect();
    Counts {
        constraints,
        per_value,
        histogram,
    }
}

impl Counts {
    /// Count `other` on `node` (`delta` 1) or stop counting it (`delta` -1), as upstream's
    /// AddPod/RemovePod extensions do for preemption's trial removals and nominated pods.
    pub fn update(&mut self, pod: &PodInfo, other: &PodInfo, node: &NodeInfo, delta: i64) {
        if !node.present || !node_eligible(pod, &self.constraints, node) {
            return;
        }
        for (i, c) in self.constraints.iter().enumerate() {
            if !counted(pod, c, other) {
                continue;
            }
            let value = &node.labels[&c.topology_key];
            let h = &mut self.histogram[i];
            let before = match self.per_value[i].get_mut(value) {
                Some(slot) => {
                    let before = *slot;
                    *slot += delta;
                    if let Some(n) = h.get_mut(&before) {
                        *n -= 1;
                        if *n == 0 {
                            h.remove(&before);
                        }
                    }
                    before
                }
                None => {
                    self.per_value[i].insert(value.clone(), delta);
                    0
                }
            };
            *h.entry(before + delta).or_insert(0) += 1;
        }
    }

    /// The smallest count of constraint `i` over its domains.
    fn min(&self, i: usize) -> i64 {
        self.histogram[i]
            .first_key_value()
            .map(|(n, _)| *n)
            .unwrap_or(0)
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
            counts.min(i)
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
