//! The ReplicaSet and ReplicationController controllers: keep `replicas` pods that match the
//! selector, owning them through controller ownerReferences; create in slow-start batches,
//! delete the least valuable pods first, and report replicas / fullyLabeledReplicas /
//! readyReplicas / availableReplicas / observedGeneration and the ReplicaFailure condition.

mod kinds;

pub use kinds::ReplicaKind;

use crate::events::ComponentRecorder;
use crate::manager::Context;
use crate::ownership::{claim, controller_of, controller_ref};
use crate::pods;
use crate::runtime::expectations::Expectations;
use crate::runtime::{Change, Key, WorkQueue, informer::forward};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Most pods created or deleted in one sync, as upstream's `burstReplicas`.
pub const BURST_REPLICAS: usize = 500;

/// Start both controllers.
pub fn start(ctx: &Arc<Context>) {
    start_kind::<ReplicaSet>(ctx);
    start_kind::<ReplicationController>(ctx);
}

struct Controller<K: ReplicaKind> {
    ctx: Arc<Context>,
    expectations: Expectations,
    events: ComponentRecorder,
    _kind: std::marker::PhantomData<K>,
}

fn start_kind<K: ReplicaKind>(ctx: &Arc<Context>) {
    let queue = WorkQueue::new();
    forward(K::informer(ctx), queue.clone(), |c| {
        vec![Key::of(c.object().as_ref())]
    });
    let owners = K::informer(ctx).clone();
    forward(&ctx.informers.pods, queue.clone(), move |c| {
        pod_owners::<K>(&owners, c)
    });
    let controller = Arc::new(Controller::<K> {
        ctx: ctx.clone(),
        expectations: Expectations::default(),
        events: ctx.recorder.for_component(K::COMPONENT),
        _kind: std::marker::PhantomData,
    });
    queue.run(K::COMPONENT, 4, move |key| {
        let c = controller.clone();
        async move { c.sync(&key).await }
    });
}

/// The objects of kind `K` that should look at a changed pod: its controller, or for an orphan
/// every object whose selector matches (one of them adopts it).
fn pod_owners<K: ReplicaKind>(
    owners: &Arc<crate::runtime::Informer<K>>,
    change: &Change<Pod>,
) -> Vec<Key> {
    let pod = change.object();
    let ns = pod.namespace().unwrap_or_default();
    if let Some(r) = controller_of(&pod.metadata) {
        if r.kind == K::kind(&()) && r.api_version == K::api_version(&()) {
            return vec![Key::new(ns, r.name.clone())];
        }
        return vec![];
    }
    if matches!(change, Change::Deleted(_)) {
        return vec![];
    }
    let labels = pod.labels();
    owners
        .list_namespaced(&ns)
        .iter()
        .filter(|o| o.selects(labels))
        .map(|o| Key::of(o.as_ref()))
        .collect()
}

impl<K: ReplicaKind> Controller<K> {
    async fn sync(&self, key: &Key) -> anyhow::Result<Option<Duration>> {
        let Some(owner) = K::informer(&self.ctx).get(Some(&key.namespace), &key.name) else {
            self.expectations.forget(key);
            return Ok(None);
        };
        let pod_cache = &self.ctx.informers.pods;
        let candidates: Vec<Arc<Pod>> = pod_cache
            .list_namespaced(&key.namespace)
            .into_iter()
            .filter(|p| pods::is_active(p))
            .collect();
        let pod_api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &key.namespace);
        let owned = claim(
            owner.as_ref(),
            |labels| owner.selects(labels),
            candidates,
            &pod_api,
        )
        .await?;

