//! Which pods a controller deletes first when it has too many, as upstream's `ActivePods`
//! (Jobs) and `ActivePodsWithRanks` (ReplicaSets) orders: the least valuable pod first.
//!
//! ReplicaSets also weigh the `controller.kubernetes.io/pod-deletion-cost` annotation and how
//! crowded a pod's node is with its siblings, and compare ready and creation times on a
//! logarithmic scale (LogarithmicScaleDown, on by default since 1.22): pods whose ages fall in
//! the same power-of-two bucket count as equally old and are told apart by UID, which spreads
//! scale-down over pods created about the same time instead of always taking the newest.

use super::{phase, ready_since};
use k8s_openapi::api::core::v1::Pod;
use std::cmp::Ordering;
use std::collections::HashMap;

/// The annotation users set to make a pod cheaper (lower) or dearer (higher) to delete.
pub const POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// A pod with its colocation rank: how many active related pods (of the same ReplicaSet, or of
/// every ReplicaSet of the same Deployment) run on its node. Crowded nodes lose pods first.
#[derive(Debug, Clone, Copy)]
pub struct Ranked<'a> {
    pub pod: &'a Pod,
    pub rank: usize,
}

/// Colocation ranks of `pods` against `related` (normally a superset): for each pod, the number
/// of active related pods on the same node.
pub fn colocation_ranks<'a>(pods: &[&'a Pod], related: &[&Pod]) -> Vec<Ranked<'a>> {
    let mut on_node: HashMap<&str, usize> = HashMap::new();
    for p in related.iter().filter(|p| super::is_active(p)) {
        *on_node.entry(node_name(p)).or_default() += 1;
    }
    pods.iter()
        .map(|&pod| Ranked {
            pod,
            rank: on_node.get(node_name(pod)).copied().unwrap_or(0),
        })
        .collect()
}

/// Sort `pods` so the ones to delete first come first, by upstream's ReplicaSet order with
/// times compared on a logarithmic scale relative to `now`.
pub fn sort_ranked(pods: &mut Vec<Ranked<'_>>, now: jiff::Timestamp) {
    merge_sort(pods, |a, b| ranked_less(a, b, Some(now)));
}

/// Upstream's plain `ActivePods` order (no deletion cost, no colocation, exact times), what
/// the Job controller uses; `Less` means "delete first". A lexicographic order, so safe for
/// `sort_by`.
pub fn deletion_order(a: &Pod, b: &Pod) -> Ordering {
    if active_less(a, b) {
        Ordering::Less
    } else if active_less(b, a) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

fn node_name(p: &Pod) -> &str {
    p.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("")
}

/// Pending (and an unset phase) before Unknown before Running.
fn phase_ordinal(p: &Pod) -> u8 {
    match phase(p) {
        "Unknown" => 1,
        "Running" => 2,
        _ => 0,
    }
}

/// The deletion cost; an unparsable or missing annotation costs 0.
pub fn deletion_cost(p: &Pod) -> i32 {
    p.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(POD_DELETION_COST))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The most restarts of any one container.
fn max_restarts(p: &Pod) -> i32 {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.iter().map(|s| s.restart_count).max())
        .unwrap_or(0)
}

/// When the pod turned Ready; `None` ("zero") when not ready or the time is missing.
fn ready_time(p: &Pod) -> Option<jiff::Timestamp> {
    ready_since(p).filter(|t| *t != jiff::Timestamp::UNIX_EPOCH)
}

fn created(p: &Pod) -> Option<jiff::Timestamp> {
    p.metadata.creation_timestamp.as_ref().map(|t| t.0)
}

fn uid(p: &Pod) -> &str {
    p.metadata.uid.as_deref().unwrap_or("")
}

/// A zero time first, else the later time first.
fn later_or_zero(a: Option<jiff::Timestamp>, b: Option<jiff::Timestamp>) -> bool {
    match (a, b) {
        (None, _) => true,
        (_, None) => false,
        (Some(a), Some(b)) => a > b,
    }
}

/// floor(log2(age in nanoseconds)), -1 for an age of zero or less.
fn log_bucket(t: jiff::Timestamp, now: jiff::Timestamp) -> i64 {
    let age = now.as_nanosecond() - t.as_nanosecond();
    if age > 0 {
        (age as f64).log2().floor() as i64
    } else {
        -1
    }
}

/// Younger first, comparing ages by power-of-two bucket (UID breaks ties within a bucket);
/// exact comparison when there is no `now` or a time is zero.
fn younger_first(
    a: (&Pod, Option<jiff::Timestamp>),
    b: (&Pod, Option<jiff::Timestamp>),
    now: Option<jiff::Timestamp>,
) -> bool {
    match (now, a.1, b.1) {
        (Some(now), Some(ta), Some(tb)) => {
            let diff = log_bucket(ta, now) - log_bucket(tb, now);
            if diff == 0 {
                uid(a.0) < uid(b.0)
            } else {
                diff < 0
            }
        }
        _ => later_or_zero(a.1, b.1),
    }
}

