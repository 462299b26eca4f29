//! The default plugins, run in upstream's order. Filters stop at the first plugin that rejects
//! a node; scores are normalized to 0–100 per plugin and summed with upstream's weights
//! (TaintToleration 3, NodeAffinity 2, PodTopologySpread 2, InterPodAffinity 2,
//! NodeResourcesFit 1, NodeResourcesBalancedAllocation 1).

pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_resources;
pub mod simple;
pub mod taint_toleration;
pub mod topology_spread;
pub mod volume_binding;

use crate::cache::Cache;
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use crate::queue::events;
use rkube_machinery::selector::LabelSelector;
use std::collections::HashMap;
use std::sync::Arc;

/// Why a node was rejected.
#[derive(Debug, Clone)]
pub struct Failure {
    pub reasons: Vec<String>,
    /// Removing pods from the node cannot help (preemption skips it).
    pub unresolvable: bool,
    /// Which cluster changes could make the node fit.
    pub wake_on: u32,
}

impl Failure {
    fn one(reason: impl Into<String>, unresolvable: bool, wake_on: u32) -> Self {
        Self {
            reasons: vec![reason.into()],
            unresolvable,
            wake_on,
        }
    }
}

/// The PreFilter state the filters read: PodTopologySpread's and InterPodAffinity's counts.
/// Upstream's AddPod/RemovePod extensions keep it in step when preemption tries removing pods
/// from a node and when nominated pods are added to one ([`FilterState::add_pod`],
/// [`FilterState::remove_pod`]).
#[derive(Debug, Default, Clone)]
pub struct FilterState {
    spread: Option<topology_spread::Counts>,
    affinity: Option<inter_pod_affinity::State>,
}

impl FilterState {
    /// Count `other` as placed on `node` for the filters of `pod`.
    pub fn add_pod(&mut self, pod: &PodInfo, other: &PodInfo, node: &NodeInfo) {
        self.update(pod, other, node, 1);
    }

    /// Stop counting `other` (placed on `node`) for the filters of `pod`.
    pub fn remove_pod(&mut self, pod: &PodInfo, other: &PodInfo, node: &NodeInfo) {
        self.update(pod, other, node, -1);
    }

    fn update(&mut self, pod: &PodInfo, other: &PodInfo, node: &NodeInfo, delta: i64) {
        if let Some(c) = &mut self.spread {
            c.update(pod, other, node, delta);
        }
        if let Some(st) = &mut self.affinity {
            st.update(pod, other, node, delta);
        }
    }
}

/// Everything computed once per scheduling attempt of one pod.
pub struct Prepared {
    pub pod: Arc<PodInfo>,
    /// What the filters read (see [`filter_with`] for trial versions of it).
    pub state: FilterState,
    spread_soft: Option<topology_spread::Counts>,
    preferred: Option<inter_pod_affinity::Preferred>,
    /// Pods nominated to each node with at least this pod's priority: the filters count them
    /// on their node as if already there (upstream's two-pass filtering with nominated pods).
    nominated: HashMap<String, Vec<Arc<PodInfo>>>,
    /// VolumeBinding's view of the pod's claims, or why it rejects the pod everywhere.
    volumes: Result<Option<volume_binding::State>, String>,
}

impl Prepared {
    /// A PreFilter rejection: the pod fits no node until the cluster changes.
    pub fn pre_filter_rejection(&self) -> Option<&str> {
        self.volumes.as_ref().err().map(String::as_str)
    }

    /// The pod's claims that wait for its node (VolumeBinding's PreBind sets it on them).
    pub fn delayed_claims(&self) -> Vec<String> {
        match &self.volumes {
            Ok(Some(state)) => state.delayed_claims(),
            _ => Vec::new(),
        }
    }
}

