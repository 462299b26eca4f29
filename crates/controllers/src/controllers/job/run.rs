//! One sync of one Job, in upstream's order: count what finished, decide whether the Job is
//! ending (podFailurePolicy, backoffLimit, activeDeadlineSeconds, failed indexes, successPolicy,
//! completions), then either delete the remaining pods or create and delete pods towards
//! `parallelism`, and finally record it all ([`super::tracking`]).

use super::per_index;
use super::policy;
use super::success_policy;
use super::{
    Controller, backoff, has_finalizer, index_of, indexes, is_pod_failed, now, set_condition,
};
use crate::pods;
use crate::runtime::Key;
use k8s_openapi::api::batch::v1::{Job, JobSpec, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{Api, ResourceExt};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// How the Job is ending: the interim condition (FailureTarget or SuccessCriteriaMet) and,
/// once no pod is left running or uncounted, the final one (Failed or Complete).
pub(super) struct Finish {
    pub success: bool,
    pub reason: String,
    pub message: String,
    /// The interim condition is already in the stored status.
    pub recorded: bool,
}

impl Finish {
    fn failure(reason: &str, message: impl Into<String>) -> Self {
        Finish {
            success: false,
            reason: reason.into(),
            message: message.into(),
            recorded: false,
        }
    }
}

/// The state of one sync.
pub(super) struct Run<'a> {
    pub c: &'a Controller,
    pub key: &'a Key,
    pub job: Job,
    pub spec: JobSpec,
    pub status: JobStatus,
    pub pod_api: Api<Pod>,
    pub pods: Vec<Arc<Pod>>,
    /// Pods whose finalizer was removed already (the cache may not show it yet).
    pub expected_rm: HashSet<String>,
    pub terminating: i32,
    /// Completed indexes as stored, and with the newly succeeded pods added.
    pub prev_succeeded: BTreeSet<i32>,
    pub succeeded_indexes: BTreeSet<i32>,
    /// Failed indexes (backoffLimitPerIndex only).
    pub failed_indexes: Option<BTreeSet<i32>>,
    /// Per index, the failed pod whose replacement inherits its failure count.
    pub awaiting: HashMap<i32, Arc<Pod>>,
    pub backoff: backoff::Record,
}

impl<'a> Run<'a> {
    /// A sync of `job` (fresh from the API) with the pods it owns.
    pub fn new(
        c: &'a Controller,
        key: &'a Key,
        job: Job,
        pod_api: Api<Pod>,
        pods: Vec<Arc<Pod>>,
    ) -> Self {
        let expected_rm = c
            .counted
            .lock()
            .expect("counted lock")
            .get(key)
            .cloned()
            .unwrap_or_default();
        Run {
            c,
            key,
            spec: job.spec.clone().unwrap_or_default(),
            status: job.status.clone().unwrap_or_default(),
            job,
            pod_api,
            pods,
            expected_rm,
            terminating: 0,
            prev_succeeded: BTreeSet::new(),
            succeeded_indexes: BTreeSet::new(),
            failed_indexes: None,
            awaiting: HashMap::new(),
            backoff: backoff::Record::default(),
        }
    }

    /// completionMode Indexed.
    pub fn indexed(&self) -> bool {
        self.spec.completion_mode.as_deref() == Some("Indexed")
    }

    /// spec.completions (1 when unset, as for Indexed Jobs it is always set).
    pub fn completions(&self) -> i32 {
        self.spec.completions.unwrap_or(1)
    }

    /// Pods of an Indexed Job need an index below completions.
    pub fn valid_index(&self, pod: &Pod) -> bool {
        !self.indexed() || index_of(pod).is_some_and(|i| i < self.completions())
    }

    /// Still carries the finalizer and was not counted by this controller.
    pub fn uncounted_pod(&self, pod: &Pod) -> bool {
        has_finalizer(pod) && !self.expected_rm.contains(&pod.uid().unwrap_or_default())
    }

    /// spec.suspend.
    pub fn suspended(&self) -> bool {
        self.spec.suspend == Some(true)
    }

