//! The TTL-after-finished controller: a finished Job with `ttlSecondsAfterFinished` is deleted
//! (foreground, so its pods go first) that long after it finished.

use super::finished;
use crate::manager::Context;
use crate::runtime::{Key, WorkQueue, informer::forward};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{DeleteParams, Preconditions, PropagationPolicy};
use kube::{Api, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

pub fn start(ctx: &Arc<Context>) {
    let queue = WorkQueue::new();
    forward(&ctx.informers.jobs, queue.clone(), |c| {
        let j = c.object();
        let ttl = j.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished);
        if ttl.is_some() && finished(j) && j.metadata.deletion_timestamp.is_none() {
            vec![Key::of(j.as_ref())]
        } else {
            vec![]
        }
    });
    let ctx = ctx.clone();
    queue.run("ttl-after-finished-controller", 1, move |key| {
        let ctx = ctx.clone();
        async move { sync(&ctx, &key).await }
    });
}

/// When the Job finished: its completion time, or when it got its final condition.
fn finish_time(job: &Job) -> Option<jiff::Timestamp> {
    let status = job.status.as_ref()?;
    if let Some(t) = &status.completion_time {
        return Some(t.0);
    }
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .and_then(|c| c.last_transition_time.as_ref().map(|t| t.0))
}

async fn sync(ctx: &Context, key: &Key) -> anyhow::Result<Option<Duration>> {
    let Some(job) = ctx.informers.jobs.get(Some(&key.namespace), &key.name) else {
        return Ok(None);
    };
    let Some(ttl) = job.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished) else {
        return Ok(None);
    };
    if !finished(&job) || job.metadata.deletion_timestamp.is_some() {
        return Ok(None);
    }
    let Some(done) = finish_time(&job) else {
        return Ok(None);
    };
    let expires = done.as_millisecond() + i64::from(ttl) * 1000;
    let now = jiff::Timestamp::now().as_millisecond();
    if now < expires {
        return Ok(Some(Duration::from_millis((expires - now) as u64)));
    }
    let api: Api<Job> = Api::namespaced(ctx.client.clone(), &key.namespace);
    let dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Foreground),
        preconditions: Some(Preconditions {
            uid: job.uid(),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(&key.name, &dp).await {
        Ok(_) => Ok(None),
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(None),
        Err(e) => Err(e.into()),
    }
}
