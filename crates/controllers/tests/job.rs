//! The Job controller against a real API server; the test plays the kubelet, finishing pods.

mod common;

use common::{Cluster, eventually, finish};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use std::time::{Duration, Instant};

fn job(name: &str, spec: serde_json::Value) -> Job {
    let mut s = json!({"template": {"spec": {"restartPolicy": "Never",
        "containers": [{"name": "c", "image": "busybox:1.36", "command": ["true"]}]}}});
    s.as_object_mut()
        .unwrap()
        .extend(spec.as_object().unwrap().clone());
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": s})).unwrap()
}

async fn active_pods(pods: &Api<Pod>, job: &str, n: usize) -> Vec<Pod> {
    eventually(20, &format!("{n} active pods of {job}"), || async {
        let l = pods
            .list(&ListParams::default().labels(&format!("job-name={job}")))
            .await
            .unwrap();
        let active: Vec<Pod> = l
            .items
            .into_iter()
            .filter(|p| {
                p.status
                    .as_ref()
                    .and_then(|s| s.phase.as_deref())
                    .is_none_or(|ph| ph == "Pending" || ph == "Running")
            })
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        if active.len() == n {
            Ok(active)
        } else {
            Err(format!("{}", active.len()))
        }
    })
    .await
}

fn condition_types(j: &Job) -> Vec<String> {
    j.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .map(|c| {
            c.iter()
                .filter(|c| c.status == "True")
                .map(|c| c.type_.clone())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_job_runs_pods_until_its_completions_succeed() {
    let c = Cluster::start().await;
    let jobs: Api<Job> = c.api();
    let pods: Api<Pod> = c.api();
    jobs.create(
        &PostParams::default(),
        &job("twice", json!({"completions": 2, "parallelism": 1})),
    )
    .await
    .unwrap();
    let first = active_pods(&pods, "twice", 1).await;
    let p = &first[0];
    assert!(p.name_any().starts_with("twice-"));
    assert_eq!(p.finalizers(), ["batch.kubernetes.io/job-tracking"]);
    assert_eq!(p.labels()["batch.kubernetes.io/job-name"], "twice");
    let r = &p.owner_references()[0];
    assert_eq!((r.kind.as_str(), r.controller), ("Job", Some(true)));
    eventually(10, "active=1", || async {
        let s = jobs.get("twice").await.unwrap().status.unwrap_or_default();
        if s.active == Some(1) && s.start_time.is_some() {
            Ok(())
        } else {
            Err(format!("{s:?}"))
        }
    })
    .await;

    finish(&pods, &p.name_any(), "Succeeded").await;
    let second = eventually(20, "a second pod", || async {
        let a = active_pods(&pods, "twice", 1).await;
        if a[0].name_any() != p.name_any() {
            Ok(a)
        } else {
            Err("same".into())
        }
    })
    .await;
    finish(&pods, &second[0].name_any(), "Succeeded").await;
    let done = eventually(20, "Complete", || async {
        let j = jobs.get("twice").await.unwrap();
        if condition_types(&j).contains(&"Complete".to_string()) {
            Ok(j)
        } else {
            Err(format!("{:?}", j.status))
        }
    })
    .await;
    let s = done.status.unwrap();
    assert_eq!(
        (s.succeeded, s.failed.unwrap_or(0), s.active.unwrap_or(0)),
        (Some(2), 0, 0)
    );
    assert!(s.completion_time.is_some());
    assert_eq!(
        condition_types(&jobs.get("twice").await.unwrap()),
        vec!["SuccessCriteriaMet", "Complete"]
    );
    // Counted pods lose the tracking finalizer.
    let all = pods
        .list(&ListParams::default().labels("job-name=twice"))
        .await
        .unwrap();
    assert!(
        all.items.iter().all(|p| p.finalizers().is_empty()),
        "{:?}",
        all.items
            .iter()
            .map(|p| p.finalizers().to_vec())
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_job_fails_past_its_backoff_limit() {
    let c = Cluster::start().await;
    let jobs: Api<Job> = c.api();
    let pods: Api<Pod> = c.api();
    jobs.create(
        &PostParams::default(),
        &job("doomed", json!({"backoffLimit": 0})),
    )
    .await
    .unwrap();
    let p = active_pods(&pods, "doomed", 1).await;
    finish(&pods, &p[0].name_any(), "Failed").await;
    let j = eventually(20, "Failed", || async {
        let j = jobs.get("doomed").await.unwrap();
        if condition_types(&j).contains(&"Failed".to_string()) {
            Ok(j)
        } else {
            Err(format!("{:?}", j.status))
        }
    })
    .await;
    let failed = j
        .status
        .as_ref()
        .unwrap()
        .conditions
        .as_ref()
        .unwrap()
        .iter()
        .find(|c| c.type_ == "Failed")
        .unwrap()
        .clone();
    assert_eq!(failed.reason.as_deref(), Some("BackoffLimitExceeded"));
    assert_eq!(
        failed.message.as_deref(),
        Some("Job has reached the specified backoff limit")
    );
    assert_eq!(j.status.unwrap().failed, Some(1));
}

#[tokio::test]
async fn an_indexed_job_gives_each_pod_its_index() {
    let c = Cluster::start().await;
    let jobs: Api<Job> = c.api();
    let pods: Api<Pod> = c.api();
    jobs.create(
        &PostParams::default(),
        &job(
            "idx",
            json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed"}),
        ),
    )
    .await
    .unwrap();
    let running = active_pods(&pods, "idx", 3).await;
    let mut seen: Vec<String> = running
        .iter()
        .map(|p| p.annotations()["batch.kubernetes.io/job-completion-index"].clone())
        .collect();
    seen.sort();
    assert_eq!(seen, vec!["0", "1", "2"]);
    for p in &running {
        let i = &p.annotations()["batch.kubernetes.io/job-completion-index"];
        assert!(
            p.name_any().starts_with(&format!("idx-{i}-")),
            "{}",
            p.name_any()
        );
        assert_eq!(&p.labels()["batch.kubernetes.io/job-completion-index"], i);
        let spec = p.spec.as_ref().unwrap();
        assert_eq!(spec.hostname.as_deref(), Some(format!("idx-{i}").as_str()));
        let env = spec.containers[0].env.as_ref().unwrap();
        assert!(env.iter().any(|e| e.name == "JOB_COMPLETION_INDEX"));
    }
    for p in &running {
        finish(&pods, &p.name_any(), "Succeeded").await;
    }
    eventually(20, "completed indexes", || async {
        let s = jobs.get("idx").await.unwrap().status.unwrap_or_default();
        if s.completed_indexes.as_deref() == Some("0-2") && s.succeeded == Some(3) {
            Ok(())
        } else {
            Err(format!("{s:?}"))
        }
    })
    .await;
}

// ---- helpers for the tests below ----

fn condition(j: &Job, t: &str) -> Option<k8s_openapi::api::batch::v1::JobCondition> {
    j.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == t)
        .cloned()
}

/// Wait until the Job has a True condition of type `t`.
async fn wait_condition(jobs: &Api<Job>, name: &str, t: &str, secs: u64) -> Job {
    eventually(secs, &format!("{name} {t}"), || async {
        let j = jobs.get(name).await.unwrap();
        if condition(&j, t).is_some_and(|c| c.status == "True") {
            Ok(j)
        } else {
            Err(format!("{:?}", j.status))
        }
    })
    .await
}

/// All pods of a Job, finished or not.
async fn pods_of(pods: &Api<Pod>, job: &str) -> Vec<Pod> {
    pods.list(&ListParams::default().labels(&format!("job-name={job}")))
        .await
        .unwrap()
        .items
}

/// The kubelet's report of a pod whose container `c` exited with `code` just now.
async fn exit_with(pods: &Api<Pod>, name: &str, code: i32) {
    let now = jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap()
        .to_string();
    let phase = if code == 0 { "Succeeded" } else { "Failed" };
    let status = json!({"status": {"phase": phase, "containerStatuses": [{
        "name": "c", "ready": false, "restartCount": 0, "image": "busybox:1.36", "imageID": "",
        "state": {"terminated": {"exitCode": code, "startedAt": now, "finishedAt": now}}}]}});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("patching pod status");
}

/// A pod failed with condition `t` True (as the kubelet or an eviction would report it).
async fn fail_with_condition(pods: &Api<Pod>, name: &str, t: &str) {
    let now = jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap()
        .to_string();
    let status = json!({"status": {"phase": "Failed", "conditions": [
        {"type": t, "status": "True", "lastTransitionTime": now}]}});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("patching pod status");
}

/// A new active pod of the job other than those in `seen`; when it appeared.
async fn next_pod(pods: &Api<Pod>, job: &str, seen: &[String], secs: u64) -> (Pod, Instant) {
    eventually(secs, &format!("a new pod of {job}"), || async {
        let fresh: Vec<Pod> = pods_of(pods, job)
            .await
            .into_iter()
            .filter(|p| !seen.contains(&p.name_any()) && p.metadata.deletion_timestamp.is_none())
            .collect();
        match fresh.as_slice() {
            [one] => Ok((one.clone(), Instant::now())),
            other => Err(format!("{} new pods", other.len())),
        }
    })
    .await
}

#[tokio::test]
async fn active_deadline_fails_the_job_and_deletes_its_pods() {
    let c = Cluster::start().await;
    let jobs: Api<Job> = c.api();
    let pods: Api<Pod> = c.api();
    jobs.create(
        &PostParams::default(),
        &job(
            "late",
            json!({"completions": 2, "parallelism": 2, "activeDeadlineSeconds": 3}),
        ),
    )
    .await
    .unwrap();
    active_pods(&pods, "late", 2).await;
    let j = wait_condition(&jobs, "late", "Failed", 20).await;
    let failed = condition(&j, "Failed").unwrap();
    assert_eq!(failed.reason.as_deref(), Some("DeadlineExceeded"));
    assert_eq!(
        failed.message.as_deref(),
        Some("Job was active longer than specified deadline")
    );
    let target = condition(&j, "FailureTarget").unwrap();
    assert_eq!(target.reason.as_deref(), Some("DeadlineExceeded"));
    let s = j.status.unwrap();
    // The running pods were deleted and counted as failed.
    assert_eq!(
        (s.active, s.failed, s.terminating),
        (Some(0), Some(2), Some(0))
    );
    eventually(20, "pods gone", || async {
        let left = pods_of(&pods, "late").await.len();
        if left == 0 {
            Ok(())
        } else {
            Err(format!("{left} pods"))
        }
    })
    .await;
    let events = common::events(&c.client, "default", "late", "DeadlineExceeded").await;
    assert_eq!(
        events,
        vec!["Job was active longer than specified deadline"]
    );
}

#[tokio::test]
async fn a_finished_job_is_deleted_after_its_ttl() {
    let c = Cluster::start().await;
    let jobs: Api<Job> = c.api();
    let pods: Api<Pod> = c.api();
    jobs.create(
        &PostParams::default(),
        &job("brief", json!({"ttlSecondsAfterFinished": 2})),
    )
    .await
    .unwrap();
    let p = active_pods(&pods, "brief", 1).await;
    finish(&pods, &p[0].name_any(), "Succeeded").await;
    wait_condition(&jobs, "brief", "Complete", 20).await;
    // Still there right after finishing; gone (with its pod) a little after the TTL.
    assert!(jobs.get_opt("brief").await.unwrap().is_some());
    eventually(30, "job deleted", || async {
        match jobs.get_opt("brief").await.unwrap() {
            None => Ok(()),
            Some(j) => Err(format!(
                "deletionTimestamp {:?}",
                j.metadata.deletion_timestamp
            )),
        }
    })
    .await;
}

#[tokio::test]
async fn suspending_deletes_pods_and_resuming_restarts_the_clock() {
    let c = Cluster::start().await;
    let jobs: Api<Job> = c.api();
    let pods: Api<Pod> = c.api();
    jobs.create(
        &PostParams::default(),
        &job("pausable", json!({"completions": 4, "parallelism": 2})),
    )
    .await
    .unwrap();
    let first = active_pods(&pods, "pausable", 2).await;
    let started = eventually(10, "startTime", || async {
        let s = jobs
            .get("pausable")
            .await
            .unwrap()
            .status
            .unwrap_or_default();
        s.start_time.map(|t| t.0).ok_or_else(|| "none".to_string())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let suspend = |on: bool| json!({"spec": {"suspend": on}});
    jobs.patch(
        "pausable",
        &PatchParams::default(),
        &Patch::Merge(suspend(true)),
    )
    .await
    .unwrap();
    let j = wait_condition(&jobs, "pausable", "Suspended", 20).await;
    let cond = condition(&j, "Suspended").unwrap();
    assert_eq!(
        (cond.reason.as_deref(), cond.message.as_deref()),
        (Some("JobSuspended"), Some("Job suspended"))
    );
    eventually(20, "pods deleted", || async {
        let left = pods_of(&pods, "pausable").await.len();
        let s = jobs
            .get("pausable")
            .await
            .unwrap()
            .status
            .unwrap_or_default();
        if left == 0 && s.active == Some(0) {
            Ok(())
        } else {
            Err(format!("{left} pods, {s:?}"))
        }
    })
    .await;
    // Pods deleted for a suspension are not failures.
    let s = jobs.get("pausable").await.unwrap().status.unwrap();
    assert_eq!(s.failed.unwrap_or(0), 0, "{s:?}");
    assert_eq!(
        common::events(&c.client, "default", "pausable", "Suspended").await,
        vec!["Job suspended"]
    );

    jobs.patch(
        "pausable",
        &PatchParams::default(),
        &Patch::Merge(suspend(false)),
    )
    .await
    .unwrap();
    let resumed = eventually(20, "resumed", || async {
        let j = jobs.get("pausable").await.unwrap();
        match condition(&j, "Suspended") {
            Some(c) if c.status == "False" => Ok(j),
            _ => Err(format!("{:?}", j.status)),
        }
    })
    .await;
    let cond = condition(&resumed, "Suspended").unwrap();
    assert_eq!(
        (cond.reason.as_deref(), cond.message.as_deref()),
        (Some("JobResumed"), Some("Job resumed"))
    );
    let restarted = resumed.status.unwrap().start_time.unwrap().0;
    assert!(restarted > started, "{restarted} should be after {started}");
    let second = active_pods(&pods, "pausable", 2).await;
    assert!(
        second
            .iter()
            .all(|p| first.iter().all(|f| f.uid() != p.uid()))
    );
}

#[tokio::test]
async fn a_fail_job_rule_on_exit_codes_fails_the_job() {
    let c = Cluster::start().await;
    let jobs: Api<Job> = c.api();
    let pods: Api<Pod> = c.api();
    let policy = json!({"rules": [{"action": "FailJob",
        "onExitCodes": {"containerName": "c", "operator": "In", "values": [42]}}]});
    jobs.create(
        &PostParams::default(),
        &job(
            "strict",
            json!({"completions": 2, "parallelism": 2, "podFailurePolicy": policy}),
        ),
    )
    .await
    .unwrap();
    let running = active_pods(&pods, "strict", 2).await;
    let culprit = running[0].name_any();
    exit_with(&pods, &culprit, 42).await;
    // The other pod is deleted (its finalizer goes, as the Job is ending).
    let other = running[1].name_any();
    eventually(20, "other pod gone", || async {
        match pods.get_opt(&other).await.unwrap() {
            Some(p) => Err(format!("{:?}", p.metadata.deletion_timestamp)),
            None => Ok(()),
        }
    })
    .await;
    let j = wait_condition(&jobs, "strict", "Failed", 20).await;
    let failed = condition(&j, "Failed").unwrap();
    let message = format!(
        "Container c for pod default/{culprit} failed with exit code 42 matching FailJob rule at index 0"
    );
    assert_eq!(failed.reason.as_deref(), Some("PodFailurePolicy"));
    assert_eq!(failed.message.as_deref(), Some(message.as_str()));
    assert_eq!(
        condition(&j, "FailureTarget").unwrap().reason.as_deref(),
        Some("PodFailurePolicy")
    );
}

#[tokio::test]
async fn a_fail_job_rule_on_pod_conditions_fails_the_job() {
    let c = Cluster::start().await;
    let jobs: Api<Job> = c.api();
    let pods: Api<Pod> = c.api();
    let policy = json!({"rules": [{"action": "FailJob",
        "onPodConditions": [{"type": "DisruptionTarget"}]}]});
    jobs.create(
        &PostParams::default(),
        &job("fragile", json!({"podFailurePolicy": policy})),
    )
    .await
    .unwrap();
    let p = active_pods(&pods, "fragile", 1).await;
    fail_with_condition(&pods, &p[0].name_any(), "DisruptionTarget").await;
    let j = wait_condition(&jobs, "fragile", "Failed", 20).await;
    let failed = condition(&j, "Failed").unwrap();
    let message = format!(
        "Pod default/{} has condition DisruptionTarget matching FailJob rule at index 0",
        p[0].name_any()
    );
    assert_eq!(failed.reason.as_deref(), Some("PodFailurePolicy"));
    assert_eq!(failed.message.as_deref(), Some(message.as_str()));
}

#[tokio::test]
async fn ignored_failures_do_not_count_and_counted_ones_do() {
    let c = Cluster::start().await;
    let jobs: Api<Job> = c.api();
    let pods: Api<Pod> = c.api();
    let policy = json!({"rules": [
        {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [1]}},
        {"action": "Count", "onExitCodes": {"operator": "In", "values": [2]}},
    ]});
    jobs.create(
        &PostParams::default(),
        &job(
            "lenient",
            json!({"backoffLimit": 0, "podFailurePolicy": policy}),
        ),
    )
    .await
    .unwrap();
    let first = active_pods(&pods, "lenient", 1).await[0].name_any();
    exit_with(&pods, &first, 1).await;
    // Ignored: a replacement comes and the Job goes on despite backoffLimit 0.
    let (second, _) = next_pod(&pods, "lenient", std::slice::from_ref(&first), 25).await;
    let j = jobs.get("lenient").await.unwrap();
    assert_eq!(j.status.as_ref().unwrap().failed.unwrap_or(0), 0);
    assert!(condition(&j, "FailureTarget").is_none());
    exit_with(&pods, &second.name_any(), 2).await;
    let j = wait_condition(&jobs, "lenient", "Failed", 20).await;
    assert_eq!(
        condition(&j, "Failed").unwrap().reason.as_deref(),
        Some("BackoffLimitExceeded")
    );
    assert_eq!(j.status.unwrap().failed, Some(1));
}

#[tokio::test]
async fn back_off_doubles_per_failure_and_resets_after_a_success() {
    let c = Cluster::start().await;
    let jobs: Api<Job> = c.api();
    let pods: Api<Pod> = c.api();
    jobs.create(
        &PostParams::default(),
        &job("flaky", json!({"completions": 3, "parallelism": 1})),
    )
    .await
    .unwrap();
    let mut seen = vec![active_pods(&pods, "flaky", 1).await[0].name_any()];
    // Fails, then waits about 10 s, then 20 s for the next pod.
    for (n, wait) in [(1u64, 10u64), (2, 20)] {
        exit_with(&pods, seen.last().unwrap(), 1).await;
        let failed_at = Instant::now();
        let (p, at) = next_pod(&pods, "flaky", &seen, wait + 10).await;
        let waited = at - failed_at;
        assert!(
            waited >= Duration::from_secs(wait - 2),
            "failure {n}: replaced after {waited:?}, expected about {wait} s"
        );
        seen.push(p.name_any());
    }
    // A success resets the count: the next pod comes at once, and after its failure the
    // wait is 10 s again rather than 40 s.
    exit_with(&pods, seen.last().unwrap(), 0).await;
    let (p, _) = next_pod(&pods, "flaky", &seen, 8).await;
    seen.push(p.name_any());
    exit_with(&pods, seen.last().unwrap(), 1).await;
    let failed_at = Instant::now();
    let (_, at) = next_pod(&pods, "flaky", &seen, 20).await;
    let waited = at - failed_at;
    assert!(
        waited >= Duration::from_secs(8),
        "replaced after {waited:?}, expected about 10 s"
    );
    let s = jobs.get("flaky").await.unwrap().status.unwrap();
    assert_eq!((s.failed, s.succeeded), (Some(3), Some(1)));
}

#[tokio::test]
async fn container_restarts_count_towards_the_backoff_limit_under_on_failure() {
    let c = Cluster::start().await;
    let jobs: Api<Job> = c.api();
    let pods: Api<Pod> = c.api();
    let mut j = job("restarty", json!({"backoffLimit": 2}));
    j.spec
        .as_mut()
        .unwrap()
        .template
        .spec
        .as_mut()
        .unwrap()
        .restart_policy = Some("OnFailure".into());
    jobs.create(&PostParams::default(), &j).await.unwrap();
    let p = active_pods(&pods, "restarty", 1).await[0].name_any();
    let restarted = |n: i32| {
        json!({"status": {"phase": "Running", "containerStatuses": [{
            "name": "c", "ready": false, "restartCount": n, "image": "busybox:1.36",
            "imageID": "", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}})
    };
    pods.patch_status(&p, &PatchParams::default(), &Patch::Merge(restarted(1)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        condition(&jobs.get("restarty").await.unwrap(), "FailureTarget").is_none(),
        "one restart is below the limit of two"
    );
    pods.patch_status(&p, &PatchParams::default(), &Patch::Merge(restarted(2)))
        .await
        .unwrap();
    let j = wait_condition(&jobs, "restarty", "Failed", 20).await;
    let failed = condition(&j, "Failed").unwrap();
    assert_eq!(failed.reason.as_deref(), Some("BackoffLimitExceeded"));
}

fn index(p: &Pod) -> String {
    p.annotations()["batch.kubernetes.io/job-completion-index"].clone()
}

/// The active pod of an index.
async fn pod_of_index(pods: &Api<Pod>, job: &str, ix: &str, secs: u64) -> Pod {
    eventually(secs, &format!("a pod of {job} index {ix}"), || async {
        pods_of(pods, job)
            .await
            .into_iter()
            .find(|p| {
                index(p) == ix
                    && p.metadata.deletion_timestamp.is_none()
                    && p.status
                        .as_ref()
                        .and_then(|s| s.phase.as_deref())
                        .is_none_or(|ph| ph == "Pending" || ph == "Running")
            })
            .ok_or_else(|| "none".to_string())
    })
    .await
}

#[tokio::test]
async fn an_index_fails_for_good_after_its_own_backoff_limit() {
    let c = Cluster::start().await;
    let jobs: Api<Job> = c.api();
    let pods: Api<Pod> = c.api();
    jobs.create(
        &PostParams::default(),
        &job(
            "perindex",
            json!({"completions": 2, "parallelism": 2, "completionMode": "Indexed",
                   "backoffLimitPerIndex": 1}),
        ),
    )
    .await
    .unwrap();
    let first = pod_of_index(&pods, "perindex", "0", 20).await;
    assert_eq!(
        first.annotations()["batch.kubernetes.io/job-index-failure-count"],
        "0"
    );
    exit_with(&pods, &first.name_any(), 1).await;
    // One retry for index 0, carrying the failure so far.
    let retry = eventually(25, "retry of index 0", || async {
        let p = pod_of_index(&pods, "perindex", "0", 20).await;
        if p.uid() != first.uid() {
            Ok(p)
        } else {
            Err("same".to_string())
        }
    })
    .await;
    assert_eq!(
        retry.annotations()["batch.kubernetes.io/job-index-failure-count"],
        "1"
    );
    exit_with(&pods, &retry.name_any(), 1).await;
    let s = eventually(20, "index 0 failed", || async {
        let s = jobs
            .get("perindex")
            .await
            .unwrap()
            .status
            .unwrap_or_default();
        if s.failed_indexes.as_deref() == Some("0") && s.failed == Some(2) {
            Ok(s)
        } else {
            Err(format!("{s:?}"))
        }
    })
    .await;
    assert_eq!(s.completed_indexes.as_deref().unwrap_or(""), "");
    // Index 1 goes on; once it is done the Job fails for its failed index.
    let one = pod_of_index(&pods, "perindex", "1", 5).await;
    exit_with(&pods, &one.name_any(), 0).await;
    let j = wait_condition(&jobs, "perindex", "Failed", 20).await;
    let failed = condition(&j, "Failed").unwrap();
    assert_eq!(
        (failed.reason.as_deref(), failed.message.as_deref()),
        (Some("FailedIndexes"), Some("Job has failed indexes"))
    );
    let s = j.status.unwrap();
    assert_eq!(
        (
            s.completed_indexes.as_deref(),
            s.failed_indexes.as_deref(),
            s.succeeded
        ),
        (Some("1"), Some("0"), Some(1))
    );
    // No third pod ever ran for index 0.
    let zero = pods_of(&pods, "perindex").await;
    assert!(zero.iter().filter(|p| index(p) == "0").count() <= 2);
}

#[tokio::test]
async fn too_many_failed_indexes_fail_the_job() {
    let c = Cluster::start().await;
    let jobs: Api<Job> = c.api();
    let pods: Api<Pod> = c.api();
    jobs.create(
        &PostParams::default(),
        &job(
            "fewfails",
            json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed",
                   "backoffLimitPerIndex": 0, "maxFailedIndexes": 0}),
        ),
    )
    .await
    .unwrap();
    active_pods(&pods, "fewfails", 3).await;
    let p = pod_of_index(&pods, "fewfails", "2", 5).await;
    exit_with(&pods, &p.name_any(), 1).await;
    let j = wait_condition(&jobs, "fewfails", "Failed", 20).await;
    let failed = condition(&j, "Failed").unwrap();
    assert_eq!(
        (failed.reason.as_deref(), failed.message.as_deref()),
        (
            Some("MaxFailedIndexesExceeded"),
            Some("Job has exceeded the specified maximal number of failed indexes")
        )
    );
    let s = j.status.unwrap();
    assert_eq!(
        (s.failed_indexes.as_deref(), s.active),
        (Some("2"), Some(0))
    );
}

#[tokio::test]
async fn a_fail_index_rule_fails_the_index_at_once() {
    let c = Cluster::start().await;
    let jobs: Api<Job> = c.api();
    let pods: Api<Pod> = c.api();
    let policy = json!({"rules": [{"action": "FailIndex",
        "onExitCodes": {"operator": "In", "values": [42]}}]});
    jobs.create(
        &PostParams::default(),
        &job(
            "failindex",
            json!({"completions": 2, "parallelism": 2, "completionMode": "Indexed",
                   "backoffLimitPerIndex": 3, "podFailurePolicy": policy}),
        ),
    )
    .await
    .unwrap();
    let zero = pod_of_index(&pods, "failindex", "0", 20).await;
    exit_with(&pods, &zero.name_any(), 42).await;
    eventually(20, "index 0 failed", || async {
        let s = jobs
            .get("failindex")
            .await
            .unwrap()
            .status
            .unwrap_or_default();
        if s.failed_indexes.as_deref() == Some("0") {
            Ok(())
        } else {
            Err(format!("{s:?}"))
        }
    })
    .await;
    let one = pod_of_index(&pods, "failindex", "1", 5).await;
    exit_with(&pods, &one.name_any(), 0).await;
    let j = wait_condition(&jobs, "failindex", "Failed", 20).await;
    assert_eq!(
        condition(&j, "Failed").unwrap().reason.as_deref(),
        Some("FailedIndexes")
    );
    // Index 0 was never retried despite backoffLimitPerIndex 3.
    let all = pods_of(&pods, "failindex").await;
    assert_eq!(all.iter().filter(|p| index(p) == "0").count(), 1);
}

#[tokio::test]
async fn a_success_policy_by_indexes_completes_the_job_early() {
    let c = Cluster::start().await;
    let jobs: Api<Job> = c.api();
    let pods: Api<Pod> = c.api();
    jobs.create(
        &PostParams::default(),
        &job(
            "leader",
            json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed",
                   "successPolicy": {"rules": [{"succeededIndexes": "0"}]}}),
        ),
    )
    .await
    .unwrap();
    active_pods(&pods, "leader", 3).await;
    let zero = pod_of_index(&pods, "leader", "0", 5).await;
    exit_with(&pods, &zero.name_any(), 0).await;
    let j = wait_condition(&jobs, "leader", "Complete", 20).await;
    for t in ["SuccessCriteriaMet", "Complete"] {
        let cond = condition(&j, t).unwrap();
        assert_eq!(
            (cond.reason.as_deref(), cond.message.as_deref()),
            (Some("SuccessPolicy"), Some("Matched rules at index 0")),
            "{t}"
        );
    }
    assert_eq!(condition_types(&j), vec!["SuccessCriteriaMet", "Complete"]);
    let s = j.status.unwrap();
    // The other indexes' pods were stopped without counting as failures.
    assert_eq!(
        (
            s.completed_indexes.as_deref(),
            s.succeeded,
            s.failed.unwrap_or(0),
            s.active
        ),
        (Some("0"), Some(1), 0, Some(0))
    );
    assert!(s.completion_time.is_some());
}

#[tokio::test]
async fn a_success_policy_by_count_completes_the_job_early() {
    let c = Cluster::start().await;
    let jobs: Api<Job> = c.api();
    let pods: Api<Pod> = c.api();
    jobs.create(
        &PostParams::default(),
        &job(
            "quorum",
            json!({"completions": 4, "parallelism": 4, "completionMode": "Indexed",
                   "successPolicy": {"rules": [{"succeededCount": 2}]}}),
        ),
    )
    .await
    .unwrap();
    active_pods(&pods, "quorum", 4).await;
    for ix in ["1", "3"] {
        let p = pod_of_index(&pods, "quorum", ix, 5).await;
        exit_with(&pods, &p.name_any(), 0).await;
    }
    let j = wait_condition(&jobs, "quorum", "Complete", 20).await;
    let cond = condition(&j, "Complete").unwrap();
    assert_eq!(cond.reason.as_deref(), Some("SuccessPolicy"));
    assert_eq!(j.status.unwrap().completed_indexes.as_deref(), Some("1,3"));
}

#[tokio::test]
async fn terminating_pods_are_replaced_at_once_by_default() {
    let c = Cluster::start().await;
    let jobs: Api<Job> = c.api();
    let pods: Api<Pod> = c.api();
    jobs.create(&PostParams::default(), &job("eager", json!({})))
        .await
        .unwrap();
    let p = active_pods(&pods, "eager", 1).await[0].name_any();
    pods.delete(&p, &Default::default()).await.unwrap();
    // TerminatingOrFailed: the deleted pod counts as failed and is replaced (after back-off).
    next_pod(&pods, "eager", std::slice::from_ref(&p), 25).await;
    let s = jobs.get("eager").await.unwrap().status.unwrap();
    assert_eq!(s.failed, Some(1));
}

#[tokio::test]
async fn with_replacement_policy_failed_a_terminating_pod_waits_for_its_failure() {
    let c = Cluster::start().await;
    let jobs: Api<Job> = c.api();
    let pods: Api<Pod> = c.api();
    jobs.create(
        &PostParams::default(),
        &job("patient", json!({"podReplacementPolicy": "Failed"})),
    )
    .await
    .unwrap();
    let p = active_pods(&pods, "patient", 1).await[0].name_any();
    pods.delete(&p, &Default::default()).await.unwrap();
    eventually(10, "terminating=1", || async {
        let s = jobs
            .get("patient")
            .await
            .unwrap()
            .status
            .unwrap_or_default();
        if s.terminating == Some(1) && s.active == Some(0) {
            Ok(())
        } else {
            Err(format!("{s:?}"))
        }
    })
    .await;
    // Longer than the back-off a counted failure would cause: still no replacement.
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(pods_of(&pods, "patient").await.len(), 1);
    let s = jobs.get("patient").await.unwrap().status.unwrap();
    assert_eq!((s.terminating, s.failed.unwrap_or(0)), (Some(1), 0));
    // Once the kubelet reports it failed, it is counted and replaced.
    exit_with(&pods, &p, 137).await;
    next_pod(&pods, "patient", std::slice::from_ref(&p), 25).await;
    let s = jobs.get("patient").await.unwrap().status.unwrap();
    assert_eq!((s.terminating, s.failed), (Some(0), Some(1)));
}