/// Precompute what the filters and scores of `pod` need. `nominated` are the pods nominated
/// to each node; `owner_selector` is the selector of the Service or controller of the pod,
/// for default spreading; `volumes` the claims, volumes and classes VolumeBinding reads.
pub fn prepare(
    pod: Arc<PodInfo>,
    cache: &Cache,
    nominated: &HashMap<String, Vec<Arc<PodInfo>>>,
    owner_selector: Option<LabelSelector>,
    volumes: &volume_binding::Volumes,
) -> Prepared {
    let hard: Vec<_> = pod.spread.iter().filter(|c| c.hard).cloned().collect();
    let mut soft: Vec<_> = pod.spread.iter().filter(|c| !c.hard).cloned().collect();
    if pod.spread.is_empty()
        && let Some(sel) = owner_selector
    {
        soft = topology_spread::default_constraints(sel);
    }
    let spread = (!hard.is_empty()).then(|| topology_spread::count(&pod, hard, cache));
    let spread_soft = (!soft.is_empty()).then(|| {
        // Default constraints only count domains that exist; keep the ones some node has.
        let soft: Vec<_> = soft
            .into_iter()
            .filter(|c| {
                cache
                    .nodes
                    .iter()
                    .any(|n| n.present && n.labels.contains_key(&c.topology_key))
            })
            .collect();
        topology_spread::count(&pod, soft, cache)
    });
    let nominated: HashMap<String, Vec<Arc<PodInfo>>> = nominated
        .iter()
        .filter_map(|(node, pods)| {
            let pods: Vec<_> = pods
                .iter()
                .filter(|p| p.uid != pod.uid && p.priority >= pod.priority)
                .cloned()
                .collect();
            (!pods.is_empty() && cache.node(node).is_some()).then(|| (node.clone(), pods))
        })
        .collect();
    let any_affinity = pod.has_pod_affinity()
        || cache.nodes.iter().any(|n| n.with_affinity > 0)
        || nominated.values().flatten().any(|p| p.has_pod_affinity());
    let (affinity, preferred) = if any_affinity {
        let (st, pref) = inter_pod_affinity::prepare(&pod, cache);
        (Some(st), Some(pref))
    } else {
        (None, None)
    };
    let volumes = volume_binding::prepare(&pod, volumes);
    Prepared {
        pod,
        volumes,
        state: FilterState { spread, affinity },
        spread_soft,
        preferred,
        nominated,
    }
}

/// Run the filters on one node, with the attempt's own state.
pub fn filter(p: &Prepared, node: &NodeInfo) -> Option<Failure> {
    filter_with(p, &p.state, node)
}

/// Run the filters on `node` (possibly a trial copy, as preemption makes) with `state`. When
/// pods of at least this pod's priority are nominated to the node, the node must fit with them
/// counted there, and also without them (so a pod that needs them, say for affinity, does not
/// rely on pods that are not there yet), as upstream's filtering with nominated pods does.
pub fn filter_with(p: &Prepared, state: &FilterState, node: &NodeInfo) -> Option<Failure> {
    if !p.nominated.is_empty()
        && let Some(pods) = p.nominated.get(&node.name)
    {
        let mut with_nominated = node.clone();
        let mut trial = state.clone();
        for n in pods {
            with_nominated.add_pod(n.clone());
            trial.add_pod(&p.pod, n, node);
        }
        if let Some(f) = run_filters(p, &trial, &with_nominated) {
            return Some(f);
        }
    }
    run_filters(p, state, node)
}

