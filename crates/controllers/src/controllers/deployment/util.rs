//! Small facts about Deployments and their ReplicaSets: the annotations the controller keeps,
//! replica sums, revisions, maxSurge/maxUnavailable resolution, template comparison.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub const REVISION: &str = "deployment.kubernetes.io/revision";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";
pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";

/// Deployment annotations never copied to its ReplicaSets.
const NOT_COPIED: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

/// Whether a Deployment annotation is copied onto its ReplicaSets.
pub fn copied_annotation(key: &str) -> bool {
    !NOT_COPIED.contains(&key)
}

pub fn replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

pub fn rs_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

pub fn rs_status_replicas(rs: &ReplicaSet) -> i32 {
    rs.status.as_ref().map_or(0, |s| s.replicas)
}

pub fn rs_available(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0)
}

pub fn rs_ready(rs: &ReplicaSet) -> i32 {
    rs.status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0)
}

/// The revision annotation of an object (0 when missing).
pub fn revision(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> i64 {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(REVISION))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub fn annotation_i32(rs: &ReplicaSet, key: &str) -> Option<i32> {
    rs.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .and_then(|v| v.parse().ok())
}

pub fn created(rs: &ReplicaSet) -> Option<jiff::Timestamp> {
    rs.metadata.creation_timestamp.as_ref().map(|t| t.0)
}

pub fn is_recreate(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.type_.as_deref())
        == Some("Recreate")
}

pub fn paused(d: &Deployment) -> bool {
    d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false)
}

/// Whether progress is tracked: progressDeadlineSeconds set and not the "never" value
/// (2147483647). Without it there is no Progressing condition at all.
pub fn has_progress_deadline(d: &Deployment) -> bool {
    d.spec
        .as_ref()
        .and_then(|s| s.progress_deadline_seconds)
        .is_some_and(|s| s != i32::MAX)
}

pub fn min_ready_seconds(d: &Deployment) -> i32 {
    d.spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0)
}

/// An int-or-percent against `total`, rounding percentages up or down.
pub fn scaled_value(
    v: Option<&IntOrString>,
    default_percent: i32,
    total: i32,
    round_up: bool,
) -> i32 {
    match v {
        Some(IntOrString::Int(i)) => *i,
        Some(IntOrString::String(s)) => {
            let p: i64 = s.trim_end_matches('%').parse().unwrap_or(0);
            percent(p, total, round_up)
        }
        None => percent(i64::from(default_percent), total, round_up),
    }
}

fn percent(p: i64, total: i32, round_up: bool) -> i32 {
    let n = p * i64::from(total);
    (if round_up { (n + 99) / 100 } else { n / 100 }) as i32
}

/// maxSurge (rounded up) and maxUnavailable (rounded down) of a rolling update; both zero
/// would make no progress, so maxUnavailable is then 1. Recreate has neither.
pub fn fenceposts(d: &Deployment) -> (i32, i32) {
    if is_recreate(d) {
        return (0, 0);
    }
    let ru = d
        .spec
        .as_ref()
        .and_then(|s| s.strategy.as_ref())
        .and_then(|s| s.rolling_update.as_ref());
    let total = replicas(d);
    let surge = scaled_value(ru.and_then(|r| r.max_surge.as_ref()), 25, total, true);
    let unavailable = scaled_value(
        ru.and_then(|r| r.max_unavailable.as_ref()),
        25,
        total,
        false,
    );
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

/// maxUnavailable, capped at the replica count.
pub fn max_unavailable(d: &Deployment) -> i32 {
    if is_recreate(d) {
        return 0;
    }
    fenceposts(d).1.min(replicas(d))
}

/// Longest revision-history annotation upstream writes.
const REVISION_HISTORY_LIMIT_CHARS: usize = 2000;

/// The revision-history annotation after a rolled-back-to ReplicaSet leaves `old_revision`:
/// appended, dropping the oldest entries to stay within 2000 characters; `None` when even
/// that cannot fit (upstream then leaves the annotation as it was).
pub fn append_revision_history(history: Option<&String>, old_revision: i64) -> Option<String> {
    let old = old_revision.to_string();
    let Some(history) = history.filter(|h| !h.is_empty()) else {
        return Some(old);
    };
    let entries: Vec<&str> = history.split(',').collect();
    let mut len = history.len() + old.len() + 1;
    let mut start = 0;
    while len > REVISION_HISTORY_LIMIT_CHARS && start < entries.len() {
        len -= entries[start].len() + 1;
        start += 1;
    }
    if len > REVISION_HISTORY_LIMIT_CHARS {
        return None;
    }
    let mut kept: Vec<&str> = entries[start..].to_vec();
    kept.push(&old);
    Some(kept.join(","))
}

/// The template without its pod-template-hash label, for comparison.
pub fn without_hash(t: &PodTemplateSpec) -> serde_json::Value {
    let mut t = t.clone();
    if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(POD_TEMPLATE_HASH);
    }
    serde_json::to_value(t).expect("pod templates serialize")
}

/// Whether two templates are equal apart from the pod-template-hash label.
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    without_hash(a) == without_hash(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_history_appends_and_drops_the_oldest_past_2000_characters() {
        assert_eq!(append_revision_history(None, 3).as_deref(), Some("3"));
        assert_eq!(
            append_revision_history(Some(&"1,3".to_string()), 5).as_deref(),
            Some("1,3,5")
        );
        // 400 five-digit entries with commas: 2399 characters.
        let long: Vec<String> = (10000..10400).map(|i| i.to_string()).collect();
        let out = append_revision_history(Some(&long.join(",")), 20000).unwrap();
        assert!(out.len() <= 2000, "{}", out.len());
        assert!(out.ends_with(",20000"));
        assert!(!out.contains("10000,"), "the oldest entries go first");
        assert!(out.contains("10399"));
    }

    #[test]
    fn percentages_round_up_for_surge_and_down_for_unavailable() {
        let pct = IntOrString::String("25%".into());
        assert_eq!(scaled_value(Some(&pct), 0, 10, true), 3);
        assert_eq!(scaled_value(Some(&pct), 0, 10, false), 2);
        assert_eq!(scaled_value(None, 25, 1, true), 1);
        assert_eq!(scaled_value(None, 25, 1, false), 0);
        assert_eq!(scaled_value(Some(&IntOrString::Int(2)), 25, 10, false), 2);
    }
}
