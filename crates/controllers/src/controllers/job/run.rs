//! One sync of one Job, in upstream's order: count what finished, decide whether the Job is
//! ending (podFailurePolicy, backoffLimit, activeDeadlineSeconds, failed indexes, successPolicy,
//! completions), then either delete the remaining pods or create and delete pods towards
//! `parallelism`, and finally record it all ([`super::tracking`]).

use super::per_index;
use super::policy;
use super::success_policy;
use super::{
    Controller, backoff, has_finalizer, index_of, indexes, is_pod_failed, now, only_replace_failed,
    pod_template, remove_finalizer, set_condition,
};
use crate::ownership::controller_ref;
use crate::pods;
use crate::runtime::Key;
use k8s_openapi::api::batch::v1::{Job, JobSpec, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DeleteParams, PostParams};
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

    pub fn indexed(&self) -> bool {
        self.spec.completion_mode.as_deref() == Some("Indexed")
    }

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

    fn suspended(&self) -> bool {
        self.spec.suspend == Some(true)
    }

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

    /// Delete pods of an ending Job, keeping their finalizers so they are counted.
    async fn delete_active(&self, victims: &[Arc<Pod>]) -> anyhow::Result<i32> {
        let mut deleted = 0;
        for p in victims {
            match self
                .pod_api
                .delete(&p.name_any(), &DeleteParams::default())
                .await
            {
                Ok(_) => {
                    deleted += 1;
                    self.c.events.normal(
                        &self.job,
                        "SuccessfulDelete",
                        format!("Deleted pod: {}", p.name_any()),
                    );
                }
                Err(kube::Error::Api(s)) if s.code == 404 => deleted += 1,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(deleted)
    }

    /// Delete pods the Job no longer wants (suspended, too many): their finalizer goes first,
    /// so they are not counted as failures. Returns how many went and how many were ready.
    async fn delete_unwanted(&self, victims: &[Arc<Pod>]) -> anyhow::Result<(i32, i32)> {
        let (mut removed, mut ready) = (0, 0);
        for p in victims {
            remove_finalizer(&self.pod_api, p).await?;
            self.c
                .counted
                .lock()
                .expect("counted lock")
                .entry(self.key.clone())
                .or_default()
                .insert(p.uid().unwrap_or_default());
            self.c.expectations.expect_delete(self.key, p.name_any());
            match self
                .pod_api
                .delete(&p.name_any(), &DeleteParams::default())
                .await
            {
                Ok(_) => self.c.events.normal(
                    &self.job,
                    "SuccessfulDelete",
                    format!("Deleted pod: {}", p.name_any()),
                ),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
            removed += 1;
            if pods::is_ready(p) {
                ready += 1;
            }
        }
        Ok((removed, ready))
    }

    /// Active pods to delete: for Indexed Jobs first those without a valid index and all but
    /// one per repeated index, then in upstream's deletion order.
    fn pods_for_removal(&self, active: &[Arc<Pod>], at_least: usize) -> Vec<Arc<Pod>> {
        let mut rm: Vec<Arc<Pod>> = Vec::new();
        let mut left: Vec<Arc<Pod>> = Vec::new();
        if self.indexed() {
            let mut by_index: HashMap<i32, Vec<Arc<Pod>>> = HashMap::new();
            for p in active {
                match index_of(p).filter(|i| *i < self.completions()) {
                    Some(i) => by_index.entry(i).or_default().push(p.clone()),
                    None => rm.push(p.clone()),
                }
            }
            for (_, mut same) in by_index {
                same.sort_by(|a, b| pods::deletion_order(a, b));
                let keep = same.pop();
                rm.extend(same);
                left.extend(keep);
            }
        } else {
            left = active.to_vec();
        }
        if rm.len() < at_least {
            left.sort_by(|a, b| pods::deletion_order(a, b));
            let more = at_least - rm.len();
            rm.extend(left.into_iter().take(more));
        }
        rm
    }

    /// Create or delete pods towards the wanted number of active ones. Returns the active
    /// count after, how many ready pods were deleted, and when to look again while backing off.
    async fn manage(
        &mut self,
        active: &[Arc<Pod>],
        succeeded: i32,
    ) -> anyhow::Result<(i32, i32, Option<Duration>)> {
        let have = active.len() as i32;
        if self.suspended() {
            let mut victims = active.to_vec();
            victims.sort_by(|a, b| pods::deletion_order(a, b));
            let (removed, ready) = self.delete_unwanted(&victims).await?;
            self.terminating += removed;
            return Ok((have - removed, ready, None));
        }
        let parallelism = self.spec.parallelism.unwrap_or(1).max(0);
        let want = match self.spec.completions {
            None if succeeded > 0 => have,
            None => parallelism,
            Some(c) => (c - succeeded).clamp(0, parallelism),
        };
        let victims = self.pods_for_removal(active, (have - want).max(0) as usize);
        if !victims.is_empty() {
            let (removed, ready) = self.delete_unwanted(&victims).await?;
            self.terminating += removed;
            return Ok((have - removed, ready, None));
        }
        let terminating = if only_replace_failed(&self.job) {
            self.terminating
        } else {
            0
        };
        let diff = want - terminating - have;
        if diff <= 0 {
            return Ok((have, 0, None));
        }
        let per_index = self.spec.backoff_limit_per_index.is_some();
        let now = jiff::Timestamp::now();
        if !per_index {
            let wait = self.backoff.remaining(now);
            if !wait.is_zero() {
                return Ok((have, 0, Some(wait)));
            }
        }
        let to_create: Vec<Option<i32>> = if self.indexed() {
            let mut pending = self.first_pending_indexes(active, diff as usize);
            if per_index {
                let waits: Vec<Duration> = pending
                    .iter()
                    .map(|i| per_index::remaining(self.awaiting.get(i).map(|p| p.as_ref()), now))
                    .collect();
                let ready_now: Vec<i32> = pending
                    .iter()
                    .zip(&waits)
                    .filter(|(_, w)| w.is_zero())
                    .map(|(i, _)| *i)
                    .collect();
                if ready_now.is_empty() && !pending.is_empty() {
                    return Ok((have, 0, waits.into_iter().min()));
                }
                pending = ready_now;
            }
            pending.into_iter().map(Some).collect()
        } else {
            vec![None; diff as usize]
        };
        let created = self.create_pods(&to_create).await?;
        Ok((have + created, 0, None))
    }

    /// The lowest indexes not succeeded, failed, running or (when only failed pods are
    /// replaced) terminating.
    fn first_pending_indexes(&self, active: &[Arc<Pod>], count: usize) -> Vec<i32> {
        let mut busy: BTreeSet<i32> = self.succeeded_indexes.clone();
        busy.extend(active.iter().filter_map(|p| index_of(p)));
        if only_replace_failed(&self.job) {
            busy.extend(
                self.pods
                    .iter()
                    .filter(|p| pods::is_terminating(p))
                    .filter_map(|p| index_of(p)),
            );
        }
        busy.extend(self.failed_indexes.iter().flatten());
        (0..self.completions())
            .filter(|i| !busy.contains(i))
            .take(count)
            .collect()
    }

    /// Create pods in batches of 1, 2, 4 ... (upstream's slow start); returns how many exist.
    async fn create_pods(&mut self, to_create: &[Option<i32>]) -> anyhow::Result<i32> {
        let template = self.spec.template.clone();
        let owner = controller_ref(&self.job);
        let name = self.job.name_any();
        let per_index = self.spec.backoff_limit_per_index.is_some();
        let pp = PostParams::default();
        let mut created = 0;
        let mut batch = 1usize;
        let mut i = 0usize;
        while i < to_create.len() {
            let n = batch.min(to_create.len() - i);
            let pods: Vec<Pod> = to_create[i..i + n]
                .iter()
                .map(|idx| {
                    let mut pod = pod_template::build(&template, owner.clone(), &name, *idx);
                    if let (Some(ix), true) = (idx, per_index) {
                        let replaced = self.awaiting.get(ix).map(|p| p.as_ref());
                        let (failures, ignored) = per_index::next_counts(&self.job, replaced);
                        let a = pod
                            .metadata
                            .annotations
                            .get_or_insert_with(Default::default);
                        a.insert(per_index::FAILURE_COUNT.into(), failures.to_string());
                        if ignored > 0 {
                            a.insert(per_index::IGNORED_FAILURE_COUNT.into(), ignored.to_string());
                        }
                    }
                    pod
                })
                .collect();
            let results =
                futures::future::join_all(pods.iter().map(|p| self.pod_api.create(&pp, p))).await;
            for r in results {
                match r {
                    Ok(p) => {
                        created += 1;
                        self.c.expectations.expect_create(self.key, p.name_any());
                        self.c.events.normal(
                            &self.job,
                            "SuccessfulCreate",
                            format!("Created pod: {}", p.name_any()),
                        );
                    }
                    Err(e) => {
                        let msg = crate::error_message(&e);
                        self.c.events.warning(
                            &self.job,
                            "FailedCreate",
                            format!("Error creating: {msg}"),
                        );
                        return Err(e.into());
                    }
                }
            }
            i += n;
            batch *= 2;
        }
        Ok(created)
    }
}
