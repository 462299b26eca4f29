//! The Job controller: runs pods until `completions` succeed (or, Indexed, until every index
//! has, or a successPolicy rule is met), at most `parallelism` at a time; counts finished pods
//! through the `batch.kubernetes.io/job-tracking` finalizer (recorded in
//! `uncountedTerminatedPods` before the finalizer goes, so nothing is counted twice or lost);
//! backs off exponentially after failures ([`backoff`]); fails at backoffLimit (container
//! restarts count under restartPolicy OnFailure), activeDeadlineSeconds, a podFailurePolicy
//! FailJob rule or, with backoffLimitPerIndex ([`per_index`]), failed indexes (FailureTarget,
//! then Failed once pods are gone); succeeds with SuccessCriteriaMet, then Complete; suspends
//! and resumes; replaces terminating pods at once or only once they failed
//! (podReplacementPolicy). [`ttl`] deletes finished Jobs after ttlSecondsAfterFinished.

mod backoff;
mod indexes;
mod manage;
mod per_index;
mod pod_template;
mod policy;
mod run;
mod success_policy;
mod tracking;
pub mod ttl;

use crate::events::ComponentRecorder;
use crate::manager::Context;
use crate::ownership::{claim, controller_of, selector_matches};
use crate::pods;
use crate::runtime::expectations::Expectations;
use crate::runtime::{Key, WorkQueue, informer::forward};
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const COMPONENT: &str = "job-controller";
/// Keeps a finished pod until the controller has counted it.
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
/// Annotation and label with an Indexed Job pod's index.
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";

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
        backoff: Mutex::new(HashMap::new()),
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
    /// Each Job's pod-failure back-off.
    backoff: Mutex<HashMap<Key, backoff::Record>>,
    /// Pods whose tracking finalizer this controller removed, per Job, so a cache that is
    /// behind never counts one twice (upstream's finalizer expectations).
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

/// Set a condition as upstream's `ensureJobConditionStatus`: a changed status, reason or
/// message replaces it (with fresh times); a new False condition is not added. Returns whether
/// anything changed.
fn set_condition(status: &mut JobStatus, t: &str, s: &str, reason: &str, message: &str) -> bool {
    let fresh = JobCondition {
        type_: t.into(),
        status: s.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: Some(Time(now())),
        last_transition_time: Some(Time(now())),
    };
    let conds = status.conditions.get_or_insert_with(Vec::new);
    if let Some(c) = conds.iter_mut().find(|c| c.type_ == t) {
        let same = c.status == s
            && c.reason.as_deref().unwrap_or("") == reason
            && c.message.as_deref().unwrap_or("") == message;
        if !same {
            *c = fresh;
        }
        return !same;
    }
    if s == "False" {
        return false;
    }
    conds.push(fresh);
    true
}

fn has_finalizer(pod: &Pod) -> bool {
    pod.finalizers().iter().any(|f| f == TRACKING_FINALIZER)
}

fn index_of(pod: &Pod) -> Option<i32> {
    pod.annotations()
        .get(COMPLETION_INDEX)
        .and_then(|v| v.parse().ok())
        .filter(|i: &i32| *i >= 0)
}

/// Only failed pods are replaced (podReplacementPolicy Failed, implied by a podFailurePolicy):
/// a terminating pod is neither failed nor replaced until it reaches phase Failed.
fn only_replace_failed(job: &Job) -> bool {
    let spec = job.spec.as_ref();
    spec.and_then(|s| s.pod_replacement_policy.as_deref()) == Some("Failed")
        || spec.is_some_and(|s| s.pod_failure_policy.is_some())
}

/// Whether a pod counts as failed: phase Failed or, unless only failed pods are replaced,
/// being deleted before it succeeded (orphans never reach a phase).
fn is_pod_failed(pod: &Pod, job: &Job) -> bool {
    match pods::phase(pod) {
        "Failed" => true,
        _ if only_replace_failed(job) => false,
        phase => pod.metadata.deletion_timestamp.is_some() && phase != "Succeeded",
    }
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
            self.forget(key);
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
            self.backoff.lock().expect("back-off lock").remove(key);
            return Ok(None);
        }
        run::Run::new(self, key, job, pod_api, owned).sync().await
    }

    fn forget(&self, key: &Key) {
        self.expectations.forget(key);
        self.counted.lock().expect("counted lock").remove(key);
        self.backoff.lock().expect("back-off lock").remove(key);
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

/// Drop the tracking finalizer (upstream's `$deleteFromPrimitiveList` patch, so a pod that
/// changed since the cache saw it, e.g. was just deleted, needs no retry). A pod already gone
/// is fine.
async fn remove_finalizer(api: &Api<Pod>, pod: &Pod) -> anyhow::Result<()> {
    if !has_finalizer(pod) {
        return Ok(());
    }
    let patch = json!({"metadata": {
        "$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER],
    }});
    match api
        .patch(
            &pod.name_any(),
            &PatchParams::default(),
            &Patch::Strategic(&patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context(format!(
            "removing the tracking finalizer of pod {}",
            pod.name_any()
        ))),
    }
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