/// Steps shared by both orders: unassigned, phase, readiness. `Some(answer)` when decided.
fn common_less(a: &Pod, b: &Pod) -> Option<bool> {
    let (na, nb) = (node_name(a), node_name(b));
    if na != nb && (na.is_empty() || nb.is_empty()) {
        return Some(na.is_empty());
    }
    if phase_ordinal(a) != phase_ordinal(b) {
        return Some(phase_ordinal(a) < phase_ordinal(b));
    }
    let (ra, rb) = (super::is_ready(a), super::is_ready(b));
    if ra != rb {
        return Some(!ra);
    }
    None
}

/// Whether `a` should be deleted before `b` (upstream `ActivePodsWithRanks.Less`).
fn ranked_less(a: &Ranked<'_>, b: &Ranked<'_>, now: Option<jiff::Timestamp>) -> bool {
    let (pa, pb) = (a.pod, b.pod);
    if let Some(answer) = common_less(pa, pb) {
        return answer;
    }
    let (ca, cb) = (deletion_cost(pa), deletion_cost(pb));
    if ca != cb {
        return ca < cb;
    }
    if a.rank != b.rank {
        return a.rank > b.rank;
    }
    if super::is_ready(pa) && super::is_ready(pb) {
        let (ta, tb) = (ready_time(pa), ready_time(pb));
        if ta != tb {
            return younger_first((pa, ta), (pb, tb), now);
        }
    }
    if max_restarts(pa) != max_restarts(pb) {
        return max_restarts(pa) > max_restarts(pb);
    }
    let (ta, tb) = (created(pa), created(pb));
    if ta != tb {
        return younger_first((pa, ta), (pb, tb), now);
    }
    false
}

/// Whether `a` should be deleted before `b` (upstream `ActivePods.Less`).
fn active_less(a: &Pod, b: &Pod) -> bool {
    if let Some(answer) = common_less(a, b) {
        return answer;
    }
    if super::is_ready(a) && super::is_ready(b) {
        let (ta, tb) = (ready_time(a), ready_time(b));
        if ta != tb {
            return later_or_zero(ta, tb);
        }
    }
    if max_restarts(a) != max_restarts(b) {
        return max_restarts(a) > max_restarts(b);
    }
    let (ta, tb) = (created(a), created(b));
    ta != tb && later_or_zero(ta, tb)
}

