//! The Job controller: runs pods until `completions` succeed (or, Indexed, until every index
//! has), at most `parallelism` at a time; counts finished pods through the
//! `batch.kubernetes.io/job-tracking` finalizer (recorded in `uncountedTerminatedPods` before
//! the finalizer goes, so nothing is counted twice or lost); backs off exponentially after
//! failures; fails at backoffLimit, activeDeadlineSeconds or a podFailurePolicy FailJob rule
//! (FailureTarget, then Failed once pods are gone); succeeds with SuccessCriteriaMet, then
//! Complete; suspends and resumes. [`ttl`] deletes finished Jobs after ttlSecondsAfterFinished.

mod indexes;
mod pod_template;
mod policy;
pub mod ttl;

use crate::events::ComponentRecorder;
use crate::manager::Context;
use crate::ownership::{claim, controller_of, controller_ref, selector_matches};
use crate::pods;
use crate::runtime::expectations::Expectations;
use crate::runtime::{Key, WorkQueue, informer::forward};
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const COMPONENT: &str = "job-controller";
/// Keeps a finished pod until the controller has counted it.
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
/// Annotation and label with an Indexed Job pod's index.
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
/// First back-off after a failure; doubles per failure up to [`MAX_BACKOFF`].
pub const BASE_BACKOFF: Duration = Duration::from_secs(10);
pub const MAX_BACKOFF: Duration = Duration::from_secs(360);

pub fn start(ctx: &Arc<Context>) {
    let queue = WorkQueue::new();
    forward(&ctx.informers.jobs, queue.clone(), |c| {
        vec![Key::of(c.object().as_ref())]
    });
    let jobs = ctx.informers.jobs.clone();
    forward(&ctx.informers.pods, queue.clone(), move |c| {
        let pod = c.object();
        let ns = pod.namespace().unwrap_or_default();
        match controller_of(&pod.metadata) {
            Some(r) if r.kind == "Job" => vec![Key::new(ns, r.name.clone())],
            Some(_) => vec![],
            None => jobs
                .list_namespaced(&ns)
                .iter()
                .filter(|j| {
                    j.spec
                        .as_ref()
                        .and_then(|s| s.selector.as_ref())
                        .is_some_and(|s| selector_matches(s, pod.labels()))
                })
                .map(|j| Key::of(j.as_ref()))
                .collect(),
        }
    });
    let controller = Arc::new(Controller {
        ctx: ctx.clone(),
        events: ctx.recorder.for_component(COMPONENT),
        expectations: Expectations::default(),
        last_failure: Mutex::new(HashMap::new()),
        counted: Mutex::new(HashMap::new()),
    });
    queue.run(COMPONENT, 4, move |key| {
        let c = controller.clone();
        async move { c.sync(&key).await }
    });
    ttl::start(ctx);
}

struct Controller {
    ctx: Arc<Context>,
    events: ComponentRecorder,
    expectations: Expectations,
    /// When each Job last had a pod failure counted (for the back-off).
    last_failure: Mutex<HashMap<Key, Instant>>,
    /// Pods already counted per Job, so a cache that is behind never counts one twice.
    counted: Mutex<HashMap<Key, HashSet<String>>>,
}

fn now() -> jiff::Timestamp {
    rkube_machinery::time::now_seconds()
}

/// Whether the Job has a True condition of this type.
pub fn has_condition(job: &Job, t: &str) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == t && c.status == "True"))
}

/// Complete or Failed.
pub fn finished(job: &Job) -> bool {
    has_condition(job, "Complete") || has_condition(job, "Failed")
}

fn set_condition(status: &mut JobStatus, t: &str, s: &str, reason: &str, message: &str) {
    let conds = status.conditions.get_or_insert_with(Vec::new);
    if let Some(c) = conds.iter_mut().find(|c| c.type_ == t) {
        if c.status != s {
            c.last_transition_time = Some(Time(now()));
        }
        c.status = s.into();
        c.reason = Some(reason.into());
        c.message = Some(message.into());
        c.last_probe_time = Some(Time(now()));
        return;
    }
    conds.push(JobCondition {
        type_: t.into(),
        status: s.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: Some(Time(now())),
        last_transition_time: Some(Time(now())),
    });
}

fn has_finalizer(pod: &Pod) -> bool {
    pod.finalizers().iter().any(|f| f == TRACKING_FINALIZER)
}

fn index_of(pod: &Pod) -> Option<i32> {
    pod.annotations()
        .get(COMPLETION_INDEX)
        .and_then(|v| v.parse().ok())
}

