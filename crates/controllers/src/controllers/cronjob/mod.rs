//! The CronJob controller: creates a Job (`<cronjob>-<minutes since the epoch>`) at each
//! scheduled time (in `timeZone` when set), honouring suspend, startingDeadlineSeconds and
//! concurrencyPolicy (Allow, Forbid, Replace); tracks active Jobs and the last schedule and
//! success times; deletes finished Jobs beyond the history limits.

pub mod schedule;

use crate::events::ComponentRecorder;
use crate::manager::Context;
use crate::ownership::{controller_of, controller_ref};
use crate::runtime::{Key, WorkQueue, informer::forward};
use k8s_openapi::api::batch::v1::{CronJob, Job, JobSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, PropagationPolicy};
use kube::{Api, ResourceExt};
use schedule::Schedule;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

pub const COMPONENT: &str = "cronjob-controller";
/// When the Job was scheduled to run (RFC 3339), on Jobs a CronJob creates.
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// Missed schedules beyond this are not counted one by one (upstream's limit).
const MAX_MISSED: usize = 100;

pub fn start(ctx: &Arc<Context>) {
    let queue = WorkQueue::new();
    forward(&ctx.informers.cron_jobs, queue.clone(), |c| {
        vec![Key::of(c.object().as_ref())]
    });
    forward(&ctx.informers.jobs, queue.clone(), |c| {
        let j = c.object();
        controller_of(&j.metadata)
            .filter(|r| r.kind == "CronJob")
            .map(|r| vec![Key::new(j.namespace().unwrap_or_default(), r.name.clone())])
            .unwrap_or_default()
    });
    let c = Arc::new(Controller {
        ctx: ctx.clone(),
        events: ctx.recorder.for_component(COMPONENT),
    });
    queue.run(COMPONENT, 2, move |key| {
        let c = c.clone();
        async move { c.sync(&key).await }
    });
}

struct Controller {
    ctx: Arc<Context>,
    events: ComponentRecorder,
}

fn job_finished(j: &Job) -> Option<&str> {
    j.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .map(|c| c.type_.as_str())
}