/// A stable merge sort driven by a "less" predicate. Unlike `slice::sort_by` it never panics
/// when the predicate is not a strict total order, which upstream's bucketed comparisons with
/// UID tie-breaks need not be.
fn merge_sort<T>(items: &mut Vec<T>, less: impl Fn(&T, &T) -> bool) {
    fn sort<T>(mut v: Vec<T>, less: &dyn Fn(&T, &T) -> bool) -> Vec<T> {
        if v.len() <= 1 {
            return v;
        }
        let right = v.split_off(v.len() / 2);
        let (left, right) = (sort(v, less), sort(right, less));
        let mut out = Vec::with_capacity(left.len() + right.len());
        let (mut l, mut r) = (left.into_iter().peekable(), right.into_iter().peekable());
        while let (Some(a), Some(b)) = (l.peek(), r.peek()) {
            // Take from the right only when strictly less: stable.
            let next = if less(b, a) { r.next() } else { l.next() };
            out.extend(next);
        }
        out.extend(l);
        out.extend(r);
        out
    }
    let v = std::mem::take(items);
    *items = sort(v, &less);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: &str = "2026-01-01T12:00:00Z";

    fn now() -> jiff::Timestamp {
        NOW.parse().unwrap()
    }

    /// A running pod on `node`, created and ready `age_secs` ago (None: not ready).
    fn pod(name: &str, node: &str, ready_age: Option<i64>, created_age: i64) -> Pod {
        let at = |s: i64| (now() - jiff::SignedDuration::from_secs(s)).to_string();
        let mut conditions = vec![];
        if let Some(a) = ready_age {
            conditions
                .push(json!({"type": "Ready", "status": "True", "lastTransitionTime": at(a)}));
        }
        serde_json::from_value(json!({
            "metadata": {"name": name, "uid": format!("uid-{name}"), "creationTimestamp": at(created_age)},
            "spec": {"nodeName": node, "containers": []},
            "status": {"phase": "Running", "conditions": conditions},
        }))
        .unwrap()
    }

    fn order(pods: &[Pod], related: &[Pod]) -> Vec<String> {
        let refs: Vec<&Pod> = pods.iter().collect();
        let rel: Vec<&Pod> = related.iter().collect();
        let mut ranked = colocation_ranks(&refs, &rel);
        sort_ranked(&mut ranked, now());
        ranked
            .iter()
            .map(|r| r.pod.metadata.name.clone().unwrap())
            .collect()
    }

    #[test]
    fn unassigned_pending_and_unready_pods_go_first() {
        let mut unassigned = pod("unassigned", "", None, 10);
        unassigned.status.as_mut().unwrap().phase = Some("Pending".into());
        let mut pending = pod("pending", "n1", None, 10);
        pending.status.as_mut().unwrap().phase = Some("Pending".into());
        let mut unknown = pod("unknown", "n1", None, 10);
        unknown.status.as_mut().unwrap().phase = Some("Unknown".into());
        let unready = pod("unready", "n1", None, 10);
        let ready = pod("ready", "n1", Some(5), 10);
        let all = [ready, unready, unknown, pending, unassigned];
        assert_eq!(
            order(&all, &all),
            ["unassigned", "pending", "unknown", "unready", "ready"]
        );
    }

    #[test]
    fn deletion_cost_beats_colocation_which_beats_age() {
        let mut dear = pod("dear", "n1", Some(5), 5);
        dear.metadata.annotations = Some([(POD_DELETION_COST.into(), "100".into())].into());
        let mut cheap = pod("cheap", "n2", Some(5000), 5000);
        cheap.metadata.annotations = Some([(POD_DELETION_COST.into(), "-5".into())].into());
        // Two pods share n1 (dear and crowded): crowded goes before the young pod alone on n3.
        let crowded = pod("crowded", "n1", Some(5000), 5000);
        let alone = pod("alone", "n3", Some(5), 5);
        let all = [dear, crowded, alone, cheap];
        assert_eq!(order(&all, &all), ["cheap", "crowded", "alone", "dear"]);
    }

    #[test]
    fn related_pods_of_sibling_replicasets_count_towards_colocation() {
        let a = pod("a", "n1", Some(5), 5);
        let b = pod("b", "n2", Some(5000), 5000);
        let sibling1 = pod("s1", "n2", Some(5), 5);
        let sibling2 = pod("s2", "n2", Some(5), 5);
        let own = [a.clone(), b.clone()];
        assert_eq!(
            order(&own, &own),
            ["a", "b"],
            "without siblings: the younger"
        );
        let related = [a, b, sibling1, sibling2];
        assert_eq!(
            order(&own, &related),
            ["b", "a"],
            "n2 is crowded by the siblings"
        );
    }

    #[test]
    fn ready_times_in_the_same_power_of_two_bucket_are_ordered_by_uid() {
        // 100s and 120s ago share the bucket [2^36, 2^37) ns; 1000s is in a later one.
        let x = pod("x", "n1", Some(100), 5000);
        let y = pod("y", "n2", Some(120), 5000);
        let old = pod("old", "n3", Some(1000), 5000);
        let all = [x.clone(), y.clone(), old.clone()];
        assert_eq!(order(&all, &all), ["x", "y", "old"]);
        // Within a bucket the UID decides, not the exact time: y, ready for longer, goes first
        // once its UID sorts first.
        let renamed = {
            let mut y = y.clone();
            y.metadata.uid = Some("a".into());
            y
        };
        let all = [x, renamed, old];
        assert_eq!(order(&all, &all), ["y", "x", "old"]);
    }

    #[test]
    fn more_restarts_then_newer_creation_go_first() {
        let mut restarted = pod("restarted", "n1", None, 5000);
        restarted.status.as_mut().unwrap().container_statuses = Some(vec![
            serde_json::from_value(json!({"name": "c", "restartCount": 3, "ready": false, "image": "i", "imageID": ""})).unwrap(),
        ]);
        let newer = pod("newer", "n2", None, 10);
        let older = pod("older", "n3", None, 5000);
        let all = [older, newer, restarted];
        assert_eq!(order(&all, &all), ["restarted", "newer", "older"]);
    }

    #[test]
    fn the_active_order_ignores_cost_and_compares_exact_times() {
        let mut dear = pod("dear", "n1", Some(100), 5000);
        dear.metadata.annotations = Some([(POD_DELETION_COST.into(), "100".into())].into());
        let mut x = pod("x", "n2", Some(120), 5000);
        x.metadata.uid = Some("a".into());
        let mut pods = [x, dear];
        pods.sort_by(deletion_order);
        let names: Vec<_> = pods
            .iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["dear", "x"], "ready more recently goes first");
    }
}