/// The filter plugins in upstream's order, stopping at the first rejection.
fn run_filters(p: &Prepared, state: &FilterState, node: &NodeInfo) -> Option<Failure> {
    let pod = &p.pod;
    if let Some(r) = simple::node_unschedulable(pod, node) {
        return Some(Failure::one(r, true, events::NODE_UPDATE));
    }
    if let Some(r) = simple::node_name(pod, node) {
        return Some(Failure::one(r, true, 0));
    }
    if let Some(r) = taint_toleration::filter(pod, node) {
        return Some(Failure::one(
            r,
            true,
            events::NODE_ADD | events::NODE_UPDATE,
        ));
    }
    if let Some(r) = node_affinity::filter(pod, node) {
        return Some(Failure::one(
            r,
            true,
            events::NODE_ADD | events::NODE_UPDATE,
        ));
    }
    if let Some(r) = simple::node_ports(pod, node) {
        return Some(Failure::one(
            r,
            false,
            events::NODE_ADD | events::POD_DELETE,
        ));
    }
    let reasons = node_resources::filter(pod, node);
    if !reasons.is_empty() {
        return Some(Failure {
            reasons,
            unresolvable: false,
            wake_on: events::NODE_ADD | events::NODE_UPDATE | events::POD_DELETE,
        });
    }
    if let Some(r) = simple::volume_restrictions(pod, node) {
        return Some(Failure::one(
            r,
            false,
            events::NODE_ADD | events::POD_DELETE,
        ));
    }
    if let Ok(Some(state)) = &p.volumes
        && let Some(r) = volume_binding::filter(state, node)
    {
        return Some(Failure::one(
            r,
            true,
            events::VOLUME | events::NODE_ADD | events::NODE_UPDATE,
        ));
    }
    if let Some(counts) = &state.spread
        && let Some((r, unresolvable)) = topology_spread::filter(pod, counts, node)
    {
        return Some(Failure::one(r, unresolvable, events::POD_AND_NODE_CHANGES));
    }
    if let Some(st) = &state.affinity
        && let Some((r, unresolvable)) = inter_pod_affinity::filter(pod, st, node)
    {
        return Some(Failure::one(r, unresolvable, events::POD_AND_NODE_CHANGES));
    }
    None
}

/// Scale raw scores to 0–100 with the highest at 100 (or, `reverse`, the lowest).
fn normalize(raw: &mut [i64], reverse: bool) {
    let max = raw.iter().copied().max().unwrap_or(0);
    for s in raw.iter_mut() {
        let v = if max == 0 { 0 } else { *s * 100 / max };
        *s = if reverse { 100 - v } else { v };
    }
}

/// Total weighted score of each of `nodes` (indexes into `cache.nodes`).
pub fn score(p: &Prepared, cache: &Cache, nodes: &[usize]) -> Vec<i64> {
    let pod = &p.pod;
    let infos: Vec<&NodeInfo> = nodes.iter().map(|i| &cache.nodes[*i]).collect();
    let mut total: Vec<i64> = infos
        .iter()
        .map(|n| {
            node_resources::least_allocated(pod, n) + node_resources::balanced_allocation(pod, n)
        })
        .collect();
    let mut add = |raw: Vec<i64>, weight: i64, reverse: bool| {
        let mut raw = raw;
        normalize(&mut raw, reverse);
        for (t, s) in total.iter_mut().zip(raw) {
            *t += s * weight;
        }
    };
    if !pod.preferred_node_affinity.is_empty() {
        add(
            infos.iter().map(|n| node_affinity::score(pod, n)).collect(),
            2,
            false,
        );
    }
    add(
        infos
            .iter()
            .map(|n| taint_toleration::score(pod, n))
            .collect(),
        3,
        true,
    );
    if let Some(counts) = p.spread_soft.as_ref().filter(|c| !c.constraints.is_empty()) {
        let raw: Vec<Option<i64>> = infos
            .iter()
            .map(|n| topology_spread::score(counts, n))
            .collect();
        let max = raw.iter().flatten().copied().max().unwrap_or(0);
        let min = raw.iter().flatten().copied().min().unwrap_or(0);
        for (t, s) in total.iter_mut().zip(raw) {
            let v = match s {
                None => 0,
                Some(_) if max == 0 => 100,
                Some(s) => 100 * (max + min - s) / max,
            };
            *t += v * 2;
        }
    } else {
        for t in total.iter_mut() {
            *t += 200;
        }
    }
    if let Some(st) = p
        .preferred
        .as_ref()
        .filter(|st| inter_pod_affinity::has_scores(st))
    {
        let raw: Vec<i64> = infos
            .iter()
            .map(|n| inter_pod_affinity::score(st, n))
            .collect();
        let max = raw.iter().copied().max().unwrap_or(0);
        let min = raw.iter().copied().min().unwrap_or(0);
        for (t, s) in total.iter_mut().zip(raw) {
            let v = if max == min {
                0
            } else {
                (s - min) * 100 / (max - min)
            };
            *t += v * 2;
        }
    }
    total
}
