//! The event recorder: core/v1 Events about the objects controllers act on, with upstream's
//! reasons and messages (`SuccessfulCreate` "Created pod: web-abc12"). A repeated event
//! (same object, type, reason and message) bumps the count of the existing Event instead of
//! creating a new one, as client-go's event correlator does. Writes happen in the background
//! so a controller never waits for them.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use std::collections::HashMap;
use tokio::sync::mpsc;

/// `Normal` or `Warning`, as upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

struct Pending {
    regarding: ObjectReference,
    kind: EventType,
    reason: String,
    message: String,
    component: &'static str,
}

/// Records events for every controller of the manager.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::UnboundedSender<Pending>,
}

/// A recorder bound to one component name (`replicaset-controller`, ...), the event's source.
#[derive(Clone)]
pub struct ComponentRecorder {
    recorder: Recorder,
    component: &'static str,
}

impl Recorder {
    /// Start the background writer.
    pub fn start(client: Client) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(writer(client, rx));
        Self { tx }
    }

    /// The recorder a controller uses, naming it as the events' source.
    pub fn for_component(&self, component: &'static str) -> ComponentRecorder {
        ComponentRecorder {
            recorder: self.clone(),
            component,
        }
    }
}

impl ComponentRecorder {
    /// Record an event about `obj`.
    pub fn record<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        kind: EventType,
        reason: &str,
        message: impl Into<String>,
    ) {
        let regarding = reference(obj);
        let _ = self.recorder.tx.send(Pending {
            regarding,
            kind,
            reason: reason.to_string(),
            message: message.into(),
            component: self.component,
        });
    }

    /// A `Normal` event.
    pub fn normal<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        reason: &str,
        msg: impl Into<String>,
    ) {
        self.record(obj, EventType::Normal, reason, msg)
    }

    /// A `Warning` event.
    pub fn warning<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        reason: &str,
        msg: impl Into<String>,
    ) {
        self.record(obj, EventType::Warning, reason, msg)
    }
}

/// The reference an event carries to the object it is about.
pub fn reference<K: Resource<DynamicType = ()>>(obj: &K) -> ObjectReference {
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        name: obj.meta().name.clone(),
        namespace: obj.meta().namespace.clone(),
        uid: obj.meta().uid.clone(),
        resource_version: obj.meta().resource_version.clone(),
        field_path: None,
    }
}

type CorrelationKey = (String, EventType, String, String);

async fn writer(client: Client, mut rx: mpsc::UnboundedReceiver<Pending>) {
    // The Event last written for each (object, type, reason, message), and its count.
    let mut seen: HashMap<CorrelationKey, (String, String, i32)> = HashMap::new();
    while let Some(p) = rx.recv().await {
        let ns = p
            .regarding
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let api: Api<Event> = Api::namespaced(client.clone(), &ns);
        let now = jiff::Timestamp::now();
        let key = (
            p.regarding.uid.clone().unwrap_or_default(),
            p.kind,
            p.reason.clone(),
            p.message.clone(),
        );
        if let Some((ens, name, count)) = seen.get_mut(&key)
            && *ens == ns
        {
            let patch = json!({"count": *count + 1, "lastTimestamp": Time(now)});
            if api
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .is_ok()
            {
                *count += 1;
                continue;
            }
        }
        let obj_name = p.regarding.name.clone().unwrap_or_default();
        let name = format!("{obj_name}.{:x}", now.as_nanosecond());
        let ev = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(ns.clone()),
                ..Default::default()
            },
            involved_object: p.regarding,
            reason: Some(p.reason),
            message: Some(p.message),
            type_: Some(p.kind.as_str().into()),
            count: Some(1),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: None::<MicroTime>,
            source: Some(EventSource {
                component: Some(p.component.into()),
                host: None,
            }),
            reporting_component: Some(p.component.into()),
            reporting_instance: Some(String::new()),
            ..Default::default()
        };
        match api.create(&PostParams::default(), &ev).await {
            Ok(created) => {
                if seen.len() > 4096 {
                    seen.clear();
                }
                seen.insert(key, (ns, created.name_any(), 1));
            }
            Err(e) => tracing::debug!(error = %e, "writing an event failed"),
        }
    }
}