impl Controller {
    async fn sync(&self, key: &Key) -> anyhow::Result<Option<Duration>> {
        if self
            .ctx
            .informers
            .jobs
            .get(Some(&key.namespace), &key.name)
            .is_none()
        {
            self.expectations.forget(key);
            self.counted.lock().expect("counted lock").remove(key);
            self.release_orphans(key).await?;
            return Ok(None);
        }
        // Counts build on the status: read it fresh, never from a cache that may be behind.
        let jobs: Api<Job> = Api::namespaced(self.ctx.client.clone(), &key.namespace);
        let Some(job) = jobs.get_opt(&key.name).await? else {
            self.release_orphans(key).await?;
            return Ok(None);
        };
        let pod_api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &key.namespace);
        let selector = job
            .spec
            .as_ref()
            .and_then(|s| s.selector.clone())
            .unwrap_or_default();
        let candidates = self.ctx.informers.pods.list_namespaced(&key.namespace);
        let owned = claim(
            &job,
            |l| selector_matches(&selector, l),
            candidates,
            &pod_api,
        )
        .await?;
        // A finished Job, or one being deleted, lets go of its pods.
        if finished(&job) || job.metadata.deletion_timestamp.is_some() {
            for p in owned.iter().filter(|p| has_finalizer(p)) {
                remove_finalizer(&pod_api, p).await?;
            }
            return Ok(None);
        }
        let mut run = Run {
            c: self,
            key,
            status: job.status.clone().unwrap_or_default(),
            job,
            pod_api,
        };
        run.sync(owned).await
    }
}

impl Controller {
    /// Pods still carrying the tracking finalizer of a Job that is gone: nobody will count them
    /// any more, so the finalizer goes (upstream's orphan-pod handling), or they would never be
    /// deleted and their namespace never emptied.
    async fn release_orphans(&self, key: &Key) -> anyhow::Result<()> {
        let pod_api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &key.namespace);
        for p in self.ctx.informers.pods.list_namespaced(&key.namespace) {
            let controlled_by_job = p
                .owner_references()
                .iter()
                .any(|r| r.controller == Some(true) && r.kind == "Job" && r.name == key.name);
            if controlled_by_job && has_finalizer(&p) {
                remove_finalizer(&pod_api, &p).await?;
            }
        }
        Ok(())
    }
}

