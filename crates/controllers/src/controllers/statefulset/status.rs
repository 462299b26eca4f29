//! StatefulSet status as upstream counts it: every pod that exists (terminating and condemned
//! ones included) is a replica; current and updated replicas are the non-terminating pods at the
//! current and update revisions; a RollingUpdate is complete, and the current revision becomes
//! the update revision, once every replica is updated and ready.

use super::revision_of;
use crate::pods;
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

/// The counts and revisions the controller writes.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Counts {
    pub replicas: i32,
    pub ready: i32,
    pub available: i32,
    pub current: i32,
    pub updated: i32,
    pub current_revision: String,
    pub update_revision: String,
}

/// Running with its Ready condition True (upstream's `isRunningAndReady`).
pub fn running_and_ready(p: &Pod) -> bool {
    pods::phase(p) == "Running" && pods::is_ready(p)
}

/// Running and ready for at least `min_ready` seconds.
pub fn running_and_available(p: &Pod, min_ready: i32, now: jiff::Timestamp) -> bool {
    pods::phase(p) == "Running" && pods::availability(p, min_ready, now).0
}

impl Counts {
    /// Count `pods` (all the set's pods) against the two revisions.
    pub fn of(
        pods: &[&Pod],
        current_revision: &str,
        update_revision: &str,
        min_ready: i32,
        now: jiff::Timestamp,
    ) -> Counts {
        let mut c = Counts {
            current_revision: current_revision.into(),
            update_revision: update_revision.into(),
            ..Default::default()
        };
        for p in pods {
            let created = !pods::phase(p).is_empty();
            if created {
                c.replicas += 1;
            }
            if running_and_ready(p) {
                c.ready += 1;
                if running_and_available(p, min_ready, now) {
                    c.available += 1;
                }
            }
            if created && p.metadata.deletion_timestamp.is_none() {
                c.count_revision(revision_of(p));
            }
        }
        c
    }

    /// A pod at `revision` was created this round.
    pub fn count_revision(&mut self, revision: Option<&str>) {
        if revision == Some(self.current_revision.as_str()) {
            self.current += 1;
        }
        if revision == Some(self.update_revision.as_str()) {
            self.updated += 1;
        }
    }

    /// Upstream's `completeRollingUpdate`.
    pub fn complete_rolling_update(&mut self) {
        if self.updated == self.replicas && self.ready == self.replicas {
            self.current = self.updated;
            self.current_revision = self.update_revision.clone();
        }
    }

    /// The status fields, for a merge patch.
    pub fn to_json(&self, observed_generation: Option<i64>) -> serde_json::Value {
        json!({
            "observedGeneration": observed_generation,
            "replicas": self.replicas,
            "readyReplicas": self.ready,
            "availableReplicas": self.available,
            "currentReplicas": self.current,
            "updatedReplicas": self.updated,
            "currentRevision": self.current_revision,
            "updateRevision": self.update_revision,
            "collisionCount": 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(revision: &str, phase: &str, ready: bool) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "labels": {"controller-revision-hash": revision}},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}
        }))
        .unwrap()
    }

    #[test]
    fn the_current_revision_advances_only_when_every_replica_is_updated_and_ready() {
        let now = jiff::Timestamp::now();
        let (a, b) = (
            pod("web-2", "Running", true),
            pod("web-2", "Running", false),
        );
        let mut c = Counts::of(&[&a, &b], "web-1", "web-2", 0, now);
        c.complete_rolling_update();
        assert_eq!((c.current_revision.as_str(), c.current), ("web-1", 0));
        let b = pod("web-2", "Running", true);
        let mut c = Counts::of(&[&a, &b], "web-1", "web-2", 0, now);
        c.complete_rolling_update();
        assert_eq!((c.current_revision.as_str(), c.current), ("web-2", 2));
    }

    #[test]
    fn pending_pods_are_replicas_but_not_ready() {
        let now = jiff::Timestamp::now();
        let (a, b) = (
            pod("web-1", "Pending", false),
            pod("web-2", "Running", true),
        );
        let c = Counts::of(&[&a, &b], "web-1", "web-2", 0, now);
        assert_eq!(
            (c.replicas, c.ready, c.available, c.current, c.updated),
            (2, 1, 1, 1, 1)
        );
    }
}
