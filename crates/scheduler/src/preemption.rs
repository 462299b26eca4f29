//! Preemption (upstream's DefaultPreemption): when no node fits, find a node where removing
//! lower-priority pods would make room, keep as many of them as still fit (PodDisruptionBudget-
//! protected ones first), and prefer the node whose victims violate the fewest budgets, then
//! have the lowest top priority, the smallest priority sum and the fewest pods.

use crate::cache::Cache;
use crate::node_info::NodeInfo;
use crate::plugins::{self, Failure, Prepared};
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

/// Try to make room for `p.pod`; on failure the "preemption: ..." text of the message.
pub fn preempt(
    p: &Prepared,
    cache: &Cache,
    diag: &Diagnosis,
    budgets: &[Budget],
) -> Result<Plan, String> {
    let pod = &p.pod;
    if !pod.preempts {
        return Err("preemption: not eligible due to preemptionPolicy=Never.".into());
    }
    if let Some(n) = pod.nominated_node.as_deref().and_then(|n| cache.node(n))
        && n.pods
            .iter()
            .any(|v| v.terminating && v.priority < pod.priority)
    {
        return Err(
            "preemption: not eligible due to a terminating pod on the nominated node.".into(),
        );
    }
    let mut statuses: Vec<Failure> = Vec::new();
    let mut candidates = Vec::new();
    for (i, node) in cache.nodes.iter().enumerate() {
        if !node.present {
            continue;
        }
        match diag.failures.get(&i) {
            Some(f) if !f.unresolvable => match victims_on(p, node, budgets) {
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
        return Err(format!(
            "preemption: {}",
            fit_message(diag.nodes, statuses.iter(), None)
        ));
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

/// The fewest lower-priority pods of `node` whose removal lets the pod fit.
fn victims_on(p: &Prepared, node: &NodeInfo, budgets: &[Budget]) -> Result<Candidate, Failure> {
    let pod = &p.pod;
    let mut trial = node.clone();
    let mut potential: Vec<Arc<PodInfo>> = node
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
    for v in &potential {
        trial.remove_pod(&v.uid);
    }
    if let Some(f) = plugins::filter(p, &trial) {
        return Err(f);
    }
    // Highest priority first: they are the ones most worth keeping.
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
            if plugins::filter(p, &trial).is_some() {
                trial.remove_pod(&v.uid);
                violations += is_violating as usize;
                victims.push(v);
            }
        }
    }
    Ok(Candidate {
        node: node.name.clone(),
        victims,
        violations,
    })
}
