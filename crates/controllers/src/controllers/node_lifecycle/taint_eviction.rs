//! Taint-based eviction (upstream's taint-eviction-controller): a pod on a node with NoExecute
//! taints is deleted at once when it does not tolerate one of them, and after the shortest
//! `tolerationSeconds` of the tolerations it uses otherwise (counted from when this controller
//! first saw the pod under those taints, as upstream does, not from the taints' `timeAdded`).
//! Before deleting it marks the pod `DisruptionTarget`.

use crate::events::ComponentRecorder;
use crate::pod_status;
use k8s_openapi::api::core::v1::{Pod, Taint, Toleration};
use kube::api::{DeleteParams, Preconditions};
use kube::{Api, ResourceExt};
use std::collections::{HashMap, HashSet};

/// The reason and message of the `DisruptionTarget` condition the taint manager sets.
pub const REASON: &str = "DeletionByTaintManager";
pub const MESSAGE: &str = "Taint manager: deleting due to NoExecute taint";

/// How long a pod may stay on a node with given NoExecute taints.
#[derive(Debug, PartialEq, Eq)]
pub enum Tolerance {
    /// Some taint is not tolerated: evict now.
    None,
    /// At most this many seconds (upstream's `getMinTolerationTime`; 0 or less evicts now).
    Seconds(i64),
    /// Every taint is tolerated without a time limit.
    Forever,
}

/// Upstream's `ToleratesTaint`: an empty effect or key matches any; `Exists` ignores values.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or("");
    let key = toleration.key.as_deref().unwrap_or("");
    if (!effect.is_empty() && effect != taint.effect) || (!key.is_empty() && key != taint.key) {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("") {
        "Exists" => true,
        "" | "Equal" => {
            toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        _ => false,
    }
}

/// The first toleration that tolerates each taint (upstream's `GetMatchingTolerations`), and
/// the shortest time limit among them.
pub fn tolerance(taints: &[Taint], tolerations: &[Toleration]) -> Tolerance {
    let mut shortest: Option<i64> = None;
    for taint in taints {
        let Some(used) = tolerations.iter().find(|t| tolerates(t, taint)) else {
            return Tolerance::None;
        };
        if let Some(secs) = used.toleration_seconds {
            shortest = Some(shortest.map_or(secs, |s| s.min(secs)));
        }
    }
    match shortest {
        Some(s) => Tolerance::Seconds(s.max(0)),
        None => Tolerance::Forever,
    }
}

/// Evictions waiting for their pods' tolerations to run out, by pod uid: when each is due.
#[derive(Default)]
pub struct Scheduled {
    due: HashMap<String, jiff::Timestamp>,
    /// Pods looked at in the current pass; the others' entries are dropped at its end.
    seen: HashSet<String>,
}

/// What to do with one pod now.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    Evict,
    Wait,
    /// A scheduled eviction was cancelled (taints gone or tolerated forever).
    Cancelled,
    Nothing,
}

impl Scheduled {
    /// Decide for the pod `uid` on a node with NoExecute `taints`.
    pub fn decide(
        &mut self,
        uid: &str,
        taints: &[Taint],
        tolerations: &[Toleration],
        now: jiff::Timestamp,
    ) -> Decision {
        self.seen.insert(uid.to_string());
        let cancel = |due: &mut HashMap<String, jiff::Timestamp>| {
            if due.remove(uid).is_some() {
                Decision::Cancelled
            } else {
                Decision::Nothing
            }
        };
        if taints.is_empty() {
            return cancel(&mut self.due);
        }
        let secs = match tolerance(taints, tolerations) {
            Tolerance::None => {
                self.due.remove(uid);
                return Decision::Evict;
            }
            Tolerance::Forever => return cancel(&mut self.due),
            Tolerance::Seconds(s) => s,
        };
        let due = *self
            .due
            .entry(uid.to_string())
            .or_insert_with(|| now + jiff::SignedDuration::from_secs(secs));
        if now >= due {
            self.due.remove(uid);
            Decision::Evict
        } else {
            Decision::Wait
        }
    }

    /// End a pass: forget pods not looked at (deleted, or moved off tainted nodes).
    pub fn finish_pass(&mut self) {
        let seen = std::mem::take(&mut self.seen);
        self.due.retain(|uid, _| seen.contains(uid));
    }
}

/// Mark the pod `DisruptionTarget` and delete it (upstream's `addConditionAndDeletePod`).
pub async fn evict(api: &Api<Pod>, events: &ComponentRecorder, pod: &Pod) -> anyhow::Result<()> {
    let name = pod.name_any();
    events.normal(
        pod,
        "TaintManagerEviction",
        format!(
            "Marking for deletion Pod {}/{name}",
            pod.namespace().unwrap_or_default()
        ),
    );
    let condition = pod_status::disruption_target(REASON, MESSAGE);
    if !pod_status::set_condition(api, pod, &condition).await? {
        return Ok(());
    }
    let dp = DeleteParams {
        preconditions: Some(Preconditions {
            uid: pod.uid(),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(&name, &dp).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str) -> Taint {
        Taint {
            key: key.into(),
            effect: "NoExecute".into(),
            ..Default::default()
        }
    }

    fn toleration(key: &str, secs: Option<i64>) -> Toleration {
        Toleration {
            key: Some(key.into()),
            operator: Some("Exists".into()),
            effect: Some("NoExecute".into()),
            toleration_seconds: secs,
            ..Default::default()
        }
    }

    #[test]
    fn the_shortest_used_toleration_counts() {
        let taints = [taint("a"), taint("b")];
        let tols = [toleration("a", Some(300)), toleration("b", Some(5))];
        assert_eq!(tolerance(&taints, &tols), Tolerance::Seconds(5));
        let forever = [toleration("a", None), toleration("b", None)];
        assert_eq!(tolerance(&taints, &forever), Tolerance::Forever);
        assert_eq!(tolerance(&taints, &tols[..1]), Tolerance::None);
    }

    #[test]
    fn equal_needs_the_same_value_and_an_empty_key_needs_exists() {
        let mut t = taint("k");
        t.value = Some("v".into());
        let mut tol = Toleration {
            key: Some("k".into()),
            operator: Some("Equal".into()),
            value: Some("v".into()),
            ..Default::default()
        };
        assert!(tolerates(&tol, &t));
        tol.value = Some("w".into());
        assert!(!tolerates(&tol, &t));
        let everything = Toleration {
            operator: Some("Exists".into()),
            ..Default::default()
        };
        assert!(tolerates(&everything, &t));
    }

    #[test]
    fn the_clock_starts_when_the_pod_is_first_seen_tainted() {
        let mut s = Scheduled::default();
        let taints = [taint("a")];
        let tols = [toleration("a", Some(300))];
        let t0 = jiff::Timestamp::from_second(10_000).unwrap();
        assert_eq!(s.decide("p", &taints, &tols, t0), Decision::Wait);
        let later = t0 + jiff::SignedDuration::from_secs(299);
        assert_eq!(s.decide("p", &taints, &tols, later), Decision::Wait);
        let due = t0 + jiff::SignedDuration::from_secs(300);
        assert_eq!(s.decide("p", &taints, &tols, due), Decision::Evict);
        // Taints removed: a waiting eviction is cancelled.
        assert_eq!(s.decide("q", &taints, &tols, t0), Decision::Wait);
        assert_eq!(s.decide("q", &[], &tols, t0), Decision::Cancelled);
    }
}
