//! The CronJob controller against a real API server. Rather than wait for the clock, the test
//! moves the CronJob's last schedule time back, so the controller sees missed runs.

mod common;

use common::{Cluster, eventually};
use k8s_openapi::api::batch::v1::{CronJob, Job};
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
