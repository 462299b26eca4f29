//! InterPodAffinity: required pod affinity and anti-affinity of the incoming pod, and the
//! required anti-affinity of pods already placed (filter); preferred terms both ways (score).

use crate::cache::Cache;
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

pub const AFFINITY: &str = "node(s) didn't match pod affinity rules";
pub const ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
pub const EXISTING_ANTI_AFFINITY: &str = "node(s) didn't satisfy existing pods anti-affinity rules";

/// Counts of matching pods per topology domain that the filter reads, computed once per
/// attempt and updated as preemption and nominated pods add and remove pods. Entries that
/// drop to zero are removed, so an empty map means "no such pod anywhere".
#[derive(Debug, Default, Clone)]
pub struct State {
    /// (topology key, value) where an existing pod's anti-affinity forbids the incoming pod.
    existing_anti: HashMap<(String, String), i64>,
    /// For each required affinity term: pods matching *all* the terms, per value of the
    /// term's topology key.
    affinity: Vec<HashMap<String, i64>>,
    /// For each required anti-affinity term: matching pods per value.
    anti: Vec<HashMap<String, i64>>,
}

/// Preferred-term score per (key, value) (scoring only; nominated pods and preemption do not
/// change it).
#[derive(Debug, Default)]
pub struct Preferred(HashMap<(String, String), i64>);

fn bump<K: std::hash::Hash + Eq>(map: &mut HashMap<K, i64>, key: K, delta: i64) {
    match map.entry(key) {
        Entry::Occupied(mut e) => {
            *e.get_mut() += delta;
            if *e.get() == 0 {
                e.remove();
            }
        }
        Entry::Vacant(e) => {
            e.insert(delta);
        }
    }
}

impl State {
    fn new(pod: &PodInfo) -> Self {
        Self {
            affinity: vec![HashMap::new(); pod.affinity.len()],
            anti: vec![HashMap::new(); pod.anti_affinity.len()],
            ..Default::default()
        }
    }

    /// Count `other` on `node` (`delta` 1) or stop counting it (`delta` -1) for the incoming
    /// `pod`, as upstream's AddPod/RemovePod extensions do.
    pub fn update(&mut self, pod: &PodInfo, other: &PodInfo, node: &NodeInfo, delta: i64) {
        if other.uid == pod.uid {
            return;
        }
        for t in other.anti_affinity.iter().filter(|t| t.matches(pod)) {
            if let Some(v) = node.labels.get(&t.topology_key) {
                bump(
                    &mut self.existing_anti,
                    (t.topology_key.clone(), v.clone()),
                    delta,
                );
            }
        }
        if !pod.affinity.is_empty() && pod.affinity.iter().all(|t| t.matches(other)) {
            for (i, t) in pod.affinity.iter().enumerate() {
                if let Some(v) = node.labels.get(&t.topology_key) {
                    bump(&mut self.affinity[i], v.clone(), delta);
                }
            }
        }
        for (i, t) in pod.anti_affinity.iter().enumerate() {
            if t.matches(other)
                && let Some(v) = node.labels.get(&t.topology_key)
            {
                bump(&mut self.anti[i], v.clone(), delta);
            }
        }
    }
}

/// Compute the filter state and the preferred scores for `pod` over every placed pod.
pub fn prepare(pod: &PodInfo, cache: &Cache) -> (State, Preferred) {
    let mut st = State::new(pod);
    let mut preferred = HashMap::new();
    let own_terms = pod.has_pod_affinity();
    for node in cache.nodes.iter().filter(|n| n.present) {
        if !own_terms && node.with_affinity == 0 {
            continue;
        }
        for existing in &node.pods {
            if existing.uid == pod.uid {
                continue;
            }
            st.update(pod, existing, node, 1);
            let mut add = |key: &str, delta: i64| {
                if let Some(v) = node.labels.get(key) {
                    *preferred.entry((key.to_string(), v.clone())).or_default() += delta;
                }
            };
            if existing.has_pod_affinity() {
                for t in existing.affinity.iter().filter(|t| t.matches(pod)) {
                    add(&t.topology_key, 1);
                }
                for (w, t) in existing
                    .preferred_affinity
                    .iter()
                    .filter(|(_, t)| t.matches(pod))
                {
                    add(&t.topology_key, *w as i64);
                }
                for (w, t) in existing
                    .preferred_anti_affinity
                    .iter()
                    .filter(|(_, t)| t.matches(pod))
                {
                    add(&t.topology_key, -(*w as i64));
                }
            }
            if !own_terms {
                continue;
            }
            for (w, t) in pod
                .preferred_affinity
                .iter()
                .filter(|(_, t)| t.matches(existing))
            {
                add(&t.topology_key, *w as i64);
            }
            for (w, t) in pod
                .preferred_anti_affinity
                .iter()
                .filter(|(_, t)| t.matches(existing))
            {
                add(&t.topology_key, -(*w as i64));
            }
        }
    }
    (st, Preferred(preferred))
}

/// Filter: (reason, unresolvable). Required affinity needs, in every term's domain of the
/// node, a pod matching all the terms; the first pod of a group whose terms select itself
/// passes when no pod matches all the terms anywhere.
pub fn filter(pod: &PodInfo, st: &State, node: &NodeInfo) -> Option<(&'static str, bool)> {
    if !pod.affinity.is_empty() {
        let mut all_keys = true;
        let mut pods_exist = true;
        for (i, t) in pod.affinity.iter().enumerate() {
            match node.labels.get(&t.topology_key) {
                Some(v) => pods_exist &= st.affinity[i].get(v).copied().unwrap_or(0) > 0,
                None => all_keys = false,
            }
        }
        let first_of_group = || {
            st.affinity.iter().all(HashMap::is_empty) && pod.affinity.iter().all(|t| t.matches(pod))
        };
        if !all_keys || (!pods_exist && !first_of_group()) {
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
pub fn score(st: &Preferred, node: &NodeInfo) -> i64 {
    st.0.iter()
        .filter(|((k, v), _)| node.labels.get(k) == Some(v))
        .map(|(_, s)| *s)
        .sum()
}

/// Whether the state has anything to score.
pub fn has_scores(st: &Preferred) -> bool {
    !st.0.is_empty()
}
