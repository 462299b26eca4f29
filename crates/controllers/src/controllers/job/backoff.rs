//! Back-off between pod failures, as upstream keeps it: per Job, the failures since the last
//! success and when the latest of them finished. The n-th such failure delays new pods by
//! 10 s · 2ⁿ⁻¹ (at most ten minutes, upstream's `MaxJobPodFailureBackOff`) from that moment.

use k8s_openapi::api::core::v1::Pod;
use std::time::Duration;

/// Delay after the first failure.
pub const BASE: Duration = Duration::from_secs(10);
/// The longest delay.
pub const MAX: Duration = Duration::from_secs(600);

/// What a Job's back-off is computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// Failures that finished after the latest success.
    pub failures_after_last_success: u32,
    /// When the latest failure finished.
    pub last_failure: Option<jiff::Timestamp>,
}

impl Record {
    /// The record after newly finished pods, given their finish times.
    pub fn updated(&self, succeeded: &[jiff::Timestamp], failed: &[jiff::Timestamp]) -> Record {
        let mut failed = failed.to_vec();
        failed.sort();
        let Some(last_success) = succeeded.iter().max() else {
            return match failed.last() {
                None => self.clone(),
                Some(last) => Record {
                    failures_after_last_success: self.failures_after_last_success
                        + failed.len() as u32,
                    last_failure: Some(*last),
                },
            };
        };
        // A success resets the count; only failures after it count again.
        let after: Vec<&jiff::Timestamp> = failed.iter().filter(|t| *t > last_success).collect();
        Record {
            failures_after_last_success: after.len() as u32,
            last_failure: after.last().map(|t| **t),
        }
    }

    /// How long new pods must still wait at `now`.
    pub fn remaining(&self, now: jiff::Timestamp) -> Duration {
        match self.last_failure {
            Some(last) => remaining(self.failures_after_last_success, last, now),
            None => Duration::ZERO,
        }
    }
}

/// The wait after `failures` failures, the latest finished at `last`.
pub fn remaining(failures: u32, last: jiff::Timestamp, now: jiff::Timestamp) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let mut delay = BASE;
    for _ in 1..failures {
        delay = delay.saturating_mul(2);
        if delay >= MAX {
            delay = MAX;
            break;
        }
    }
    let elapsed =
        Duration::from_millis((now.as_millisecond() - last.as_millisecond()).max(0) as u64);
    delay.saturating_sub(elapsed)
}

/// When a pod finished: its containers' latest finish, else when it stopped being ready,
/// else when its deletion began, else its creation (it never started).
pub fn finished_at(pod: &Pod) -> jiff::Timestamp {
    let status = pod.status.as_ref();
    let containers: Option<jiff::Timestamp> = status
        .and_then(|s| s.container_statuses.as_ref())
        .filter(|c| !c.is_empty())
        .and_then(|cs| {
            cs.iter().try_fold(jiff::Timestamp::MIN, |latest, c| {
                let at = c
                    .state
                    .as_ref()?
                    .terminated
                    .as_ref()?
                    .finished_at
                    .as_ref()?
                    .0;
                Some(latest.max(at))
            })
        });
    let unready = || {
        status?
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_ == "Ready" && c.status == "False")?
            .last_transition_time
            .as_ref()
            .map(|t| t.0)
    };
    let deleted = || {
        let at = pod.metadata.deletion_timestamp.as_ref()?.0;
        let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(0);
        Some(at - jiff::SignedDuration::from_secs(grace))
    };
    containers
        .or_else(unready)
        .or_else(deleted)
        .or_else(|| pod.metadata.creation_timestamp.as_ref().map(|t| t.0))
        .unwrap_or_else(jiff::Timestamp::now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_000_000 + s).unwrap()
    }

    #[test]
    fn delays_double_per_failure_up_to_ten_minutes() {
        assert_eq!(remaining(1, at(0), at(0)), Duration::from_secs(10));
        assert_eq!(remaining(2, at(0), at(5)), Duration::from_secs(15));
        assert_eq!(remaining(3, at(0), at(0)), Duration::from_secs(40));
        assert_eq!(remaining(7, at(0), at(0)), Duration::from_secs(600));
        assert_eq!(remaining(30, at(0), at(0)), Duration::from_secs(600));
        assert_eq!(remaining(1, at(0), at(11)), Duration::ZERO);
        assert_eq!(remaining(0, at(0), at(0)), Duration::ZERO);
    }

    #[test]
    fn a_success_resets_the_count() {
        let r = Record::default().updated(&[], &[at(1), at(2)]);
        assert_eq!(r.failures_after_last_success, 2);
        assert_eq!(r.last_failure, Some(at(2)));
        let r = r.updated(&[at(3)], &[]);
        assert_eq!(r, Record::default());
        // Failures after the success in the same batch still count.
        let r = Record::default().updated(&[at(5)], &[at(4), at(6)]);
        assert_eq!(
            (r.failures_after_last_success, r.last_failure),
            (1, Some(at(6)))
        );
        assert_eq!(r.updated(&[], &[]), r);
    }
}
