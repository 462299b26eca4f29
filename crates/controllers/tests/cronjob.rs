//! The CronJob controller against a real API server. Rather than wait for the clock, the test
//! moves the CronJob's last schedule time back, so the controller sees missed runs.

mod common;

use common::{Cluster, eventually};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

#[tokio::test]
async fn a_missed_schedule_starts_one_job_owned_by_the_cronjob() {
    let c = Cluster::start().await;
    let cjs: Api<CronJob> = c.api();
    let jobs: Api<Job> = c.api();
    let cj: CronJob = serde_json::from_value(json!({
        "metadata": {"name": "tick"},
        "spec": {"schedule": "*/5 * * * *", "timeZone": "Etc/UTC", "concurrencyPolicy": "Forbid",
                 "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never",
                     "containers": [{"name": "c", "image": "busybox:1.36", "command": ["date"]}]}}}}}
    }))
    .unwrap();
    cjs.create(&PostParams::default(), &cj).await.unwrap();
    let past = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(30 * 60);
    cjs.patch_status("tick", &PatchParams::default(), &Patch::Merge(json!({"status": {"lastScheduleTime": past.round(jiff::Unit::Second).unwrap().to_string()}})))
        .await
        .unwrap();
    let job = eventually(20, "a job", || async {
        let l = jobs.list(&ListParams::default()).await.unwrap().items;
        match l.as_slice() {
            [one] => Ok(one.clone()),
            other => Err(format!("{} jobs", other.len())),
        }
    })
    .await;
    // Named after the most recent missed time, a multiple of five minutes.
    let minutes: i64 = job
        .name_any()
        .strip_prefix("tick-")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(minutes % 5, 0);
    let now_minutes = jiff::Timestamp::now().as_second() / 60;
    assert!(now_minutes - minutes < 5, "{minutes} vs {now_minutes}");
    let r = &job.owner_references()[0];
    assert_eq!(
        (r.kind.as_str(), r.name.as_str(), r.controller),
        ("CronJob", "tick", Some(true))
    );
    let stamp = &job.annotations()["batch.kubernetes.io/cronjob-scheduled-timestamp"];
    assert!(stamp.ends_with('Z'), "{stamp}");
    eventually(10, "status", || async {
        let s = cjs.get("tick").await.unwrap().status.unwrap_or_default();
        let active: Vec<String> = s
            .active
            .iter()
            .flatten()
            .filter_map(|r| r.name.clone())
            .collect();
        let last = s.last_schedule_time.map(|t| t.0.as_second() / 60);
        if active == vec![job.name_any()] && last == Some(minutes) {
            Ok(())
        } else {
            Err(format!("{active:?} {last:?}"))
        }
    })
    .await;
    // Forbid: while that Job runs, an earlier missed time starts nothing more.
    cjs.patch_status("tick", &PatchParams::default(), &Patch::Merge(json!({"status": {"lastScheduleTime": past.round(jiff::Unit::Second).unwrap().to_string()}})))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    assert_eq!(
        jobs.list(&ListParams::default()).await.unwrap().items.len(),
        1
    );
}

// ---- helpers for the tests below ----

fn cronjob(name: &str, schedule: &str, extra: serde_json::Value) -> CronJob {
    let mut spec = json!({"schedule": schedule, "timeZone": "Etc/UTC",
        "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox:1.36", "command": ["date"]}]}}}}});
    spec.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap()
}

/// A schedule whose most recent run was about ten minutes ago.
fn ten_minutes_ago() -> (String, i64) {
    let then = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(10);
    let minute = then.to_zoned(jiff::tz::TimeZone::UTC).minute();
    (format!("{minute} * * * *"), then.as_second() / 60)
}

/// Pretend the CronJob last ran two hours ago, so the controller sees missed runs.
async fn last_ran_long_ago(cjs: &Api<CronJob>, name: &str) {
    let past = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(2);
    let past = past.round(jiff::Unit::Second).unwrap().to_string();
    cjs.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"lastScheduleTime": past}})),
    )
    .await
    .unwrap();
}

/// Names of the Jobs that exist and are not being deleted.
async fn job_names(jobs: &Api<Job>) -> Vec<String> {
    let mut names: Vec<String> = jobs
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|j| j.metadata.deletion_timestamp.is_none())
        .map(|j| j.name_any())
        .collect();
    names.sort();
    names
}

async fn wait_jobs(jobs: &Api<Job>, want: &[String]) {
    eventually(20, &format!("jobs {want:?}"), || async {
        let names = job_names(jobs).await;
        if names == want {
            Ok(())
        } else {
            Err(format!("{names:?}"))
        }
    })
    .await;
}

/// The CronJob's active Job names.
async fn active_names(cjs: &Api<CronJob>, name: &str) -> Vec<String> {
    let s = cjs.get(name).await.unwrap().status.unwrap_or_default();
    s.active
        .into_iter()
        .flatten()
        .filter_map(|r| r.name)
        .collect()
}

