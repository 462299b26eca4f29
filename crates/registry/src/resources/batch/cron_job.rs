//! CronJob (batch/v1): the rules of `cronjobs`.
//!
//! Upstream: `SetDefaults_CronJob` (`pkg/apis/batch/v1/defaults.go`) and
//! `ValidateCronJobCreate`/`ValidateCronJobUpdate` (`pkg/apis/batch/validation`). The Job
//! template is validated like a Job spec, but its selector is generated when each Job is
//! created, so it may not be set.

use super::cron::{load_location, parse_standard};
use super::job::validate_job_spec_fields;
use crate::resources::apps::shared::{go_label_selector, nonnegative_opt};
use crate::resources::core::pod::default_pod_template_spec;
use crate::strategy::{Generation, TypedStrategy};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec};
use rkube_machinery::{ErrorList, FieldError, FieldPath};

/// The Job controller names each Job `<cronjob>-<11 characters>`, and Job names are at most
/// 63 characters.
const MAX_NAME_LENGTH: usize = 52;

/// The rules of CronJob objects.
pub struct CronJobStrategy;

impl TypedStrategy for CronJobStrategy {
    type Object = CronJob;
    const GENERATION: Generation = Generation::Spec;

    fn default(&self, obj: &mut CronJob) {
        default_cron_job_spec(obj.spec.get_or_insert_with(Default::default));
    }

    fn validate(&self, obj: &CronJob) -> ErrorList {
        let mut errs = validate_cron_job_spec(
            &obj.spec.clone().unwrap_or_default(),
            None,
            &FieldPath::new("spec"),
        );
        let name = obj.metadata.name.clone().unwrap_or_default();
        if name.len() > MAX_NAME_LENGTH {
            errs.push(FieldError::invalid(
                FieldPath::new("metadata").child("name"),
                name.as_str(),
                "must be no more than 52 characters",
            ));
        }
        errs
    }

    /// Updates skip the name length rule, so CronJobs created before it can still be changed.
    fn validate_update(&self, new: &CronJob, old: &CronJob) -> ErrorList {
        let (spec, old_spec) = (
            new.spec.clone().unwrap_or_default(),
            old.spec.clone().unwrap_or_default(),
        );
        validate_cron_job_spec(&spec, Some(&old_spec), &FieldPath::new("spec"))
    }
}

/// `SetDefaults_CronJob`: concurrent runs allowed, not suspended, three successful and one
/// failed Job kept; and the pod template defaults of the Job template.
pub fn default_cron_job_spec(spec: &mut CronJobSpec) {
    spec.concurrency_policy
        .get_or_insert_with(|| "Allow".into());
    spec.suspend.get_or_insert(false);
    spec.successful_jobs_history_limit.get_or_insert(3);
    spec.failed_jobs_history_limit.get_or_insert(1);
    if let Some(job) = spec.job_template.spec.as_mut() {
        default_pod_template_spec(&mut job.template);
    }
}

/// `validateCronJobSpec`; `old` is the stored spec on update.
pub fn validate_cron_job_spec(
    spec: &CronJobSpec,
    old: Option<&CronJobSpec>,
    path: &FieldPath,
) -> ErrorList {
    let mut errs = ErrorList::new();
    if spec.schedule.is_empty() {
        errs.push(FieldError::required(path.child("schedule"), ""));
    } else {
        let allow_tz = old.is_some_and(|o| o.schedule.contains("TZ"));
        errs.extend(validate_schedule(
            &spec.schedule,
            allow_tz,
            spec.time_zone.is_some(),
            &path.child("schedule"),
        ));
    }
    nonnegative_opt(
        &mut errs,
        path.child("startingDeadlineSeconds"),
        spec.starting_deadline_seconds,
    );
    if old.is_none_or(|o| o.time_zone != spec.time_zone) {
        errs.extend(validate_time_zone(
            spec.time_zone.as_deref(),
            &path.child("timeZone"),
        ));
    }
    errs.extend(validate_concurrency_policy(
        spec.concurrency_policy.as_deref(),
        &path.child("concurrencyPolicy"),
    ));
    errs.extend(validate_job_template(spec, &path.child("jobTemplate")));
    nonnegative_opt(
        &mut errs,
        path.child("successfulJobsHistoryLimit"),
        spec.successful_jobs_history_limit,
    );
    nonnegative_opt(
        &mut errs,
        path.child("failedJobsHistoryLimit"),
        spec.failed_jobs_history_limit,
    );
    errs
}

/// A parseable schedule, and no `TZ=` in it (time zones go in `timeZone`), except that a
/// stored schedule that already had one may keep it.
fn validate_schedule(
    schedule: &str,
    allow_tz: bool,
    has_time_zone: bool,
    path: &FieldPath,
) -> ErrorList {
    let mut errs = ErrorList::new();
    if let Err(e) = parse_standard(schedule) {
        errs.push(FieldError::invalid(path.clone(), schedule, e));
    }
    let mentions_tz = schedule.contains("TZ");
    if allow_tz && mentions_tz && has_time_zone {
        errs.push(FieldError::invalid(
            path.clone(),
            schedule,
            "cannot use both timeZone field and TZ or CRON_TZ in schedule",
        ));
    } else if !allow_tz && mentions_tz {
        errs.push(FieldError::invalid(
            path.clone(),
            schedule,
            "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
        ));
    }
    errs
}