impl Controller {
    async fn sync(&self, key: &Key) -> anyhow::Result<Option<Duration>> {
        let Some(cj) = self
            .ctx
            .informers
            .cron_jobs
            .get(Some(&key.namespace), &key.name)
        else {
            return Ok(None);
        };
        let cj = (*cj).clone();
        if cj.metadata.deletion_timestamp.is_some() {
            return Ok(None);
        }
        let uid = cj.uid().unwrap_or_default();
        let jobs: Vec<Arc<Job>> = self
            .ctx
            .informers
            .jobs
            .list_namespaced(&key.namespace)
            .into_iter()
            .filter(|j| controller_of(&j.metadata).is_some_and(|r| r.uid == uid))
            .collect();
        let job_api: Api<Job> = Api::namespaced(self.ctx.client.clone(), &key.namespace);
        let mut status = cj.status.clone().unwrap_or_default();

        // Active and finished Jobs.
        let mut active = Vec::new();
        for j in &jobs {
            match job_finished(j) {
                Some(kind) => {
                    let was_active = status
                        .active
                        .iter()
                        .flatten()
                        .any(|r| r.uid.as_deref() == j.uid().as_deref());
                    if was_active {
                        self.events.normal(
                            &cj,
                            "SawCompletedJob",
                            format!("Saw completed job: {}, condition: {kind}", j.name_any()),
                        );
                    }
                    if kind == "Complete" {
                        let done = j.status.as_ref().and_then(|s| s.completion_time.clone());
                        if done.as_ref().map(|t| t.0)
                            > status.last_successful_time.as_ref().map(|t| t.0)
                        {
                            status.last_successful_time = done;
                        }
                    }
                }
                None if j.metadata.deletion_timestamp.is_none() => active.push(j.clone()),
                None => {}
            }
        }
        active.sort_by_key(|j| j.metadata.creation_timestamp.as_ref().map(|t| t.0));
        self.report_missing(&cj, &jobs, &job_api).await?;
        status.active = Some(
            active
                .iter()
                .map(|j| crate::events::reference(j.as_ref()))
                .collect(),
        );
        self.cleanup_history(&cj, &jobs, &job_api).await?;

        let spec = cj.spec.clone().unwrap_or_default();
        let tz_name = spec.time_zone.clone();
        let schedule = match Schedule::parse(&spec.schedule) {
            Ok(s) => s,
            Err(e) => {
                self.events.warning(
                    &cj,
                    "UnparseableSchedule",
                    format!("unparseable schedule: {:?} : {e}", spec.schedule),
                );
                self.write_status(&cj, &status).await?;
                return Ok(None);
            }
        };
        let tz_name = tz_name.or_else(|| schedule.time_zone.clone());
        let tz = match tz_name.as_deref() {
            Some(name) => match jiff::tz::TimeZone::get(name) {
                Ok(tz) => tz,
                Err(_) => {
                    self.events.warning(
                        &cj,
                        "UnknownTimeZone",
                        format!("invalid timeZone: {name:?}"),
                    );
                    self.write_status(&cj, &status).await?;
                    return Ok(None);
                }
            },
            None => jiff::tz::TimeZone::system(),
        };
        if spec.suspend == Some(true) {
            self.write_status(&cj, &status).await?;
            return Ok(None);
        }
        let now = jiff::Timestamp::now();
        let mut earliest = status
            .last_schedule_time
            .as_ref()
            .map(|t| t.0)
            .or_else(|| cj.metadata.creation_timestamp.as_ref().map(|t| t.0))
            .unwrap_or(now);
        // Nothing older than startingDeadlineSeconds is considered at all (upstream).
        if let Some(deadline) = spec.starting_deadline_seconds {
            earliest = earliest.max(now - jiff::SignedDuration::from_secs(deadline));
        }
        // The most recent missed time, if any.
        let mut missed = None;
        let mut count = 0;
        let mut t = earliest;
        while let Some(n) = schedule.next(t, &tz) {
            if n > now {
                break;
            }
            missed = Some(n);
            count += 1;
            t = n;
        }
        if count > MAX_MISSED {
            self.events.warning(&cj, "TooManyMissedTimes", "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew");
        }
        let next = schedule.next(now, &tz);
        let requeue = next.map(|n| {
            Duration::from_millis((n.as_millisecond() - now.as_millisecond()).max(0) as u64 + 100)
        });

        let Some(scheduled) = missed else {
            self.write_status(&cj, &status).await?;
            return Ok(requeue);
        };
        if let Some(deadline) = spec.starting_deadline_seconds
            && scheduled + jiff::SignedDuration::from_secs(deadline) < now
        {
            self.events.warning(
                &cj,
                "MissSchedule",
                format!(
                    "Missed scheduled time to start a job: {}",
                    scheduled
                        .to_zoned(jiff::tz::TimeZone::UTC)
                        .strftime("%a, %d %b %Y %H:%M:%S %z")
                ),
            );
            self.write_status(&cj, &status).await?;
            return Ok(requeue);
        }
        let name = format!("{}-{}", cj.name_any(), scheduled.as_second() / 60);
        if jobs.iter().any(|j| j.name_any() == name) {
            // Already created for this time.
            status.last_schedule_time = Some(Time(scheduled));
            self.write_status(&cj, &status).await?;
            return Ok(requeue);
        }
        match spec.concurrency_policy.as_deref() {
            Some("Forbid") if !active.is_empty() => {
                self.events.normal(&cj, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid");
                self.write_status(&cj, &status).await?;
                return Ok(requeue);
            }
            Some("Replace") => {
                for j in &active {
                    let dp = DeleteParams {
                        propagation_policy: Some(PropagationPolicy::Background),
                        ..Default::default()
                    };
                    match job_api.delete(&j.name_any(), &dp).await {
                        Ok(_) => self.events.normal(
                            &cj,
                            "SuccessfulDelete",
                            format!("Deleted job {}", j.name_any()),
                        ),
                        Err(kube::Error::Api(s)) if s.code == 404 => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                status.active = Some(vec![]);
            }
            _ => {}
        }
        let template = spec.job_template.clone();
        let tmeta = template.metadata.clone().unwrap_or_default();
        let mut annotations = tmeta.annotations.clone().unwrap_or_default();
        annotations.insert(
            SCHEDULED_TIMESTAMP.into(),
            scheduled
                .to_zoned(tz.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
                .replace("+00:00", "Z"),
        );
        let job = Job {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: tmeta.labels.clone(),
                annotations: Some(annotations),
                owner_references: Some(vec![controller_ref(&cj)]),
                ..Default::default()
            },
            spec: Some(template.spec.clone().unwrap_or_else(JobSpec::default)),
            status: None,
        };
        match job_api.create(&PostParams::default(), &job).await {
            Ok(created) => {
                self.events
                    .normal(&cj, "SuccessfulCreate", format!("Created job {name}"));
                status
                    .active
                    .get_or_insert_with(Vec::new)
                    .push(crate::events::reference(&created));
            }
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => {
                self.events.warning(
                    &cj,
                    "FailedCreate",
                    format!("Error creating job: {}", crate::error_message(&e)),
                );
                return Err(e.into());
            }
        }
        status.last_schedule_time = Some(Time(scheduled));
        self.write_status(&cj, &status).await?;
        Ok(requeue)
    }

    /// Jobs the status lists as active that exist no more (checked against the API, not just a
    /// cache that may be behind) get upstream's MissingJob event; the rebuilt active list
    /// drops them.
    async fn report_missing(
        &self,
        cj: &CronJob,
        jobs: &[Arc<Job>],
        api: &Api<Job>,
    ) -> anyhow::Result<()> {
        let listed = cj.status.as_ref().and_then(|s| s.active.as_ref());
        for r in listed.into_iter().flatten() {
            if jobs.iter().any(|j| j.uid().as_deref() == r.uid.as_deref()) {
                continue;
            }
            let name = r.name.clone().unwrap_or_default();
            if api.get_opt(&name).await?.is_none() {
                self.events
                    .normal(cj, "MissingJob", format!("Active job went missing: {name}"));
            }
        }
        Ok(())
    }

    async fn write_status(
        &self,
        cj: &CronJob,
        status: &k8s_openapi::api::batch::v1::CronJobStatus,
    ) -> anyhow::Result<()> {
        if cj.status.as_ref() == Some(status) {
            return Ok(());
        }
        let mut body = serde_json::to_value(status)?;
        if status.active.as_ref().is_none_or(|a| a.is_empty()) {
            body["active"] = serde_json::Value::Null;
        }
        let api: Api<CronJob> =
            Api::namespaced(self.ctx.client.clone(), &cj.namespace().unwrap_or_default());
        match api
            .patch_status(
                &cj.name_any(),
                &PatchParams::default(),
                &Patch::Merge(json!({"status": body})),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Delete the oldest finished Jobs beyond successfulJobsHistoryLimit / failedJobsHistoryLimit.
    async fn cleanup_history(
        &self,
        cj: &CronJob,
        jobs: &[Arc<Job>],
        api: &Api<Job>,
    ) -> anyhow::Result<()> {
        let spec = cj.spec.clone().unwrap_or_default();
        for (kind, limit) in [
            ("Complete", spec.successful_jobs_history_limit.unwrap_or(3)),
            ("Failed", spec.failed_jobs_history_limit.unwrap_or(1)),
        ] {
            let mut done: Vec<&Arc<Job>> = jobs
                .iter()
                .filter(|j| {
                    job_finished(j) == Some(kind) && j.metadata.deletion_timestamp.is_none()
                })
                .collect();
            let excess = done.len() as i64 - i64::from(limit);
            if excess <= 0 {
                continue;
            }
            done.sort_by_key(|j| {
                j.status
                    .as_ref()
                    .and_then(|s| s.start_time.as_ref())
                    .map(|t| t.0)
            });
            for j in done.into_iter().take(excess as usize) {
                let dp = DeleteParams {
                    propagation_policy: Some(PropagationPolicy::Background),
                    ..Default::default()
                };
                match api.delete(&j.name_any(), &dp).await {
                    Ok(_) => self.events.normal(
                        cj,
                        "SuccessfulDelete",
                        format!("Deleted job {}", j.name_any()),
                    ),
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }
}
