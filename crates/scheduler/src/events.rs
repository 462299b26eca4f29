//! Events about pods (`Scheduled`, `FailedScheduling`, `Preempted`), written as core/v1 Events
//! (what `kubectl describe` and `kubectl get events` read; the API server shows the same objects
//! as events.k8s.io/v1, which upstream's scheduler writes). Repeats of the same event are
//! folded into one object with a growing `count`, as client-go's correlator does; writes go
//! through a bounded queue and are dropped when it is full rather than slowing scheduling.

use crate::pod_info::PodInfo;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use std::collections::HashMap;
use tokio::sync::mpsc;

/// The component name events carry.
pub const COMPONENT: &str = "default-scheduler";

#[derive(Debug)]
struct Record {
    namespace: String,
    name: String,
    uid: String,
    resource_version: String,
    kind: &'static str,
    reason: &'static str,
    message: String,
}

/// Sends events to a background writer.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Record>,
}

impl Recorder {
    /// Start the writer.
    pub fn start(client: kube::Client) -> Self {
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(write_loop(client, rx));
        Self { tx }
    }

    /// Record an event about `pod` (`kind` is Normal or Warning).
    pub fn pod_event(
        &self,
        pod: &PodInfo,
        kind: &'static str,
        reason: &'static str,
        message: String,
    ) {
        let _ = self.tx.try_send(Record {
            namespace: pod.namespace.clone(),
            name: pod.name.clone(),
            uid: pod.uid.clone(),
            resource_version: pod.resource_version.clone(),
            kind,
            reason,
            message,
        });
    }
}

async fn write_loop(client: kube::Client, mut rx: mpsc::Receiver<Record>) {
    let instance = format!(
        "{COMPONENT}-{}",
        hostname::get()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    // (pod uid, reason, message) → (event name, count)
    let mut seen: HashMap<(String, &'static str, String), (String, i32)> = HashMap::new();
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
    while let Some(r) = rx.recv().await {
        if seen.len() > 10_000 {
            seen.clear();
        }
        let now = rkube_machinery::time::now_rfc3339();
        let api: Api<Event> = Api::namespaced(client.clone(), &r.namespace);
        let key = (r.uid.clone(), r.reason, r.message.clone());
        let permit = sem.clone().acquire_owned().await.expect("semaphore open");
        match seen.get_mut(&key) {
            Some((name, count)) => {
                *count += 1;
                let (name, count) = (name.clone(), *count);
                tokio::spawn(async move {
                    let patch = json!({"count": count, "lastTimestamp": now});
                    if let Err(e) = api
                        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await
                    {
                        tracing::debug!("updating event {name}: {e}");
                    }
                    drop(permit);
                });
            }
            None => {
                let nanos = jiff::Timestamp::now().as_nanosecond();
                let name = format!("{}.{:x}", r.name, nanos);
                seen.insert(key, (name.clone(), 1));
                let event = json!({
                    "apiVersion": "v1",
                    "kind": "Event",
                    "metadata": {"name": name, "namespace": r.namespace},
                    "involvedObject": {"kind": "Pod", "apiVersion": "v1", "namespace": r.namespace,
                        "name": r.name, "uid": r.uid, "resourceVersion": r.resource_version},
                    "reason": r.reason,
                    "message": r.message,
                    "type": r.kind,
                    "source": {"component": COMPONENT},
                    "firstTimestamp": now,
                    "lastTimestamp": now,
                    "count": 1,
                    "reportingComponent": COMPONENT,
                    "reportingInstance": instance,
                });
                tokio::spawn(async move {
                    match serde_json::from_value::<Event>(event) {
                        Ok(ev) => {
                            if let Err(e) = api.create(&PostParams::default(), &ev).await {
                                tracing::debug!("writing event: {e}");
                            }
                        }
                        Err(e) => tracing::warn!("building event: {e}"),
                    }
                    drop(permit);
                });
            }
        }
    }
}
