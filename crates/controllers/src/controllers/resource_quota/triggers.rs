//! When quotas must be recounted because something they count went away or stopped counting
//! (upstream's replenishment): a pod deleted, finished or past its deletion grace, a claim
//! changed or deleted, and services, config maps, secrets, replication controllers and the
//! workloads the controller manager caches anyway (for `count/<resource>.<group>`) deleted.
//! Every quota of the object's namespace is queued.

use super::quota_keys;
use crate::manager::Context;
use crate::runtime::{Change, Informer, WorkQueue};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, ResourceQuota, Secret, Service};
use kube::core::PartialObjectMeta;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::sync::Arc;

pub fn start(ctx: &Arc<Context>, quotas: &Arc<Informer<ResourceQuota>>, queue: &Arc<WorkQueue>) {
    let q = quotas.clone();
    replenish_on(
        &ctx.informers.pods,
        queue,
        move |c| match c {
            Change::Deleted(_) => true,
            Change::Applied(p) => {
                let json = super::to_json(p.as_ref());
                p.metadata.deletion_timestamp.is_some()
                    || !rkube_machinery::quota::evaluators::is_charged(
                        &json,
                        jiff::Timestamp::now(),
                    )
            }
        },
        q.clone(),
    );
    replenish_on(
        &ctx.informers.persistent_volume_claims,
        queue,
        |_| true,
        q.clone(),
    );
    replenish_on(
        &ctx.informers.replication_controllers,
        queue,
        deleted,
        q.clone(),
    );
    // `count/<resource>.<group>` quotas on the workloads whose caches are shared anyway.
    let i = &ctx.informers;
    replenish_on(&i.deployments, queue, deleted, q.clone());
    replenish_on(&i.replica_sets, queue, deleted, q.clone());
    replenish_on(&i.stateful_sets, queue, deleted, q.clone());
    replenish_on(&i.daemon_sets, queue, deleted, q.clone());
    replenish_on(&i.jobs, queue, deleted, q.clone());
    replenish_on(&i.cron_jobs, queue, deleted, q.clone());
    replenish_on(&i.disruption_budgets, queue, deleted, q.clone());
    deletions_of::<Service>(ctx, queue, q.clone());
    deletions_of::<ConfigMap>(ctx, queue, q.clone());
    deletions_of::<Secret>(ctx, queue, q);
}

fn deleted<K>(c: &Change<K>) -> bool {
    matches!(c, Change::Deleted(_))
}

/// Queue the namespace's quotas on the changes of a shared informer `wanted` picks.
fn replenish_on<K, F>(
    informer: &Arc<Informer<K>>,
    queue: &Arc<WorkQueue>,
    wanted: F,
    quotas: Arc<Informer<ResourceQuota>>,
) where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    F: Fn(&Change<K>) -> bool + Send + Sync + 'static,
{
    let mut rx = informer.subscribe();
    let queue = queue.clone();
    tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(change) if wanted(&change) => {
                    let ns = change.object().namespace().unwrap_or_default();
                    for key in quota_keys(&quotas, &ns) {
                        queue.add(key);
                    }
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    for q in quotas.list() {
                        queue.add(crate::runtime::Key::of(q.as_ref()));
                    }
                }
                Err(_) => return,
            }
        }
    });
}

/// Queue the namespace's quotas when an object of `K` is deleted (a metadata-only watch, no
/// cache).
fn deletions_of<K>(ctx: &Arc<Context>, queue: &Arc<WorkQueue>, quotas: Arc<Informer<ResourceQuota>>)
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + Sync
        + 'static,
{
    let api: Api<PartialObjectMeta<K>> = Api::all(ctx.client.clone());
    let queue = queue.clone();
    tokio::spawn(async move {
        let mut events = watcher::watcher(api, watcher::Config::default().any_semantic())
            .default_backoff()
            .boxed();
        while let Some(event) = events.next().await {
            if let Ok(Event::Delete(o)) = event {
                let ns = o.metadata.namespace.clone().unwrap_or_default();
                for key in quota_keys(&quotas, &ns) {
                    queue.add(key);
                }
            }
        }
    });
}
