//! Counting finished pods without losing or doubling any (upstream's
//! `trackJobStatusAndRemoveFinalizers`): a finished pod's UID goes into
//! `status.uncountedTerminatedPods` (or, Indexed, its index into `completedIndexes`) and that is
//! written before its tracking finalizer is removed; UIDs whose pods lost the finalizer move to
//! the `succeeded` / `failed` counters. Once the Job is ending and nothing is left running or
//! uncounted, the final Failed or Complete condition follows its interim one.

use super::run::{Finish, Run};
use super::{
    index_of, indexes, is_pod_failed, now, policy, remove_finalizer, set_condition, strip_nulls,
};
use crate::pods;
use k8s_openapi::api::batch::v1::{Job, JobStatus, UncountedTerminatedPods};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use std::collections::HashSet;

/// Lists of UIDs recorded but not yet in the counters.
struct Uncounted {
    succeeded: Vec<String>,
    failed: Vec<String>,
}

impl Uncounted {
    fn from(status: &JobStatus) -> Self {
        let u = status.uncounted_terminated_pods.clone().unwrap_or_default();
        Uncounted {
            succeeded: u.succeeded.unwrap_or_default(),
            failed: u.failed.unwrap_or_default(),
        }
    }

    /// Move UIDs whose pods no longer carry the finalizer to the counters.
    fn settle(&mut self, status: &mut JobStatus, with_finalizer: &HashSet<String>) {
        let before = (self.succeeded.len(), self.failed.len());
        self.succeeded.retain(|u| with_finalizer.contains(u));
        self.failed.retain(|u| with_finalizer.contains(u));
        let settled_succeeded = (before.0 - self.succeeded.len()) as i32;
        let settled_failed = (before.1 - self.failed.len()) as i32;
        if settled_succeeded > 0 {
            status.succeeded = Some(status.succeeded.unwrap_or(0) + settled_succeeded);
        }
        if settled_failed > 0 {
            status.failed = Some(status.failed.unwrap_or(0) + settled_failed);
        }
        self.store(status);
    }

    fn store(&self, status: &mut JobStatus) {
        status.uncounted_terminated_pods = Some(UncountedTerminatedPods {
            succeeded: Some(self.succeeded.clone()),
            failed: Some(self.failed.clone()),
        });
    }

    fn is_empty(&self) -> bool {
        self.succeeded.is_empty() && self.failed.is_empty()
    }
}

/// Whether a pod's finalizer may go now: the Job is ending, the pod succeeded, or it failed
/// and is not the failed pod whose replacement (per index) still has to inherit its count.
fn can_remove(run: &Run, finish: &Option<Finish>, pod: &k8s_openapi::api::core::v1::Pod) -> bool {
    if finish.is_some() || pods::phase(pod) == "Succeeded" {
        return true;
    }
    if !is_pod_failed(pod, &run.job) {
        return false;
    }
    let awaited = index_of(pod)
        .and_then(|i| run.awaiting.get(&i))
        .is_some_and(|p| p.uid() == pod.uid());
    !awaited
}

pub(super) async fn track(
    run: &mut Run<'_>,
    finish: Option<Finish>,
    satisfied: bool,
) -> anyhow::Result<()> {
    let uid = |p: &k8s_openapi::api::core::v1::Pod| p.uid().unwrap_or_default();
    let mut with_finalizer: HashSet<String> = run
        .pods
        .iter()
        .filter(|p| run.uncounted_pod(p))
        .map(|p| uid(p))
        .collect();
    let mut uncounted = Uncounted::from(&run.status);
    uncounted.settle(&mut run.status, &with_finalizer);

    let failing = finish.as_ref().is_some_and(|f| !f.success);
    let failure_policy = run.spec.pod_failure_policy.clone();
    let mut pods = run.pods.clone();
    if run.indexed() {
        pods.sort_by_key(|p| index_of(p).unwrap_or(i32::MAX));
    }
    let mut to_remove = Vec::new();
    let mut new_indexes = Vec::new();
    for p in &pods {
        if !run.uncounted_pod(p) || !can_remove(run, &finish, p) {
            continue;
        }
        to_remove.push(p.clone());
        let id = uid(p);
        if pods::phase(p) == "Succeeded" && !uncounted.failed.contains(&id) {
            if run.indexed() {
                if let Some(i) = index_of(p).filter(|i| *i < run.completions())
                    && !run.prev_succeeded.contains(&i)
                {
                    new_indexes.push(i);
                }
            } else if !uncounted.succeeded.contains(&id) {
                uncounted.succeeded.push(id);
            }
        } else if (is_pod_failed(p, &run.job) || failing)
            && !uncounted.failed.contains(&id)
            && run.valid_index(p)
            && policy::evaluate(failure_policy.as_ref(), p).counts()
        {
            uncounted.failed.push(id);
        }
    }
    if run.indexed() {
        run.succeeded_indexes.extend(new_indexes);
        run.status.succeeded = Some(run.succeeded_indexes.len() as i32);
        run.status.completed_indexes = Some(indexes::format(&run.succeeded_indexes));
        if let Some(failed) = &run.failed_indexes {
            run.status.failed_indexes = Some(indexes::format(failed));
        }
    }
    if let Some(f) = &finish
        && !f.recorded
    {
        let interim = if f.success {
            "SuccessCriteriaMet"
        } else {
            "FailureTarget"
        };
        set_condition(&mut run.status, interim, "True", &f.reason, &f.message);
    }
    uncounted.store(&mut run.status);
    write_status(run).await?;
    run.c
        .backoff
        .lock()
        .expect("back-off lock")
        .insert(run.key.clone(), run.backoff.clone());

    for p in &to_remove {
        remove_finalizer(&run.pod_api, p).await?;
        run.c
            .counted
            .lock()
            .expect("counted lock")
            .entry(run.key.clone())
            .or_default()
            .insert(uid(p));
        with_finalizer.remove(&uid(p));
    }
    uncounted.settle(&mut run.status, &with_finalizer);

    if let Some(f) = finish
        && uncounted.is_empty()
        && run.terminating == 0
        && satisfied
    {
        finalize(run, &f);
    }
    write_status(run).await
}

/// The final condition and its event.
fn finalize(run: &mut Run, f: &Finish) {
    if f.success {
        set_condition(&mut run.status, "Complete", "True", &f.reason, &f.message);
        run.status.completion_time = Some(Time(now()));
        let succeeded = run.status.succeeded.unwrap_or(0);
        if run.spec.completions.is_some_and(|c| succeeded > c) {
            run.c.events.warning(
                &run.job,
                "TooManySucceededPods",
                "Too many succeeded pods running after completion count reached",
            );
        }
        run.c.events.normal(&run.job, "Completed", "Job completed");
    } else {
        set_condition(&mut run.status, "Failed", "True", &f.reason, &f.message);
        run.c.events.warning(&run.job, &f.reason, &f.message);
    }
}

/// Patch the status when it differs from what is stored.
async fn write_status(run: &mut Run<'_>) -> anyhow::Result<()> {
    let api: Api<Job> = Api::namespaced(run.c.ctx.client.clone(), &run.key.namespace);
    let mut status = serde_json::to_value(&run.status)?;
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
    let current = run
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
            &run.key.name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await?;
    run.job.status = updated.status;
    Ok(())
}