/// Finish the only pod of a Job as the kubelet would.
async fn finish_job_pod(c: &Cluster, job: &str, phase: &str) {
    let pods: Api<Pod> = c.api();
    let pod = eventually(20, &format!("a pod of {job}"), || async {
        let l = pods
            .list(&ListParams::default().labels(&format!("job-name={job}")))
            .await
            .unwrap()
            .items;
        l.into_iter().next().ok_or_else(|| "none".to_string())
    })
    .await;
    common::finish(&pods, &pod.name_any(), phase).await;
}

async fn wait_job_condition(jobs: &Api<Job>, name: &str, t: &str) {
    eventually(20, &format!("{name} {t}"), || async {
        let j = jobs.get(name).await.unwrap();
        let done = j
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == t && c.status == "True"));
        if done {
            Ok(())
        } else {
            Err(format!("{:?}", j.status))
        }
    })
    .await;
}

#[tokio::test]
async fn forbid_skips_a_run_while_the_previous_job_is_active() {
    let c = Cluster::start().await;
    let cjs: Api<CronJob> = c.api();
    let jobs: Api<Job> = c.api();
    let (schedule, minutes) = ten_minutes_ago();
    cjs.create(
        &PostParams::default(),
        &cronjob("solo", &schedule, json!({"concurrencyPolicy": "Forbid"})),
    )
    .await
    .unwrap();
    last_ran_long_ago(&cjs, "solo").await;
    let first = format!("solo-{minutes}");
    wait_jobs(&jobs, std::slice::from_ref(&first)).await;
    // Every minute from now on: the current minute is due, but the first Job still runs.
    cjs.patch(
        "solo",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"schedule": "* * * * *"}})),
    )
    .await
    .unwrap();
    eventually(20, "JobAlreadyActive", || async {
        let e = common::events(&c.client, "default", "solo", "JobAlreadyActive").await;
        if e.is_empty() {
            Err("no event".to_string())
        } else {
            Ok(e)
        }
    })
    .await
    .iter()
    .for_each(|m| {
        assert_eq!(
            m,
            "Not starting job because prior execution is running and concurrency policy is Forbid"
        )
    });
    assert_eq!(job_names(&jobs).await, vec![first.clone()]);
    // Once it finished, the due run starts.
    finish_job_pod(&c, &first, "Succeeded").await;
    let second = eventually(30, "a second job", || async {
        let names = job_names(&jobs).await;
        match names.iter().find(|n| **n != first) {
            Some(n) => Ok(n.clone()),
            None => Err(format!("{names:?}")),
        }
    })
    .await;
    let now_minutes = jiff::Timestamp::now().as_second() / 60;
    let second_minutes: i64 = second.strip_prefix("solo-").unwrap().parse().unwrap();
    assert!(now_minutes - second_minutes <= 1, "{second}");
}

#[tokio::test]
async fn replace_deletes_the_running_job_for_the_new_one() {
    let c = Cluster::start().await;
    let cjs: Api<CronJob> = c.api();
    let jobs: Api<Job> = c.api();
    let (schedule, minutes) = ten_minutes_ago();
    cjs.create(
        &PostParams::default(),
        &cronjob("swap", &schedule, json!({"concurrencyPolicy": "Replace"})),
    )
    .await
    .unwrap();
    last_ran_long_ago(&cjs, "swap").await;
    let first = format!("swap-{minutes}");
    wait_jobs(&jobs, std::slice::from_ref(&first)).await;
    cjs.patch(
        "swap",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"schedule": "* * * * *"}})),
    )
    .await
    .unwrap();
    let second = eventually(30, "the replacement", || async {
        let names = job_names(&jobs).await;
        match names.as_slice() {
            [one] if *one != first => Ok(one.clone()),
            _ => Err(format!("{names:?}")),
        }
    })
    .await;
    assert_eq!(
        common::events(&c.client, "default", "swap", "SuccessfulDelete").await,
        vec![format!("Deleted job {first}")]
    );
    eventually(20, "active list", || async {
        let a = active_names(&cjs, "swap").await;
        if a == vec![second.clone()] {
            Ok(())
        } else {
            Err(format!("{a:?}"))
        }
    })
    .await;
}

#[tokio::test]
async fn a_suspended_cronjob_starts_nothing_until_resumed() {
    let c = Cluster::start().await;
    let cjs: Api<CronJob> = c.api();
    let jobs: Api<Job> = c.api();
    let (schedule, minutes) = ten_minutes_ago();
    cjs.create(
        &PostParams::default(),
        &cronjob("asleep", &schedule, json!({"suspend": true})),
    )
    .await
    .unwrap();
    last_ran_long_ago(&cjs, "asleep").await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(job_names(&jobs).await.is_empty());
    cjs.patch(
        "asleep",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"suspend": false}})),
    )
    .await
    .unwrap();
    wait_jobs(&jobs, &[format!("asleep-{minutes}")]).await;
}

