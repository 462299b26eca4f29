//! One scheduling attempt: filter nodes (stopping once enough feasible nodes are found, as
//! `percentageOfNodesToScore` says), score the feasible ones, pick the best; and the
//! FailedScheduling message when none fits.

use crate::cache::Cache;
use crate::plugins::{self, Failure, Prepared};
use crate::queue::events;
use std::collections::{BTreeMap, HashMap};

/// How many feasible nodes to look for among `all` (upstream's adaptive rule when
/// `percentage` is unset: 50% minus 1% per 125 nodes, at least 5%, at least 100 nodes).
pub fn feasible_nodes_to_find(all: usize, percentage: Option<u32>) -> usize {
    const MIN: usize = 100;
    if all < MIN || percentage == Some(100) {
        return all;
    }
    let pct = match percentage {
        Some(p) if p > 0 => p as i64,
        _ => (50 - all as i64 / 125).max(5),
    };
    ((all as i64 * pct / 100) as usize).max(MIN)
}

/// Why no node fits: each examined node's failure.
#[derive(Debug, Default)]
pub struct Diagnosis {
    pub nodes: usize,
    pub failures: HashMap<usize, Failure>,
    /// A PreFilter plugin rejected the pod before any node was examined (its message).
    pub pre_filter: Option<String>,
}

impl Diagnosis {
    /// The union of the cluster changes that could help.
    pub fn wake_on(&self) -> u32 {
        let pre = if self.pre_filter.is_some() {
            events::VOLUME
        } else {
            0
        };
        self.failures.values().fold(pre, |m, f| m | f.wake_on)
    }

    /// Upstream's FitError text: the PreFilter's message, else the per-node histogram
    /// ([`fit_message`]); then `post` (preemption's own).
    pub fn message(&self, post: Option<&str>) -> String {
        match &self.pre_filter {
            Some(m) => {
                let mut msg = format!("0/{} nodes are available: {m}.", self.nodes);
                if let Some(post) = post {
                    msg.push_str(&format!(" {post}"));
                }
                msg
            }
            None => fit_message(self.nodes, self.failures.values(), post),
        }
    }
}

/// The outcome of the filter and score phases.
pub enum Outcome {
    Fit(String),
    NoFit(Diagnosis),
}

/// Rotating start and tie-breaking state kept across attempts.
#[derive(Debug)]
pub struct Cursor {
    pub next_start: usize,
    rng: u64,
}

impl Default for Cursor {
    fn default() -> Self {
        Self {
            next_start: 0,
            rng: 0x9e3779b97f4a7c15,
        }
    }
}

impl Cursor {
    fn random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }
}

/// Filter and score `p.pod` over the cache.
pub fn find_node(
    p: &Prepared,
    cache: &Cache,
    cursor: &mut Cursor,
    percentage: Option<u32>,
) -> Outcome {
    if let Some(m) = p.pre_filter_rejection() {
        return Outcome::NoFit(Diagnosis {
            nodes: cache.node_count(),
            failures: HashMap::new(),
            pre_filter: Some(m.to_string()),
        });
    }
    // A pod nominated by an earlier preemption tries its node first.
    if let Some(node) = p.pod.nominated_node.as_deref().and_then(|n| cache.node(n))
        && plugins::filter(p, node).is_none()
    {
        return Outcome::Fit(node.name.clone());
    }
    let total = cache.nodes.len();
    let present = cache.node_count();
    let want = feasible_nodes_to_find(present, percentage);
    let mut feasible = Vec::new();
    let mut diagnosis = Diagnosis {
        nodes: present,
        failures: HashMap::new(),
        pre_filter: None,
    };
    let start = if total == 0 {
        0
    } else {
        cursor.next_start % total
    };
    let mut processed = 0;
    for k in 0..total {
        let i = (start + k) % total;
        processed = k + 1;
        let node = &cache.nodes[i];
        if !node.present {
            continue;
        }
        match plugins::filter(p, node) {
            None => {
                feasible.push(i);
                if feasible.len() >= want {
                    break;
                }
            }
            Some(f) => {
                diagnosis.failures.insert(i, f);
            }
        }
    }
    if total > 0 {
        cursor.next_start = (start + processed) % total;
    }
    match feasible.len() {
        0 => Outcome::NoFit(diagnosis),
        1 => Outcome::Fit(cache.nodes[feasible[0]].name.clone()),
        _ => {
            let scores = plugins::score(p, cache, &feasible);
            let mut best = 0;
            let mut ties = 0u64;
            for (k, s) in scores.iter().enumerate() {
                if *s > scores[best] {
                    best = k;
                    ties = 1;
                } else if *s == scores[best] {
                    ties += 1;
                    if cursor.random().is_multiple_of(ties) {
                        best = k;
                    }
                }
            }
            Outcome::Fit(cache.nodes[feasible[best]].name.clone())
        }
    }
}

/// Upstream's FitError text: "0/N nodes are available: <count> <reason>, .... <post>".
pub fn fit_message<'a>(
    nodes: usize,
    failures: impl Iterator<Item = &'a Failure>,
    post: Option<&str>,
) -> String {
    let mut histogram: BTreeMap<String, usize> = BTreeMap::new();
    for f in failures {
        for r in &f.reasons {
            *histogram.entry(r.clone()).or_default() += 1;
        }
    }
    let mut parts: Vec<String> = histogram
        .into_iter()
        .map(|(r, n)| format!("{n} {r}"))
        .collect();
    parts.sort();
    let mut msg = format!("0/{nodes} nodes are available:");
    if !parts.is_empty() {
        msg.push_str(&format!(" {}.", parts.join(", ")));
    }
    if let Some(post) = post {
        msg.push_str(&format!(" {post}"));
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_to_find_follows_the_adaptive_percentage() {
        assert_eq!(feasible_nodes_to_find(50, None), 50);
        assert_eq!(feasible_nodes_to_find(1000, None), 420);
        assert_eq!(feasible_nodes_to_find(5000, None), 500);
        assert_eq!(feasible_nodes_to_find(5000, Some(100)), 5000);
        assert_eq!(feasible_nodes_to_find(200, Some(10)), 100);
    }

    #[test]
    fn message_format() {
        let f = |r: &str| Failure {
            reasons: vec![r.into()],
            unresolvable: false,
            wake_on: 0,
        };
        let fs = [
            f("Insufficient cpu"),
            f("node(s) had untolerated taint {a: b}"),
            f("node(s) had untolerated taint {a: b}"),
        ];
        assert_eq!(
            fit_message(
                3,
                fs.iter(),
                Some(
                    "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
                )
            ),
            "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {a: b}. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        );
    }
}