    /// Run the sync; returns when to look again (deadline, back-off), if ever.
    pub async fn sync(mut self) -> anyhow::Result<Option<Duration>> {
        // Expectations first, as upstream: a pod created after this look waits for the next.
        let satisfied = self.c.expectations.satisfied(self.key, |name| {
            self.c
                .ctx
                .informers
                .pods
                .get(Some(&self.key.namespace), name)
                .map(|p| p.metadata.deletion_timestamp.is_some())
        });
        let active: Vec<Arc<Pod>> = self
            .pods
            .iter()
            .filter(|p| pods::is_active(p))
            .cloned()
            .collect();
        self.terminating = self.pods.iter().filter(|p| pods::is_terminating(p)).count() as i32;
        let uncounted = self
            .status
            .uncounted_terminated_pods
            .clone()
            .unwrap_or_default();
        let uncounted_succeeded: HashSet<String> = uncounted
            .succeeded
            .unwrap_or_default()
            .into_iter()
            .collect();
        let uncounted_failed: HashSet<String> =
            uncounted.failed.unwrap_or_default().into_iter().collect();
        let candidates: Vec<&Arc<Pod>> = self
            .pods
            .iter()
            .filter(|p| self.uncounted_pod(p) && self.valid_index(p))
            .collect();
        let uid = |p: &Pod| p.uid().unwrap_or_default();
        let new_succeeded: Vec<&Arc<Pod>> = candidates
            .iter()
            .filter(|p| pods::phase(p) == "Succeeded" && !uncounted_succeeded.contains(&uid(p)))
            .copied()
            .collect();
        let new_failed: Vec<&Arc<Pod>> = candidates
            .iter()
            .filter(|p| is_pod_failed(p, &self.job) && !uncounted_failed.contains(&uid(p)))
            .copied()
            .collect();
        let failure_policy = self.spec.pod_failure_policy.clone();
        let counted_failures = new_failed
            .iter()
            .filter(|p| policy::evaluate(failure_policy.as_ref(), p).counts())
            .count() as i32;
        let mut succeeded = self.status.succeeded.unwrap_or(0)
            + new_succeeded.len() as i32
            + uncounted_succeeded.len() as i32;
        let failed =
            self.status.failed.unwrap_or(0) + counted_failures + uncounted_failed.len() as i32;

        if self.status.start_time.is_none() && !self.suspended() {
            self.status.start_time = Some(Time(now()));
        }
        let finish_times = |v: &[&Arc<Pod>]| {
            v.iter()
                .map(|p| backoff::finished_at(p))
                .collect::<Vec<_>>()
        };
        let stored = self
            .c
            .backoff
            .lock()
            .expect("back-off lock")
            .get(self.key)
            .cloned()
            .unwrap_or_default();
        self.backoff = stored.updated(&finish_times(&new_succeeded), &finish_times(&new_failed));

        let mut requeue: Option<Duration> = None;
        let mut finish = self.recorded_finish();
        if finish.is_none() {
            finish = self
                .pods
                .iter()
                .filter(|p| is_pod_failed(p, &self.job))
                .find_map(|p| policy::evaluate(failure_policy.as_ref(), p).fail_job_message)
                .map(|m| Finish::failure("PodFailurePolicy", m));
        }
        if finish.is_none() {
            let limit = self.spec.backoff_limit.unwrap_or(6);
            if failed > limit || self.past_backoff_limit_on_failure(limit) {
                finish = Some(Finish::failure(
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                ));
            } else if let Some(left) = self.deadline_left() {
                if left.is_zero() {
                    finish = Some(Finish::failure(
                        "DeadlineExceeded",
                        "Job was active longer than specified deadline",
                    ));
                } else {
                    requeue = Some(left);
                }
            }
        }
        if self.indexed() {
            let completions = self.completions();
            self.prev_succeeded = indexes::parse_below(
                self.status.completed_indexes.as_deref().unwrap_or(""),
                completions,
            );
            self.succeeded_indexes = self.prev_succeeded.clone();
            self.succeeded_indexes.extend(
                self.pods
                    .iter()
                    .filter(|p| pods::phase(p) == "Succeeded" && has_finalizer(p))
                    .filter_map(|p| index_of(p))
                    .filter(|i| *i < completions),
            );
            succeeded = self.succeeded_indexes.len() as i32;
            if self.spec.backoff_limit_per_index.is_some() {
                let mut failed_ix = indexes::parse_below(
                    self.status.failed_indexes.as_deref().unwrap_or(""),
                    completions,
                );
                failed_ix.extend(
                    self.pods
                        .iter()
                        .filter(|p| has_finalizer(p) && self.valid_index(p))
                        .filter(|p| per_index::fails_index(&self.job, p))
                        .filter_map(|p| index_of(p)),
                );
                if finish.is_none() {
                    let n = failed_ix.len() as i32;
                    if self.spec.max_failed_indexes.is_some_and(|m| n > m) {
                        finish = Some(Finish::failure(
                            "MaxFailedIndexesExceeded",
                            "Job has exceeded the specified maximal number of failed indexes",
                        ));
                    } else if n > 0 && n + succeeded >= completions {
                        finish = Some(Finish::failure("FailedIndexes", "Job has failed indexes"));
                    }
                }
                let active_ix: BTreeSet<i32> = active.iter().filter_map(|p| index_of(p)).collect();
                self.awaiting = per_index::awaiting_replacement(
                    &self.job,
                    &candidates,
                    &self.succeeded_indexes,
                    &failed_ix,
                    &active_ix,
                );
                self.failed_indexes = Some(failed_ix);
            }
            if finish.is_none()
                && let Some(message) = success_policy::matched(
                    self.spec.success_policy.as_ref(),
                    completions,
                    &self.succeeded_indexes,
                )
            {
                finish = Some(Finish {
                    success: true,
                    reason: "SuccessPolicy".into(),
                    message,
                    recorded: false,
                });
            }
        }

        let mut active_count = active.len() as i32;
        let mut ready = active.iter().filter(|p| pods::is_ready(p)).count() as i32;
        if finish.is_some() {
            let deleted = self.delete_active(&active).await?;
            active_count -= deleted;
            self.terminating += deleted;
            ready = 0;
        } else {
            let mut managed = false;
            if satisfied {
                let (n, ready_removed, wait) = self.manage(&active, succeeded).await?;
                active_count = n;
                ready -= ready_removed;
                if let Some(w) = wait {
                    requeue = Some(requeue.map_or(w, |r| r.min(w)));
                }
                managed = true;
            }
            let complete = match self.spec.completions {
                None => succeeded > 0 && active_count == 0,
                Some(c) => succeeded >= c && active_count == 0,
            };
            if complete {
                finish = Some(Finish {
                    success: true,
                    reason: "CompletionsReached".into(),
                    message: "Reached expected number of succeeded pods".into(),
                    recorded: false,
                });
            } else if managed {
                self.update_suspended_condition();
            }
        }
        self.status.active = Some(active_count);
        self.status.ready = Some(ready.max(0));
        self.status.terminating = Some(self.terminating);
        super::tracking::track(&mut self, finish, satisfied).await?;
        Ok(requeue)
    }

