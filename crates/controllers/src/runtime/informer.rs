//! Shared informers: one kube-runtime watcher per resource type feeding a reflector store that
//! every controller reads, plus a broadcast of changes.
//!
//! kube-runtime's shared-stream controllers cannot report deletions (they look objects up in
//! the store, where a deleted object no longer is), and a ReplicaSet must hear that its pod was
//! deleted. So changes are broadcast with the object itself, deleted or not.

use futures::StreamExt;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::sync::Arc;
use tokio::sync::broadcast;

/// One change seen by an informer.
#[derive(Debug, Clone)]
pub enum Change<K> {
    /// Added, modified, or listed after a (re)start of the watch.
    Applied(Arc<K>),
    /// Deleted; the object as it was last seen.
    Deleted(Arc<K>),
}

impl<K> Change<K> {
    /// The object the change is about.
    pub fn object(&self) -> &Arc<K> {
        match self {
            Change::Applied(o) | Change::Deleted(o) => o,
        }
    }
}

/// A watched, cached resource type that controllers subscribe to.
pub struct Informer<K: Resource<DynamicType = ()> + 'static> {
    store: Store<K>,
    tx: broadcast::Sender<Change<K>>,
}

impl<K> Informer<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    /// Start watching every object of the type `api` addresses (usually cluster-wide). Like
    /// client-go's reflectors, the first list asks for resourceVersion 0, which the API server
    /// answers from its watch cache instead of paging through the store.
    pub fn start(api: Api<K>) -> Arc<Self> {
        Self::start_with(api, watcher::Config::default().any_semantic())
    }

    /// Start watching the objects `config` selects.
    pub fn start_with(api: Api<K>, config: watcher::Config) -> Arc<Self> {
        let (store, mut writer) = reflector::store::<K>();
        let (tx, _) = broadcast::channel(16_384);
        let informer = Arc::new(Self {
            store,
            tx: tx.clone(),
        });
        tokio::spawn(async move {
            let mut events = watcher(api, config).boxed();
            while let Some(event) = events.next().await {
                let event = match event {
                    Ok(e) => e,
                    Err(e) => {
                        tracing::debug!(error = %e, kind = %K::kind(&()), "watch failed; retrying");
                        continue;
                    }
                };
                writer.apply_watcher_event(&event);
                let change = match event {
                    Event::Apply(o) | Event::InitApply(o) => Change::Applied(Arc::new(o)),
                    Event::Delete(o) => Change::Deleted(Arc::new(o)),
                    Event::Init | Event::InitDone => continue,
                };
                let _ = tx.send(change);
            }
        });
        informer
    }

    /// The cache (possibly slightly behind the server).
    pub fn store(&self) -> &Store<K> {
        &self.store
    }

    /// Every cached object.
    pub fn list(&self) -> Vec<Arc<K>> {
        self.store.state()
    }

    /// Cached objects of one namespace.
    pub fn list_namespaced(&self, ns: &str) -> Vec<Arc<K>> {
        self.store
            .state_filter(|o| o.meta().namespace.as_deref() == Some(ns))
    }

    /// One cached object.
    pub fn get(&self, ns: Option<&str>, name: &str) -> Option<Arc<K>> {
        let mut r = reflector::ObjectRef::<K>::new(name);
        if let Some(ns) = ns {
            r = r.within(ns);
        }
        self.store.get(&r)
    }

    /// Changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Change<K>> {
        self.tx.subscribe()
    }

    /// Wait until the first list has been cached.
    pub async fn synced(&self) {
        let _ = self.store.wait_until_ready().await;
    }
}

fn watcher<K>(
    api: Api<K>,
    config: watcher::Config,
) -> impl futures::Stream<Item = watcher::Result<Event<K>>> + Send + 'static
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
{
    watcher::watcher(api, config).default_backoff()
}

/// Feed every change of `informer` through `map` into a controller's queue until the process
/// stops, starting with every object already cached. When the subscriber falls behind,
/// everything is re-enqueued (a resync).
pub fn forward<K, F>(informer: &Arc<Informer<K>>, queue: Arc<super::WorkQueue>, map: F)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    F: Fn(&Change<K>) -> Vec<super::Key> + Send + 'static,
{
    let mut rx = informer.subscribe();
    let informer = informer.clone();
    tokio::spawn(async move {
        for o in informer.list() {
            for key in map(&Change::Applied(o)) {
                queue.add(key);
            }
        }
        loop {
            match rx.recv().await {
                Ok(change) => {
                    for key in map(&change) {
                        queue.add(key);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    for o in informer.list() {
                        for key in map(&Change::Applied(o)) {
                            queue.add(key);
                        }
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}
