//! InterPodAffinity: required pod affinity and anti-affinity of the incoming pod, and the
//! required anti-affinity of pods already placed (filter); preferred terms both ways (score).

use crate::cache::Cache;
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use std::collections::HashMap;

pub const AFFINITY: &str = "node(s) didn't match pod affinity rules";
pub const ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
pub const EXISTING_ANTI_AFFINITY: &str = "node(s) didn't satisfy existing pods anti-affinity rules";

/// Counts of matching pods per topology domain, computed once per attempt.
#[derive(Debug, Default)]
pub struct State {
    /// (topology key, value) where an existing pod's anti-affinity forbids the incoming pod.
    existing_anti: HashMap<(String, String), i64>,
    /// For each required affinity term: matching pods per value of its topology key.
    affinity: Vec<HashMap<String, i64>>,
    /// For each required anti-affinity term: matching pods per value.
    anti: Vec<HashMap<String, i64>>,
    /// Preferred-term score per (key, value).
    preferred: HashMap<(String, String), i64>,
}

/// Compute the state for `pod` over every placed pod.
pub fn prepare(pod: &PodInfo, cache: &Cache) -> State {
    let mut st = State {
        affinity: vec![HashMap::new(); pod.affinity.len()],
        anti: vec![HashMap::new(); pod.anti_affinity.len()],
        ..Default::default()
    };
    let own_terms = pod.has_pod_affinity();
    for node in cache.nodes.iter().filter(|n| n.present) {
        if !own_terms && node.with_affinity == 0 {
            continue;
        }
        for existing in &node.pods {
            if existing.uid == pod.uid {
                continue;
            }
            let domain = |key: &str| node.labels.get(key).map(|v| (key.to_string(), v.clone()));
            let add = |map: &mut HashMap<(String, String), i64>, key: &str, delta: i64| {
                if let Some(d) = domain(key) {
                    *map.entry(d).or_default() += delta;
                }
            };
            if existing.has_pod_affinity() {
                for t in existing.anti_affinity.iter().filter(|t| t.matches(pod)) {
                    add(&mut st.existing_anti, &t.topology_key, 1);
                }
                for t in existing.affinity.iter().filter(|t| t.matches(pod)) {
                    add(&mut st.preferred, &t.topology_key, 1);
                }
                for (w, t) in existing
                    .preferred_affinity
                    .iter()
                    .filter(|(_, t)| t.matches(pod))
                {
                    add(&mut st.preferred, &t.topology_key, *w as i64);
                }
                for (w, t) in existing
                    .preferred_anti_affinity
                    .iter()
                    .filter(|(_, t)| t.matches(pod))
                {
                    add(&mut st.preferred, &t.topology_key, -(*w as i64));
                }
            }
            if !own_terms {
                continue;
            }
            for (i, t) in pod
                .affinity
                .iter()
                .enumerate()
                .filter(|(_, t)| t.matches(existing))
            {
                if let Some(v) = node.labels.get(&t.topology_key) {
                    *st.affinity[i].entry(v.clone()).or_default() += 1;
                }
            }
            for (i, t) in pod
                .anti_affinity
                .iter()
                .enumerate()
                .filter(|(_, t)| t.matches(existing))
            {
                if let Some(v) = node.labels.get(&t.topology_key) {
                    *st.anti[i].entry(v.clone()).or_default() += 1;
                }
            }
            for (w, t) in pod
                .preferred_affinity
                .iter()
                .filter(|(_, t)| t.matches(existing))
            {
                add(&mut st.preferred, &t.topology_key, *w as i64);
            }
            for (w, t) in pod
                .preferred_anti_affinity
                .iter()
                .filter(|(_, t)| t.matches(existing))
            {
                add(&mut st.preferred, &t.topology_key, -(*w as i64));
            }
        }
    }
    st
}

/// Filter: (reason, unresolvable).
pub fn filter(pod: &PodInfo, st: &State, node: &NodeInfo) -> Option<(&'static str, bool)> {
    if !pod.affinity.is_empty() {
        let none_anywhere = st.affinity.iter().all(|m| m.values().all(|c| *c == 0));
        let self_match = pod.affinity.iter().all(|t| t.matches(pod));
        let ok = pod.affinity.iter().enumerate().all(|(i, t)| {
            node.labels.get(&t.topology_key).is_some_and(|v| {
                st.affinity[i].get(v).copied().unwrap_or(0) > 0 || (none_anywhere && self_match)
            })
        });
        if !ok {
            return Some((AFFINITY, true));
        }
    }
    for (i, t) in pod.anti_affinity.iter().enumerate() {
        if let Some(v) = node.labels.get(&t.topology_key)
            && st.anti[i].get(v).copied().unwrap_or(0) > 0
        {
            return Some((ANTI_AFFINITY, false));
        }
    }
    if st
        .existing_anti
        .keys()
        .any(|(k, v)| node.labels.get(k) == Some(v))
    {
        return Some((EXISTING_ANTI_AFFINITY, false));
    }
    None
}

/// Raw score: the preferred-term weights of the node's domains (min-max normalized later).
pub fn score(st: &State, node: &NodeInfo) -> i64 {
    st.preferred
        .iter()
        .filter(|((k, v), _)| node.labels.get(k) == Some(v))
        .map(|(_, s)| *s)
        .sum()
}

/// Whether the state has anything to score.
pub fn has_scores(st: &State) -> bool {
    !st.preferred.is_empty()
}
