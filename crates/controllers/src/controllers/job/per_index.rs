//! backoffLimitPerIndex for Indexed Jobs: each index has its own failure budget. A pod carries
//! its index's failures so far in annotations; an index whose counted failures reach the limit
//! (or whose pod hit a FailIndex rule) is failed for good and never run again. The latest
//! failed pod of an index that is not running keeps its finalizer until its replacement exists,
//! so the count passes on.

use super::policy::{self, Action};
use super::{index_of, is_pod_failed};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// Counted failures of the pod's index before this pod.
pub const FAILURE_COUNT: &str = "batch.kubernetes.io/job-index-failure-count";
/// Ignored failures of the pod's index before this pod.
pub const IGNORED_FAILURE_COUNT: &str = "batch.kubernetes.io/job-index-ignored-failure-count";

fn annotation(pod: &Pod, key: &str) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .and_then(|v| v.parse::<i32>().ok())
        .filter(|v| *v >= 0)
        .unwrap_or(0)
}

/// Counted failures before this pod.
pub fn failure_count(pod: &Pod) -> i32 {
    annotation(pod, FAILURE_COUNT)
}

/// All failures (counted and ignored) before this pod.
fn absolute_failure_count(pod: &Pod) -> i32 {
    failure_count(pod) + annotation(pod, IGNORED_FAILURE_COUNT)
}

/// Whether this failed pod fails its index.
pub fn fails_index(job: &Job, pod: &Pod) -> bool {
    if !is_pod_failed(pod, job) {
        return false;
    }
    let spec = job.spec.as_ref();
    let verdict = policy::evaluate(spec.and_then(|s| s.pod_failure_policy.as_ref()), pod);
    if verdict.action == Some(Action::FailIndex) {
        return true;
    }
    let limit = spec.and_then(|s| s.backoff_limit_per_index).unwrap_or(0);
    verdict.counts() && failure_count(pod) >= limit
}

/// The annotations for the next pod of an index whose latest failed pod is `replaced`.
pub fn next_counts(job: &Job, replaced: Option<&Pod>) -> (i32, i32) {
    let Some(pod) = replaced else {
        return (0, 0);
    };
    let spec = job.spec.as_ref();
    let counts = policy::evaluate(spec.and_then(|s| s.pod_failure_policy.as_ref()), pod).counts();
    let (failed, ignored) = (failure_count(pod), annotation(pod, IGNORED_FAILURE_COUNT));
    if counts {
        (failed + 1, ignored)
    } else {
        (failed, ignored + 1)
    }
}

/// For each index that is neither done, failed nor running, its latest failed pod (still
/// carrying the finalizer): what the replacement's counts and back-off come from.
pub fn awaiting_replacement(
    job: &Job,
    candidates: &[&Arc<Pod>],
    succeeded: &BTreeSet<i32>,
    failed: &BTreeSet<i32>,
    active: &BTreeSet<i32>,
) -> HashMap<i32, Arc<Pod>> {
    let mut out: HashMap<i32, Arc<Pod>> = HashMap::new();
    for p in candidates.iter().filter(|p| is_pod_failed(p, job)) {
        let Some(ix) = index_of(p) else { continue };
        if succeeded.contains(&ix) || failed.contains(&ix) || active.contains(&ix) {
            continue;
        }
        let newer = out.get(&ix).is_none_or(|last| {
            absolute_failure_count(last) <= absolute_failure_count(p)
                && super::backoff::finished_at(p) >= super::backoff::finished_at(last)
        });
        if newer {
            out.insert(ix, (*p).clone());
        }
    }
    out
}

/// How long a new pod of an index must wait after its latest failed pod.
pub fn remaining(last_failed: Option<&Pod>, now: jiff::Timestamp) -> Duration {
    match last_failed {
        Some(p) => super::backoff::remaining(
            (absolute_failure_count(p) + 1) as u32,
            super::backoff::finished_at(p),
            now,
        ),
        None => Duration::ZERO,
    }
}
