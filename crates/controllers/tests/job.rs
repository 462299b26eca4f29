//! The Job controller against a real API server; the test plays the kubelet, finishing pods.

mod common;

use common::{Cluster, eventually, finish};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

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