async fn remove_finalizer(api: &Api<Pod>, pod: &Pod) -> anyhow::Result<()> {
    let left: Vec<&String> = pod
        .finalizers()
        .iter()
        .filter(|f| *f != TRACKING_FINALIZER)
        .collect();
    let patch = json!({"metadata": {
        "finalizers": if left.is_empty() { serde_json::Value::Null } else { json!(left) },
        "resourceVersion": pod.metadata.resource_version,
    }});
    match api
        .patch(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

struct Run<'a> {
    c: &'a Controller,
    key: &'a Key,
    job: Job,
    status: JobStatus,
    pod_api: Api<Pod>,
}

impl Run<'_> {
    fn spec(&self) -> k8s_openapi::api::batch::v1::JobSpec {
        self.job.spec.clone().unwrap_or_default()
    }

    fn indexed(&self) -> bool {
        self.spec().completion_mode.as_deref() == Some("Indexed")
    }

    async fn write_status(&mut self) -> anyhow::Result<()> {
        let api: Api<Job> = Api::namespaced(self.c.ctx.client.clone(), &self.key.namespace);
        let mut status = serde_json::to_value(&self.status)?;
        // Empty lists are left out (as upstream's omitempty); null removes them.
        let mut uncounted = json!({});
        for list in ["succeeded", "failed"] {
            let v = status
                .pointer(&format!("/uncountedTerminatedPods/{list}"))
                .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
                .cloned()
                .unwrap_or(serde_json::Value::Null);
            uncounted[list] = v;
        }
        status["uncountedTerminatedPods"] = uncounted;
        let current = self
            .job
            .status
            .as_ref()
            .map(serde_json::to_value)
            .transpose()?;
        if current.map(|c| strip_nulls(&c)) == Some(strip_nulls(&status)) {
            return Ok(());
        }
        let updated = api
            .patch_status(
                &self.key.name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": status})),
            )
            .await?;
        self.job.status = updated.status;
        Ok(())
    }

    async fn sync(&mut self, owned: Vec<Arc<Pod>>) -> anyhow::Result<Option<Duration>> {
        let fail_reason = self.count_finished(&owned).await?;
        let active: Vec<&Arc<Pod>> = owned.iter().filter(|p| pods::is_active(p)).collect();
        let terminating = owned.iter().filter(|p| pods::is_terminating(p)).count() as i32;
        self.status.active = Some(active.len() as i32);
        self.status.ready = Some(active.iter().filter(|p| pods::is_ready(p)).count() as i32);
        self.status.terminating = Some(terminating);
        let spec = self.spec();

        if let Some((reason, message)) = fail_reason {
            self.fail(&reason, &message);
        }
        // Finishing: pods go first, then the final condition.
        let target = if has_condition_in(&self.status, "FailureTarget") {
            Some("Failed")
        } else if has_condition_in(&self.status, "SuccessCriteriaMet") {
            Some("Complete")
        } else {
            None
        };
        if let Some(final_type) = target {
            self.delete_pods(&active).await?;
            let uncounted = self
                .status
                .uncounted_terminated_pods
                .as_ref()
                .is_some_and(|u| {
                    !u.succeeded.as_deref().unwrap_or_default().is_empty()
                        || !u.failed.as_deref().unwrap_or_default().is_empty()
                });
            if active.is_empty() && terminating == 0 && !uncounted {
                self.finish(final_type);
            }
            self.write_status().await?;
            return Ok(None);
        }

        if spec.suspend == Some(true) {
            self.delete_pods(&active).await?;
            if !has_condition_in(&self.status, "Suspended") {
                set_condition(
                    &mut self.status,
                    "Suspended",
                    "True",
                    "JobSuspended",
                    "Job suspended",
                );
                self.c
                    .events
                    .normal(&self.job, "Suspended", "Job suspended");
            }
            self.status.active = Some(0);
            self.write_status().await?;
            return Ok(None);
        }
        if has_condition_in(&self.status, "Suspended") {
            set_condition(
                &mut self.status,
                "Suspended",
                "False",
                "JobResumed",
                "Job resumed",
            );
            self.c.events.normal(&self.job, "Resumed", "Job resumed");
            self.status.start_time = Some(Time(now()));
        }
        if self.status.start_time.is_none() {
            self.status.start_time = Some(Time(now()));
        }

        // Deadlines and limits.
        let mut requeue = None;
        if let Some(deadline) = spec.active_deadline_seconds {
            let started = self
                .status
                .start_time
                .as_ref()
                .map(|t| t.0)
                .unwrap_or_else(now);
            let elapsed = jiff::Timestamp::now().as_second() - started.as_second();
            if elapsed >= deadline {
                self.fail(
                    "DeadlineExceeded",
                    "Job was active longer than specified deadline",
                );
            } else {
                requeue = Some(Duration::from_secs((deadline - elapsed) as u64));
            }
        }
        if self.status.failed.unwrap_or(0) > spec.backoff_limit.unwrap_or(6)
            && !has_condition_in(&self.status, "FailureTarget")
        {
            self.fail(
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            );
        }
        if !has_condition_in(&self.status, "FailureTarget") && self.succeeded_enough(active.len()) {
            set_condition(
                &mut self.status,
                "SuccessCriteriaMet",
                "True",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
            );
        }
        if has_condition_in(&self.status, "FailureTarget")
            || has_condition_in(&self.status, "SuccessCriteriaMet")
        {
            self.delete_pods(&active).await?;
            if active.is_empty() && terminating == 0 {
                let t = if has_condition_in(&self.status, "FailureTarget") {
                    "Failed"
                } else {
                    "Complete"
                };
                self.finish(t);
            }
            self.write_status().await?;
            return Ok(if active.is_empty() {
                None
            } else {
                Some(Duration::from_millis(500))
            });
        }

        let observed = self.c.expectations.satisfied(self.key, |name| {
            self.c
                .ctx
                .informers
                .pods
                .get(Some(&self.key.namespace), name)
                .map(|p| p.metadata.deletion_timestamp.is_some())
        });
        if observed && let Some(wait) = self.manage(&active).await? {
            requeue = Some(requeue.map_or(wait, |r: Duration| r.min(wait)));
        }
        self.write_status().await?;
        Ok(requeue)
    }

    fn fail(&mut self, reason: &str, message: &str) {
        if has_condition_in(&self.status, "FailureTarget") {
            return;
        }
        set_condition(&mut self.status, "FailureTarget", "True", reason, message);
        self.c.events.warning(&self.job, reason, message);
    }

    fn finish(&mut self, t: &str) {
        let (reason, message) = if t == "Complete" {
            self.status.completion_time = Some(Time(now()));
            self.c
                .events
                .normal(&self.job, "Completed", "Job completed");
            (
                "CompletionsReached".to_string(),
                "Reached expected number of succeeded pods".to_string(),
            )
        } else {
            let target = self
                .status
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == "FailureTarget")
                .cloned();
            (
                target
                    .as_ref()
                    .and_then(|c| c.reason.clone())
                    .unwrap_or_default(),
                target.and_then(|c| c.message).unwrap_or_default(),
            )
        };
        set_condition(&mut self.status, t, "True", &reason, &message);
    }

    fn succeeded_enough(&self, active: usize) -> bool {
        let spec = self.spec();
        let succeeded = self.status.succeeded.unwrap_or(0);
        if self.indexed() {
            let done = indexes::parse(self.status.completed_indexes.as_deref().unwrap_or(""));
            return done.len() as i32 >= spec.completions.unwrap_or(1);
        }
        match spec.completions {
            Some(c) => succeeded >= c,
            None => succeeded > 0 && active == 0,
        }
    }

    /// Record newly finished pods in uncountedTerminatedPods, drop their finalizers, then move
    /// them to the counters. Returns a failure a podFailurePolicy rule demands.
    async fn count_finished(
        &mut self,
        owned: &[Arc<Pod>],
    ) -> anyhow::Result<Option<(String, String)>> {
        let mut uncounted = self
            .status
            .uncounted_terminated_pods
            .clone()
            .unwrap_or_default();
        let mut succeeded: Vec<String> = uncounted.succeeded.clone().unwrap_or_default();
        let mut failed: Vec<String> = uncounted.failed.clone().unwrap_or_default();
        let already = self
            .c
            .counted
            .lock()
            .expect("counted lock")
            .get(self.key)
            .cloned()
            .unwrap_or_default();
        // A stale status may still list pods that were counted since.
        succeeded.retain(|u| !already.contains(u));
        failed.retain(|u| !already.contains(u));
        let known: HashSet<String> = succeeded
            .iter()
            .chain(failed.iter())
            .chain(already.iter())
            .cloned()
            .collect();
        let mut fail_reason = None;
        let mut ignored: HashSet<String> = HashSet::new();
        let mut added = false;
        let policy = self.spec().pod_failure_policy;
        for p in owned.iter().filter(|p| has_finalizer(p)) {
            let uid = p.uid().unwrap_or_default();
            if known.contains(&uid) {
                continue;
            }
            match pods::phase(p) {
                "Succeeded" => {
                    succeeded.push(uid);
                    added = true;
                }
                phase if phase == "Failed" || p.metadata.deletion_timestamp.is_some() => {
                    match policy::evaluate(policy.as_ref(), p) {
                        policy::Action::Ignore => {
                            ignored.insert(uid);
                            continue;
                        }
                        policy::Action::FailJob(msg) => {
                            fail_reason = Some(("PodFailurePolicy".to_string(), msg))
                        }
                        policy::Action::Count => {}
                    }
                    failed.push(uid);
                    added = true;
                }
                _ => {}
            }
        }
        if added {
            uncounted.succeeded = Some(succeeded.clone());
            uncounted.failed = Some(failed.clone());
            self.status.uncounted_terminated_pods = Some(uncounted);
            self.write_status().await?;
        }
        let pending: HashSet<&String> = succeeded.iter().chain(failed.iter()).collect();
        let by_uid: HashMap<String, &Arc<Pod>> = owned
            .iter()
            .map(|p| (p.uid().unwrap_or_default(), p))
            .collect();
        for p in owned.iter().filter(|p| has_finalizer(p)) {
            let uid = p.uid().unwrap_or_default();
            if pending.contains(&uid) || ignored.contains(&uid) {
                remove_finalizer(&self.pod_api, p).await?;
            }
        }
        if succeeded.is_empty() && failed.is_empty() {
            return Ok(fail_reason);
        }
        // Every uncounted pod has lost its finalizer (or is gone): count them.
        let mut done = indexes::parse(self.status.completed_indexes.as_deref().unwrap_or(""));
        for uid in &succeeded {
            if let Some(i) = by_uid.get(uid).and_then(|p| index_of(p)) {
                done.insert(i);
            }
        }
        self.status.succeeded = Some(self.status.succeeded.unwrap_or(0) + succeeded.len() as i32);
        if !failed.is_empty() {
            self.status.failed = Some(self.status.failed.unwrap_or(0) + failed.len() as i32);
            self.c
                .last_failure
                .lock()
                .expect("back-off lock")
                .insert(self.key.clone(), Instant::now());
        }
        if self.indexed() {
            self.status.completed_indexes = Some(indexes::format(&done));
        }
        self.c
            .counted
            .lock()
            .expect("counted lock")
            .entry(self.key.clone())
            .or_default()
            .extend(succeeded.iter().chain(failed.iter()).cloned());
        self.status.uncounted_terminated_pods = Some(UncountedTerminatedPods::default());
        Ok(fail_reason)
    }

    async fn delete_pods(&self, victims: &[&Arc<Pod>]) -> anyhow::Result<()> {
        for p in victims {
            match self
                .pod_api
                .delete(&p.name_any(), &DeleteParams::default())
                .await
            {
                Ok(_) => {
                    self.c.expectations.expect_delete(self.key, p.name_any());
                    self.c.events.normal(
                        &self.job,
                        "SuccessfulDelete",
                        format!("Deleted pod: {}", p.name_any()),
                    );
                }
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Create or delete pods towards the wanted number of active ones; returns when to look
    /// again while backing off.
    async fn manage(&mut self, active: &[&Arc<Pod>]) -> anyhow::Result<Option<Duration>> {
        let spec = self.spec();
        let parallelism = spec.parallelism.unwrap_or(1).max(0);
        let succeeded = self.status.succeeded.unwrap_or(0);
        let done_indexes = indexes::parse(self.status.completed_indexes.as_deref().unwrap_or(""));
        let want = if self.indexed() {
            let remaining = spec.completions.unwrap_or(1) - done_indexes.len() as i32;
            parallelism.min(remaining.max(0))
        } else {
            match spec.completions {
                Some(c) => parallelism.min((c - succeeded).max(0)),
                None if succeeded > 0 => active.len() as i32,
                None => parallelism,
            }
        };
        let have = active.len() as i32;
        if have > want {
            let mut victims: Vec<&Arc<Pod>> = active.to_vec();
            victims.sort_by(|a, b| pods::deletion_order(a, b));
            victims.truncate((have - want) as usize);
            self.delete_pods(&victims).await?;
            self.status.active = Some(want);
            return Ok(None);
        }
        if have == want {
            return Ok(None);
        }
        // Back-off after failures: 10 s, 20 s, 40 s ... up to 6 minutes.
        let failed = self.status.failed.unwrap_or(0);
        if failed > 0 {
            let delay = BASE_BACKOFF
                .saturating_mul(2u32.saturating_pow((failed - 1).clamp(0, 16) as u32))
                .min(MAX_BACKOFF);
            let last = self
                .c
                .last_failure
                .lock()
                .expect("back-off lock")
                .get(self.key)
                .copied();
            if let Some(last) = last
                && last.elapsed() < delay
            {
                return Ok(Some(delay - last.elapsed()));
            }
        }
        let mut to_create: Vec<Option<i32>> = Vec::new();
        if self.indexed() {
            let busy: BTreeSet<i32> = active.iter().filter_map(|p| index_of(p)).collect();
            let completions = spec.completions.unwrap_or(1);
            for i in 0..completions {
                if to_create.len() as i32 >= want - have {
                    break;
                }
                if !done_indexes.contains(&i) && !busy.contains(&i) {
                    to_create.push(Some(i));
                }
            }
        } else {
            to_create = vec![None; (want - have) as usize];
        }
        let template = spec.template.clone();
        let owner = controller_ref(&self.job);
        let name = self.job.name_any();
        let pp = PostParams::default();
        let mut batch = 1usize;
        let mut i = 0usize;
        while i < to_create.len() {
            let n = batch.min(to_create.len() - i);
            let pods: Vec<Pod> = to_create[i..i + n]
                .iter()
                .map(|idx| pod_template::build(&template, owner.clone(), &name, *idx))
                .collect();
            let results =
                futures::future::join_all(pods.iter().map(|p| self.pod_api.create(&pp, p))).await;
            for r in results {
                match r {
                    Ok(p) => {
                        self.c.expectations.expect_create(self.key, p.name_any());
                        self.c.events.normal(
                            &self.job,
                            "SuccessfulCreate",
                            format!("Created pod: {}", p.name_any()),
                        );
                        self.status.active = Some(self.status.active.unwrap_or(0) + 1);
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
        Ok(None)
    }
}

fn has_condition_in(status: &JobStatus, t: &str) -> bool {
    status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == t && c.status == "True")
}

/// JSON without null members, for comparing what was written with what is stored.
fn strip_nulls(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => serde_json::Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}
