//! Watches that keep the scheduler's cache and queue current: nodes, pods, priority classes,
//! disruption budgets, the selectors of Services and controllers (for default spreading), and
//! (through [`crate::volumes`]) claims, volumes and storage classes.

use crate::Shared;
use crate::pod_info::{PodInfo, label_selector};
use crate::preemption::Budget;
use crate::queue::events;
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Node, Pod, ReplicationController, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use kube::Resource;
use kube::api::Api;
use kube::runtime::watcher;
use rkube_machinery::selector::LabelSelector;
use std::sync::Arc;
use std::time::Duration;

/// Consume a watch, calling `apply`/`delete` per object and `synced` after each initial list.
pub(crate) async fn follow<K, S>(
    stream: S,
    mut apply: impl FnMut(K),
    mut delete: impl FnMut(K),
    synced: impl Fn(),
) where
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
{
    let mut stream = std::pin::pin!(stream);
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => apply(o),
            Ok(watcher::Event::Delete(o)) => delete(o),
            Ok(watcher::Event::InitDone) => synced(),
            Ok(watcher::Event::Init) => {}
            Err(e) => {
                tracing::warn!("scheduler watch: {e}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// Like client-go's reflectors, the first list asks for resourceVersion 0, which the API server
/// answers from its watch cache instead of paging through the store.
fn cfg() -> watcher::Config {
    watcher::Config::default().any_semantic()
}

/// Start every watch.
pub fn start(shared: Arc<Shared>, client: kube::Client) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    let s = shared.clone();
    let (s1, s2, s3) = (s.clone(), s.clone(), s.clone());
    tasks.push(tokio::spawn(follow(
        watcher(Api::<Node>::all(client.clone()), cfg()),
        move |n: Node| {
            let known = s1
                .cache
                .read()
                .expect("cache lock")
                .node(n.metadata.name.as_deref().unwrap_or(""))
                .is_some();
            s1.cache.write().expect("cache lock").upsert_node(&n);
            s1.cluster_event(if known {
                events::NODE_UPDATE
            } else {
                events::NODE_ADD
            });
        },
        move |n: Node| {
            s2.cache
                .write()
                .expect("cache lock")
                .remove_node(n.metadata.name.as_deref().unwrap_or(""))
        },
        move || s3.synced(0),
    )));
    let (s1, s2, s3) = (s.clone(), s.clone(), s.clone());
    tasks.push(tokio::spawn(follow(
        watcher(Api::<Pod>::all(client.clone()), cfg()),
        move |p: Pod| s1.observe_pod(&p),
        move |p: Pod| s2.forget_pod(p.metadata.uid.as_deref().unwrap_or("")),
        move || s3.synced(1),
    )));
    let (s1, s2, s3) = (s.clone(), s.clone(), s.clone());
    let class_of = |c: &PriorityClass| (c.value, c.preemption_policy.as_deref() != Some("Never"));
    tasks.push(tokio::spawn(follow(
        watcher(Api::<PriorityClass>::all(client.clone()), cfg()),
        move |c: PriorityClass| {
            let mut classes = s1.classes.write().expect("classes lock");
            let name = c.metadata.name.clone().unwrap_or_default();
            classes.classes.insert(name, class_of(&c));
            if c.global_default == Some(true) {
                classes.global_default = Some(class_of(&c));
            }
        },
        move |c: PriorityClass| {
            let mut classes = s2.classes.write().expect("classes lock");
            classes
                .classes
                .remove(c.metadata.name.as_deref().unwrap_or(""));
            if c.global_default == Some(true) {
                classes.global_default = None;
            }
        },
        move || s3.synced(2),
    )));
    let (s1, s2) = (s.clone(), s.clone());
    tasks.push(tokio::spawn(follow(
        watcher(Api::<PodDisruptionBudget>::all(client.clone()), cfg()),
        move |b: PodDisruptionBudget| {
            let key = key_of(&b);
            let budget = Budget {
                namespace: b.metadata.namespace.clone().unwrap_or_default(),
                selector: label_selector(b.spec.as_ref().and_then(|s| s.selector.as_ref())),
                disruptions_allowed: b
                    .status
                    .as_ref()
                    .map(|s| s.disruptions_allowed)
                    .unwrap_or(0),
            };
            s1.budgets
                .write()
                .expect("budgets lock")
                .insert(key, budget);
        },
        move |b: PodDisruptionBudget| {
            s2.budgets
                .write()
                .expect("budgets lock")
                .remove(&key_of(&b));
        },
        || {},
    )));
    tasks.extend(crate::volumes::watches(s.clone(), client.clone()));
    tasks.push(owner_watch::<Service>(s.clone(), client.clone(), |svc| {
        svc.spec
            .as_ref()
            .and_then(|s| s.selector.as_ref())
            .filter(|s| !s.is_empty())
            .map(LabelSelector::from_set)
    }));
    tasks.push(owner_watch::<ReplicaSet>(s.clone(), client.clone(), |rs| {
        rs.spec.as_ref().map(|s| label_selector(Some(&s.selector)))
    }));
    tasks.push(owner_watch::<StatefulSet>(
        s.clone(),
        client.clone(),
        |ss| ss.spec.as_ref().map(|s| label_selector(Some(&s.selector))),
    ));
    tasks.push(owner_watch::<ReplicationController>(
        s.clone(),
        client,
        |rc| {
            rc.spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .filter(|s| !s.is_empty())
                .map(LabelSelector::from_set)
        },
    ));
    tasks
}

fn key_of<K: Resource<DynamicType = ()>>(o: &K) -> String {
    format!(
        "{}/{}/{}",
        K::kind(&Default::default()),
        o.meta().namespace.as_deref().unwrap_or(""),
        o.meta().name.as_deref().unwrap_or("")
    )
}

fn owner_watch<K>(
    shared: Arc<Shared>,
    client: kube::Client,
    selector: fn(&K) -> Option<LabelSelector>,
) -> tokio::task::JoinHandle<()>
where
    K: Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + 'static,
{
    let (s1, s2) = (shared.clone(), shared);
    tokio::spawn(follow(
        watcher(Api::<K>::all(client), cfg()),
        move |o: K| {
            let ns = o.meta().namespace.clone().unwrap_or_default();
            let mut owners = s1.owners.write().expect("owners lock");
            match selector(&o) {
                Some(sel) => {
                    owners.insert(key_of(&o), (ns, sel));
                }
                None => {
                    owners.remove(&key_of(&o));
                }
            }
        },
        move |o: K| {
            s2.owners.write().expect("owners lock").remove(&key_of(&o));
        },
        || {},
    ))
}

/// Parse a pod with the current priority classes.
pub fn pod_info(shared: &Shared, pod: &Pod) -> Arc<PodInfo> {
    PodInfo::new(pod, &shared.classes.read().expect("classes lock"))
}