/// An explicit, known IANA time zone.
fn validate_time_zone(zone: Option<&str>, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let Some(zone) = zone else { return errs };
    if zone.is_empty() {
        errs.push(FieldError::invalid(path.clone(), zone, "unknown time zone"));
        return errs;
    }
    if zone.eq_ignore_ascii_case("Local") {
        errs.push(FieldError::invalid(
            path.clone(),
            zone,
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        ));
    }
    if let Err(e) = load_location(zone) {
        errs.push(FieldError::invalid(path.clone(), zone, e));
    }
    errs
}

/// `Allow`, `Forbid` or `Replace`.
fn validate_concurrency_policy(policy: Option<&str>, path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    match policy.unwrap_or("") {
        "Allow" | "Forbid" | "Replace" => {}
        "" => errs.push(FieldError::required(path.clone(), "")),
        other => errs.push(FieldError::not_supported(
            path.clone(),
            other,
            &["Allow", "Forbid", "Replace"],
        )),
    }
    errs
}

/// `ValidateJobTemplateSpec`: a valid Job spec without a selector of its own.
fn validate_job_template(spec: &CronJobSpec, path: &FieldPath) -> ErrorList {
    let job = spec.job_template.spec.clone().unwrap_or_default();
    let spec_path = path.child("spec");
    let mut errs = validate_job_spec_fields(&job, &spec_path);
    if let Some(selector) = &job.selector {
        errs.push(FieldError::invalid(
            spec_path.child("selector"),
            go_label_selector(selector),
            "`selector` will be auto-generated",
        ));
    }
    if job.manual_selector == Some(true) {
        errs.push(FieldError::not_supported(
            spec_path.child("manualSelector"),
            true,
            &["nil", "false"],
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::apps::shared::merge;
    use serde_json::json;

    fn cron_job(patch: serde_json::Value) -> CronJob {
        let mut v = json!({
            "metadata": {"name": "hello", "namespace": "default"},
            "spec": {
                "schedule": "*/1 * * * *",
                "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "OnFailure"}}}}
            }
        });
        merge(&mut v, &patch);
        let mut c: CronJob = serde_json::from_value(v).unwrap();
        CronJobStrategy.default(&mut c);
        c
    }

    fn messages(errs: ErrorList) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn defaults_like_upstream() {
        let spec = serde_json::to_value(cron_job(json!({})).spec).unwrap();
        assert_eq!(spec["concurrencyPolicy"], "Allow");
        assert_eq!(spec["suspend"], false);
        assert_eq!(spec["successfulJobsHistoryLimit"], 3);
        assert_eq!(spec["failedJobsHistoryLimit"], 1);
        assert!(
            spec["jobTemplate"]["spec"].get("backoffLimit").is_none(),
            "the Job template is not given Job defaults"
        );
        assert!(CronJobStrategy.validate(&cron_job(json!({}))).is_empty());
    }

    #[test]
    fn upstream_messages() {
        let cases = [
            (
                json!({"spec": {"schedule": "not a schedule"}}),
                vec![
                    r#"spec.schedule: Invalid value: "not a schedule": expected exactly 5 fields, found 3: [not a schedule]"#,
                ],
            ),
            (
                json!({"spec": {"schedule": "61 * * * *"}}),
                vec![
                    r#"spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61"#,
                ],
            ),
            (
                json!({"spec": {"schedule": "TZ=UTC 0 * * * *"}}),
                vec![
                    r#"spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"#,
                ],
            ),
            (
                json!({"spec": {"timeZone": "Mars/Olympus"}}),
                vec![
                    r#"spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus"#,
                ],
            ),
            (
                json!({"spec": {"concurrencyPolicy": "Sometimes"}}),
                vec![
                    r#"spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace""#,
                ],
            ),
            (
                json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Always"}}}}}}),
                vec![
                    r#"spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never""#,
                ],
            ),
            (
                json!({"metadata": {"name": "a-name-that-is-much-too-long-for-the-jobs-it-would-create"}}),
                vec![
                    r#"metadata.name: Invalid value: "a-name-that-is-much-too-long-for-the-jobs-it-would-create": must be no more than 52 characters"#,
                ],
            ),
        ];
        for (patch, want) in cases {
            assert_eq!(
                messages(CronJobStrategy.validate(&cron_job(patch.clone()))),
                want,
                "{patch}"
            );
        }
    }

    #[test]
    fn stored_tz_schedules_may_stay() {
        let old = cron_job(json!({"spec": {"schedule": "TZ=UTC 0 * * * *"}}));
        let mut new = old.clone();
        new.spec.as_mut().unwrap().suspend = Some(true);
        assert!(CronJobStrategy.validate_update(&new, &old).is_empty());
    }
}
