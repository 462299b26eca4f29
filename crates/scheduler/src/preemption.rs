//! Preemption (upstream's DefaultPreemption): when no node fits, find a node where removing
//! lower-priority pods would make room, keep as many of them as still fit (PodDisruptionBudget-
//! protected ones first), and prefer the node whose victims violate the fewest budgets, then
//! have the lowest top priority, the smallest priority sum and the fewest pods.

use crate::cache::Cache;
use crate::node_info::NodeInfo;
use crate::plugins::{self, Failure, FilterState, Prepared};
use crate::pod_info::PodInfo;
use crate::schedule::{Diagnosis, fit_message};
use rkube_machinery::selector::LabelSelector;
use std::sync::Arc;

/// A PodDisruptionBudget as preemption sees it.
#[derive(Debug, Clone)]
pub struct Budget {
    pub namespace: String,
    pub selector: LabelSelector,
    pub disruptions_allowed: i32,
}

/// The chosen node and the pods to remove from it.
#[derive(Debug)]
pub struct Plan {
    pub node: String,
    pub victims: Vec<Arc<PodInfo>>,
}

struct Candidate {
    node: String,
    victims: Vec<Arc<PodInfo>>,
    violations: usize,
}

const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
const NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// Why preemption made no plan.
#[derive(Debug)]
pub struct Refusal {
    /// The "preemption: ..." text of the FailedScheduling message.
    pub message: String,
    /// No node has candidates: the pod's nomination, if any, no longer holds and is cleared
    /// (upstream overrides it with an empty node). False when the pod was not eligible to
    /// preempt at all, which leaves the nomination as it is.
    pub clear_nomination: bool,
}

impl Refusal {
    fn not_eligible(why: &str) -> Self {
        Self {
            message: format!("preemption: not eligible due to {why}."),
            clear_nomination: false,
        }
    }
}

/// Try to make room for `p.pod`.
pub fn preempt(
    p: &Prepared,
    cache: &Cache,
    diag: &Diagnosis,
    budgets: &[Budget],
) -> Result<Plan, Refusal> {
    let pod = &p.pod;
    if !pod.preempts {
        return Err(Refusal::not_eligible("preemptionPolicy=Never"));
    }
    // A pod whose earlier preemption is still taking effect waits for it, unless its
    // nominated node no longer suits it at all.
    if let Some(name) = pod.nominated_node.as_deref()
        && let Some(i) = cache.position(name)
        && !diag.failures.get(&i).is_some_and(|f| f.unresolvable)
        && cache.nodes[i]
            .pods
            .iter()
            .any(|v| v.terminating && v.priority < pod.priority)
    {
        return Err(Refusal::not_eligible(
            "a terminating pod on the nominated node",
        ));
    }
    let mut statuses: Vec<Failure> = Vec::new();
    let mut candidates = Vec::new();
    let mut state = p.state.clone();
    for (i, node) in cache.nodes.iter().enumerate() {
        if !node.present {
            continue;
        }
        match diag.failures.get(&i) {
            Some(f) if !f.unresolvable => match victims_on(p, &mut state, node, budgets) {
                Ok(c) => candidates.push(c),
                Err(f) => statuses.push(f),
            },
            _ => statuses.push(Failure {
                reasons: vec![NOT_HELPFUL.into()],
                unresolvable: true,
                wake_on: 0,
            }),
        }
    }
    if candidates.is_empty() {
        return Err(Refusal {
            message: format!(
                "preemption: {}",
                fit_message(diag.nodes, statuses.iter(), None)
            ),
            clear_nomination: true,
        });
    }
    let score = |c: &Candidate| {
        let top = c
            .victims
            .iter()
            .map(|v| v.priority)
            .max()
            .unwrap_or(i32::MIN);
        let sum: i64 = c
            .victims
            .iter()
            .map(|v| v.priority as i64 + i32::MAX as i64 + 1)
            .sum();
        (c.violations, top, sum, c.victims.len())
    };
    let best = candidates
        .into_iter()
        .min_by(|a, b| score(a).cmp(&score(b)))
        .expect("not empty");
    Ok(Plan {
        node: best.node,
        victims: best.victims,
    })
}

fn violates(pod: &PodInfo, budgets: &mut [(Budget, i32)]) -> bool {
    let mut violating = false;
    for (b, left) in budgets.iter_mut() {
        if b.namespace == pod.namespace && b.selector.matches(&pod.labels) {
            *left -= 1;
            if *left < 0 {
                violating = true;
            }
        }
    }
    violating
}

/// The fewest lower-priority pods of `node` whose removal lets the pod fit. `state` is the
/// attempt's filter state, updated as pods are removed and put back (and left as it was).
fn victims_on(
    p: &Prepared,
    state: &mut FilterState,
    node: &NodeInfo,
    budgets: &[Budget],
) -> Result<Candidate, Failure> {
    let pod = &p.pod;
    let potential: Vec<Arc<PodInfo>> = node
        .pods
        .iter()
        .filter(|v| v.priority < pod.priority)
        .cloned()
        .collect();
    if potential.is_empty() {
        return Err(Failure {
            reasons: vec![NO_VICTIMS.into()],
            unresolvable: true,
            wake_on: 0,
        });
    }
    let mut trial = node.clone();
    for v in &potential {
        trial.remove_pod(&v.uid);
        state.remove_pod(pod, v, node);
    }
    let outcome = reprieve(p, state, &mut trial, &potential, budgets);
    // Put the state back: count again every pod still missing from the trial node.
    let missing = match &outcome {
        Ok((victims, _)) => victims,
        Err(_) => &potential,
    };
    for v in missing {
        state.add_pod(pod, v, node);
    }
    let (victims, violations) = outcome?;
    Ok(Candidate {
        node: node.name.clone(),
        victims,
        violations,
    })
}

/// With every lower-priority pod removed from `trial`, check the pod fits, then put back as
/// many as still let it fit (budget-violating ones first, then by priority): the victims are
/// the ones left out, and how many of them a budget protects.
fn reprieve(
    p: &Prepared,
    state: &mut FilterState,
    trial: &mut NodeInfo,
    potential: &[Arc<PodInfo>],
    budgets: &[Budget],
) -> Result<(Vec<Arc<PodInfo>>, usize), Failure> {
    let pod = &p.pod;
    if let Some(f) = plugins::filter_with(p, state, trial) {
        return Err(f);
    }
    // Highest priority first: they are the ones most worth keeping.
    let mut potential = potential.to_vec();
    potential.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then(a.start_time.cmp(&b.start_time))
    });
    let mut remaining: Vec<(Budget, i32)> = budgets
        .iter()
        .map(|b| (b.clone(), b.disruptions_allowed))
        .collect();
    let (violating, fine): (Vec<_>, Vec<_>) = potential
        .into_iter()
        .partition(|v| violates(v, &mut remaining));
    let mut victims = Vec::new();
    let mut violations = 0;
    for (group, is_violating) in [(violating, true), (fine, false)] {
        for v in group {
            trial.add_pod(v.clone());
            state.add_pod(pod, &v, trial);
            if plugins::filter_with(p, state, trial).is_some() {
                trial.remove_pod(&v.uid);
                state.remove_pod(pod, &v, trial);
                violations += is_violating as usize;
                victims.push(v);
            }
        }
    }
    Ok((victims, violations))
}
