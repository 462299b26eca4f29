//! ReplicaSet and ReplicationController differ only in how they spell their spec; the
//! controller works on either through [`ReplicaKind`].

use crate::manager::Context;
use crate::ownership::{selector_is_empty, selector_matches};
use crate::runtime::Informer;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{PodTemplateSpec, ReplicationController};
use kube::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

/// What the replica controller needs to know about its kind of object.
pub trait ReplicaKind:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + Serialize
    + Debug
    + Send
    + Sync
    + 'static
{
    /// The event source and log name (`replicaset-controller`).
    const COMPONENT: &'static str;
    /// The shared cache of this kind.
    fn informer(ctx: &Context) -> &Arc<Informer<Self>>;
    /// Desired number of pods (default 1).
    fn replicas(&self) -> i32;
    fn min_ready_seconds(&self) -> i32;
    /// Whether the selector selects `labels`; a selector that selects nothing in particular
    /// selects no pod.
    fn selects(&self, labels: &BTreeMap<String, String>) -> bool;
    fn template(&self) -> Option<&PodTemplateSpec>;
    /// The current status as JSON, to compare with the computed one.
    fn status_json(&self) -> Value;
}

impl ReplicaKind for ReplicaSet {
    const COMPONENT: &'static str = "replicaset-controller";
    fn informer(ctx: &Context) -> &Arc<Informer<Self>> {
        &ctx.informers.replica_sets
    }
    fn replicas(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }
    fn min_ready_seconds(&self) -> i32 {
        self.spec
            .as_ref()
            .and_then(|s| s.min_ready_seconds)
            .unwrap_or(0)
    }
    fn selects(&self, labels: &BTreeMap<String, String>) -> bool {
        self.spec.as_ref().is_some_and(|s| {
            !selector_is_empty(&s.selector) && selector_matches(&s.selector, labels)
        })
    }
    fn template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref().and_then(|s| s.template.as_ref())
    }
    fn status_json(&self) -> Value {
        serde_json::to_value(&self.status).unwrap_or(Value::Null)
    }
}

impl ReplicaKind for ReplicationController {
    const COMPONENT: &'static str = "replication-controller";
    fn informer(ctx: &Context) -> &Arc<Informer<Self>> {
        &ctx.informers.replication_controllers
    }
    fn replicas(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }
    fn min_ready_seconds(&self) -> i32 {
        self.spec
            .as_ref()
            .and_then(|s| s.min_ready_seconds)
            .unwrap_or(0)
    }
    fn selects(&self, labels: &BTreeMap<String, String>) -> bool {
        let Some(sel) = self.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
            return false;
        };
        !sel.is_empty() && sel.iter().all(|(k, v)| labels.get(k) == Some(v))
    }
    fn template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref().and_then(|s| s.template.as_ref())
    }
    fn status_json(&self) -> Value {
        serde_json::to_value(&self.status).unwrap_or(Value::Null)
    }
}