        let observed = self.expectations.satisfied(key, |name| {
            pod_cache
                .get(Some(&key.namespace), name)
                .map(|p| p.metadata.deletion_timestamp.is_some())
        });
        let mut failure = None;
        if observed && owner.meta().deletion_timestamp.is_none() {
            failure = self.manage(key, &owner, &owned, &pod_api).await;
        }
        let requeue = self
            .update_status(key, &owner, &owned, failure.as_ref())
            .await?;
        if let Some(e) = failure {
            anyhow::bail!("{}: {}", e.0, e.1);
        }
        Ok(requeue)
    }

    /// Create or delete pods towards the desired count; returns what failed, if anything, as
    /// (reason, message).
    async fn manage(
        &self,
        key: &Key,
        owner: &K,
        owned: &[Arc<Pod>],
        api: &Api<Pod>,
    ) -> Option<(String, String)> {
        let diff = owned.len() as i64 - i64::from(owner.replicas());
        if diff < 0 {
            let template = owner.template()?;
            let want = ((-diff) as usize).min(BURST_REPLICAS);
            let name = owner.name_any();
            let pod = pods::from_template(template, controller_ref(owner), &name);
            // Slow start: batches of 1, 2, 4, ... so a failing create fails once, not N times.
            let pp = PostParams::default();
            let mut created = 0usize;
            let mut batch = 1usize;
            while created < want {
                let n = batch.min(want - created);
                let results =
                    futures::future::join_all((0..n).map(|_| api.create(&pp, &pod))).await;
                let mut error = None;
                for r in results {
                    match r {
                        Ok(p) => {
                            self.expectations.expect_create(key, p.name_any());
                            self.events.normal(
                                owner,
                                "SuccessfulCreate",
                                format!("Created pod: {}", p.name_any()),
                            );
                        }
                        Err(e) => error = Some(e),
                    }
                }
                created += n;
                if let Some(e) = error {
                    let msg = crate::error_message(&e);
                    // A terminating namespace refuses new pods; that is no failure.
                    if matches!(&e, kube::Error::Api(s) if s.code == 403 && msg.contains("being terminated"))
                    {
                        return None;
                    }
                    self.events
                        .warning(owner, "FailedCreate", format!("Error creating: {msg}"));
                    return Some(("FailedCreate".into(), msg));
                }
                batch *= 2;
            }
        } else if diff > 0 {
            let victims = self.pods_to_delete(owner, owned, (diff as usize).min(BURST_REPLICAS));
            let results = futures::future::join_all(victims.iter().map(|p| async move {
                (
                    p.name_any(),
                    api.delete(&p.name_any(), &DeleteParams::default()).await,
                )
            }))
            .await;
            let mut failure = None;
            for (name, r) in results {
                match r {
                    Ok(_) => {
                        self.expectations.expect_delete(key, name.clone());
                        self.events.normal(
                            owner,
                            "SuccessfulDelete",
                            format!("Deleted pod: {name}"),
                        );
                    }
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => {
                        let msg = crate::error_message(&e);
                        self.events.warning(
                            owner,
                            "FailedDelete",
                            format!("Error deleting: {msg}"),
                        );
                        failure = Some(("FailedDelete".into(), msg));
                    }
                }
            }
            return failure;
        }
        None
    }

    /// The `n` pods to delete first: upstream's ranking, where a pod's node counts as crowded
    /// by the pods of every ReplicaSet sharing this one's controller (a Deployment's old and
    /// new ReplicaSets), so scale-down evens out pods across nodes.
    fn pods_to_delete<'p>(&self, owner: &K, owned: &'p [Arc<Pod>], n: usize) -> Vec<&'p Pod> {
        let owned: Vec<&Pod> = owned.iter().map(AsRef::as_ref).collect();
        if n >= owned.len() {
            return owned;
        }
        let related = self.indirectly_related_pods(owner);
        let related: Vec<&Pod> = related.iter().map(AsRef::as_ref).collect();
        let mut ranked = pods::colocation_ranks(&owned, &related);
        pods::sort_ranked(&mut ranked, jiff::Timestamp::now());
        ranked.into_iter().take(n).map(|r| r.pod).collect()
    }

    /// The pods selected by every object of this kind that has the same controller as `owner`
    /// (none when `owner` has no controller), as upstream's `getIndirectlyRelatedPods`.
    fn indirectly_related_pods(&self, owner: &K) -> Vec<Arc<Pod>> {
        let Some(controller) = controller_of(owner.meta()) else {
            return vec![];
        };
        let ns = owner.namespace().unwrap_or_default();
        let siblings: Vec<Arc<K>> = K::informer(&self.ctx)
            .list_namespaced(&ns)
            .into_iter()
            .filter(|o| controller_of(o.meta()).is_some_and(|r| r.uid == controller.uid))
            .collect();
        let mut seen = std::collections::HashSet::new();
        self.ctx
            .informers
            .pods
            .list_namespaced(&ns)
            .into_iter()
            .filter(|p| siblings.iter().any(|o| o.selects(p.labels())))
            .filter(|p| seen.insert(p.metadata.uid.clone()))
            .collect()
    }

    /// Write the status computed from `owned`; returns when to look again (a pod becoming
    /// available after minReadySeconds).
    async fn update_status(
        &self,
        key: &Key,
        owner: &K,
        owned: &[Arc<Pod>],
        failure: Option<&(String, String)>,
    ) -> anyhow::Result<Option<Duration>> {
        let now = rkube_machinery::time::now_seconds();
        let template_labels = owner
            .template()
            .and_then(|t| t.metadata.as_ref())
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        let mut fully_labeled = 0;
        let mut ready = 0;
        let mut available = 0;
        let mut requeue: Option<Duration> = None;
        for p in owned {
            let labels = p.labels();
            if template_labels
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v))
            {
                fully_labeled += 1;
            }
            if pods::is_ready(p) {
                ready += 1;
            }
            match pods::availability(p, owner.min_ready_seconds(), now) {
                (true, _) => available += 1,
                (false, Some(wait)) => requeue = Some(requeue.map_or(wait, |r| r.min(wait))),
                _ => {}
            }
        }
        let current = owner.status_json();
        let mut conditions: Vec<Value> = current
            .get("conditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let existing = conditions
            .iter()
            .position(|c| c["type"] == "ReplicaFailure");
        match (failure, existing) {
            (Some((reason, message)), Some(i)) => {
                let c = &mut conditions[i];
                if c["reason"] != reason.as_str() || c["message"] != message.as_str() {
                    *c = failure_condition(reason, message, now);
                }
            }
            (Some((reason, message)), None) => {
                conditions.push(failure_condition(reason, message, now))
            }
            (None, Some(i)) => {
                conditions.remove(i);
            }
            (None, None) => {}
        }
        let mut status = json!({
            "replicas": owned.len(),
            "fullyLabeledReplicas": fully_labeled,
            "readyReplicas": ready,
            "availableReplicas": available,
            "observedGeneration": owner.meta().generation.unwrap_or(0),
        });
        if !conditions.is_empty() {
            status["conditions"] = Value::Array(conditions);
        }
        if without_zeros(&status) == without_zeros(&current) {
            return Ok(requeue);
        }
        let mut patch_body = status.clone();
        if patch_body.get("conditions").is_none() {
            patch_body["conditions"] = Value::Null;
        }
        let api: Api<K> = Api::namespaced(self.ctx.client.clone(), &key.namespace);
        match api
            .patch_status(
                &key.name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": patch_body})),
            )
            .await
        {
            Ok(_) => Ok(requeue),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

fn failure_condition(reason: &str, message: &str, now: jiff::Timestamp) -> Value {
    json!({"type": "ReplicaFailure", "status": "True", "reason": reason, "message": message,
           "lastTransitionTime": now.to_string()})
}

/// Status JSON with zero counts dropped (the server omits them), for comparison.
fn without_zeros(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !(v.is_null() || *v == &json!(0)))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        Value::Null => json!({}),
        other => other.clone(),
    }
}