#[tokio::test]
async fn runs_older_than_the_starting_deadline_are_skipped() {
    let c = Cluster::start().await;
    let cjs: Api<CronJob> = c.api();
    let jobs: Api<Job> = c.api();
    let (schedule, minutes) = ten_minutes_ago();
    cjs.create(
        &PostParams::default(),
        &cronjob("tardy", &schedule, json!({"startingDeadlineSeconds": 60})),
    )
    .await
    .unwrap();
    last_ran_long_ago(&cjs, "tardy").await;
    let before = cjs
        .get("tardy")
        .await
        .unwrap()
        .status
        .unwrap()
        .last_schedule_time;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    // The run ten minutes ago is past its 60 s window: not started, not recorded.
    assert!(job_names(&jobs).await.is_empty());
    let s = cjs.get("tardy").await.unwrap().status.unwrap();
    assert_eq!(s.last_schedule_time, before);
    assert!(s.active.unwrap_or_default().is_empty());
    // Upstream only looks for runs inside the window, so a run that is too old is skipped
    // silently: its MissSchedule event needs a run inside the window yet past it, which
    // cannot happen.
    assert_eq!(
        common::events(&c.client, "default", "tardy", "MissSchedule").await,
        Vec::<String>::new()
    );
    // With a window of an hour it is still due.
    cjs.patch(
        "tardy",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"startingDeadlineSeconds": 3600}})),
    )
    .await
    .unwrap();
    wait_jobs(&jobs, &[format!("tardy-{minutes}")]).await;
}

#[tokio::test]
async fn finished_jobs_beyond_the_history_limits_are_deleted_oldest_first() {
    let c = Cluster::start().await;
    let cjs: Api<CronJob> = c.api();
    let jobs: Api<Job> = c.api();
    // Once a year: the controller starts nothing itself during the test.
    let cj = cjs
        .create(
            &PostParams::default(),
            &cronjob(
                "tidy",
                "0 0 1 1 *",
                json!({"successfulJobsHistoryLimit": 1, "failedJobsHistoryLimit": 1}),
            ),
        )
        .await
        .unwrap();
    let owner = json!([{"apiVersion": "batch/v1", "kind": "CronJob", "name": "tidy",
        "uid": cj.uid().unwrap(), "controller": true, "blockOwnerDeletion": true}]);
    let runs = [
        ("tidy-1", "Succeeded"),
        ("tidy-2", "Failed"),
        ("tidy-3", "Succeeded"),
        ("tidy-4", "Failed"),
        ("tidy-5", "Succeeded"),
    ];
    for (name, _) in runs {
        let j: Job = serde_json::from_value(json!({
            "metadata": {"name": name, "ownerReferences": owner},
            "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "c", "image": "busybox:1.36"}]}}}}))
        .unwrap();
        jobs.create(&PostParams::default(), &j).await.unwrap();
        // Start times are whole seconds: keep them apart so "oldest" is clear.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    for (name, phase) in runs {
        finish_job_pod(&c, name, phase).await;
        let t = if phase == "Succeeded" {
            "Complete"
        } else {
            "Failed"
        };
        wait_job_condition(&jobs, name, t).await;
    }
    wait_jobs(&jobs, &["tidy-4".to_string(), "tidy-5".to_string()]).await;
    let mut deleted = common::events(&c.client, "default", "tidy", "SuccessfulDelete").await;
    deleted.sort();
    assert_eq!(
        deleted,
        vec![
            "Deleted job tidy-1",
            "Deleted job tidy-2",
            "Deleted job tidy-3"
        ]
    );
}

#[tokio::test]
async fn an_active_job_that_disappears_is_reported_missing() {
    let c = Cluster::start().await;
    let cjs: Api<CronJob> = c.api();
    let jobs: Api<Job> = c.api();
    let (schedule, minutes) = ten_minutes_ago();
    cjs.create(
        &PostParams::default(),
        &cronjob("vanish", &schedule, json!({})),
    )
    .await
    .unwrap();
    last_ran_long_ago(&cjs, "vanish").await;
    let name = format!("vanish-{minutes}");
    wait_jobs(&jobs, std::slice::from_ref(&name)).await;
    eventually(20, "active", || async {
        let a = active_names(&cjs, "vanish").await;
        if a == vec![name.clone()] {
            Ok(())
        } else {
            Err(format!("{a:?}"))
        }
    })
    .await;
    jobs.delete(&name, &Default::default()).await.unwrap();
    eventually(20, "MissingJob", || async {
        let e = common::events(&c.client, "default", "vanish", "MissingJob").await;
        if e == vec![format!("Active job went missing: {name}")] {
            Ok(())
        } else {
            Err(format!("{e:?}"))
        }
    })
    .await;
    eventually(20, "active emptied", || async {
        let a = active_names(&cjs, "vanish").await;
        if a.is_empty() {
            Ok(())
        } else {
            Err(format!("{a:?}"))
        }
    })
    .await;
}