    /// An interim condition a previous sync recorded.
    fn recorded_finish(&self) -> Option<Finish> {
        let find = |t: &str| {
            self.status
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == t && c.status == "True")
                .cloned()
        };
        let (success, c) = match find("SuccessCriteriaMet") {
            Some(c) => (true, c),
            None => (false, find("FailureTarget")?),
        };
        Some(Finish {
            success,
            reason: c.reason.unwrap_or_default(),
            message: c.message.unwrap_or_default(),
            recorded: true,
        })
    }

    /// restartPolicy OnFailure: container restarts of running and pending pods count towards
    /// backoffLimit (any restart at all with a limit of 0).
    fn past_backoff_limit_on_failure(&self, limit: i32) -> bool {
        let template = self.spec.template.spec.as_ref();
        if template.and_then(|s| s.restart_policy.as_deref()) != Some("OnFailure") {
            return false;
        }
        let restarts: i32 = self
            .pods
            .iter()
            .filter(|p| matches!(pods::phase(p), "Running" | "Pending"))
            .filter_map(|p| p.status.as_ref())
            .flat_map(|s| {
                s.init_container_statuses
                    .iter()
                    .flatten()
                    .chain(s.container_statuses.iter().flatten())
            })
            .map(|c| c.restart_count)
            .sum();
        if limit == 0 {
            restarts > 0
        } else {
            restarts >= limit
        }
    }

    /// With activeDeadlineSeconds, not suspended and started: how long until the deadline
    /// (zero once it passed).
    fn deadline_left(&self) -> Option<Duration> {
        let deadline = self.spec.active_deadline_seconds?;
        if self.suspended() {
            return None;
        }
        let started = self.status.start_time.as_ref()?.0;
        let elapsed = jiff::Timestamp::now().as_millisecond() - started.as_millisecond();
        let left = deadline.saturating_mul(1000) - elapsed;
        Some(Duration::from_millis(left.max(0) as u64))
    }

    /// Suspended True while suspended; False (and a fresh startTime) once resumed.
    fn update_suspended_condition(&mut self) {
        if self.suspended() {
            if set_condition(
                &mut self.status,
                "Suspended",
                "True",
                "JobSuspended",
                "Job suspended",
            ) {
                self.c
                    .events
                    .normal(&self.job, "Suspended", "Job suspended");
            }
        } else if set_condition(
            &mut self.status,
            "Suspended",
            "False",
            "JobResumed",
            "Job resumed",
        ) {
            self.c.events.normal(&self.job, "Resumed", "Job resumed");
            // activeDeadlineSeconds counts continuous activity, so it starts again.
            self.status.start_time = Some(Time(now()));
        }
    }
}
