//! The watch cache: every resource's objects and recent changes, in memory.
//!
//! One store watch over `/registry/` feeds a [`ResourceCache`] per resource, in revision order.
//! Each cache keeps the current objects (pre-serialized, with their labels and field-selector
//! values extracted once) and a window of recent events, so LIST and WATCH never touch the store
//! and a thousand watchers cost one shared broadcast. Like upstream's cacher, a watch from a
//! revision older than the window gets 410 Expired, and a consistent list first waits until the
//! cache has caught up with the store's current revision.

use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use rkube_machinery::ApiError;
use rkube_machinery::selector::{FieldSelector, LabelSelector};
use rkube_registry::{ResourceInfo, Strategy};
use rkube_store::{EventKind, KeyValue, RangeRequest, Revision, Store};
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;
use tokio::sync::{broadcast, watch};

/// How many recent events each resource keeps for watches that resume from a revision.
const EVENT_WINDOW: usize = 4096;
/// How far a live watcher may fall behind before it is closed (it then resumes from its last
/// revision, usually out of the window).
const BROADCAST_CAPACITY: usize = 8192;

/// One object as the cache holds it.
#[derive(Debug)]
pub struct CachedObject {
    pub key: String,
    pub namespace: Option<String>,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// Field-selector values beyond name and namespace.
    pub fields: Vec<(&'static str, String)>,
    pub revision: Revision,
    /// `metadata.deletionTimestamp` is set: the object is being deleted.
    pub deleting: bool,
    /// The object as JSON, with its resourceVersion.
    pub json: Bytes,
}

impl CachedObject {
    fn build(key: &str, mut obj: Value, revision: Revision, strategy: &dyn Strategy) -> Self {
        crate::storage::set_resource_version(&mut obj, revision);
        let fields = strategy.selectable_fields(&obj);
        Self {
            key: key.to_string(),
            namespace: crate::object::namespace(&obj).map(str::to_string),
            name: crate::object::name(&obj).to_string(),
            labels: crate::object::labels(&obj),
            fields,
            revision,
            deleting: crate::object::deletion_timestamp(&obj).is_some(),
            json: Bytes::from(serde_json::to_vec(&obj).expect("JSON values always serialize")),
        }
    }

    /// Build the cache form of an object read from the store (used by paged lists).
    pub fn from_store(key: &str, obj: Value, revision: Revision, strategy: &dyn Strategy) -> Self {
        Self::build(key, obj, revision, strategy)
    }

    /// The value of a field selector field.
    pub fn field(&self, field: &str) -> Option<String> {
        match field {
            "metadata.name" => Some(self.name.clone()),
            "metadata.namespace" => Some(self.namespace.clone().unwrap_or_default()),
            f => self
                .fields
                .iter()
                .find(|(k, _)| *k == f)
                .map(|(_, v)| v.clone()),
        }
    }
}

/// A watch event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added = 0,
    Modified = 1,
    Deleted = 2,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change of one object.
#[derive(Debug)]
pub struct CacheEvent {
    pub kind: EventType,
    pub object: Arc<CachedObject>,
    pub prev: Option<Arc<CachedObject>>,
    pub revision: Revision,
    /// The JSON watch line of this event in the storage version, once per type a watcher sees
    /// it as (ADDED, MODIFIED, DELETED): rendered by the first watcher that needs it and shared
    /// by the rest, so a thousand watchers cost one serialization.
    lines: [OnceLock<Bytes>; 3],
}

impl CacheEvent {
    /// An event as the cache records it.
    pub fn new(
        kind: EventType,
        object: Arc<CachedObject>,
        prev: Option<Arc<CachedObject>>,
        revision: Revision,
    ) -> Self {
        Self {
            kind,
            object,
            prev,
            revision,
            lines: Default::default(),
        }
    }

    /// `{"type":"<as_type>","object":<object>}\n` for the object in its storage version.
    pub fn line(&self, as_type: EventType) -> Bytes {
        self.lines[as_type as usize]
            .get_or_init(|| event_line(as_type, &self.object.json))
            .clone()
    }
}

/// `{"type":"ADDED","object":<json>}\n`.
pub fn event_line(kind: EventType, object: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(object.len() + 32);
    out.put_slice(b"{\"type\":\"");
    out.put_slice(kind.as_str().as_bytes());
    out.put_slice(b"\",\"object\":");
    out.put_slice(object);
    out.put_slice(b"}\n");
    out.freeze()
}

/// Which objects a list or watch wants.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Filter {
    pub fn matches(&self, o: &CachedObject) -> bool {
        if let Some(ns) = &self.namespace
            && o.namespace.as_deref() != Some(ns.as_str())
        {
            return false;
        }
        self.labels.matches(&o.labels) && self.fields.matches(|f| o.field(f))
    }

    /// What a watcher with this filter sees of an event (upstream's cacher semantics: an object
    /// that stops matching is DELETED for it, one that starts matching is ADDED).
    pub fn view(&self, e: &CacheEvent) -> Option<EventType> {
        let cur = self.matches(&e.object);
        let prev = e.prev.as_ref().is_some_and(|p| self.matches(p));
        match e.kind {
            EventType::Added => cur.then_some(EventType::Added),
            EventType::Deleted => (prev || cur).then_some(EventType::Deleted),
            EventType::Modified => match (prev, cur) {
                (true, true) => Some(EventType::Modified),
                (false, true) => Some(EventType::Added),
                (true, false) => Some(EventType::Deleted),
                (false, false) => None,
            },
        }
    }
}

struct Inner {
    objects: BTreeMap<String, Arc<CachedObject>>,
    events: VecDeque<Arc<CacheEvent>>,
    /// Events after this revision are all in `events`.
    window_start: Revision,
}

/// The cache of one resource.
pub struct ResourceCache {
    pub info: &'static ResourceInfo,
    prefix: String,
    strategy: Arc<dyn Strategy>,
    inner: RwLock<Inner>,
    tx: broadcast::Sender<Arc<CacheEvent>>,
    caches_revision: Arc<AtomicI64>,
}

/// A snapshot of a list.
pub struct ListSnapshot {
    pub items: Vec<Arc<CachedObject>>,
    pub revision: Revision,
}

/// The start of a watch: events to send first, then the live receiver.
pub struct WatchStart {
    pub initial: Vec<Arc<CacheEvent>>,
    pub live: broadcast::Receiver<Arc<CacheEvent>>,
    pub revision: Revision,
}

impl ResourceCache {
    fn apply(&self, kind: EventKind, kv: &KeyValue, rev: Revision) {
        let mut inner = self.inner.write().expect("cache lock");
        let event = match kind {
            EventKind::Create | EventKind::Update => {
                let Ok(obj) = serde_json::from_slice::<Value>(&kv.value) else {
                    tracing::warn!(key = %kv.key, "skipping undecodable object in watch cache");
                    return;
                };
                let cached = Arc::new(CachedObject::build(
                    &kv.key,
                    obj,
                    rev,
                    self.strategy.as_ref(),
                ));
                let prev = inner.objects.insert(kv.key.clone(), cached.clone());
                let kind = if prev.is_some() {
                    EventType::Modified
                } else {
                    EventType::Added
                };
                CacheEvent::new(kind, cached, prev, rev)
            }
            EventKind::Delete => {
                let prev = inner.objects.remove(&kv.key);
                // The store hands over the deleted value; fall back to the cached one.
                let value = serde_json::from_slice::<Value>(&kv.value).ok().or_else(|| {
                    prev.as_ref()
                        .and_then(|c| serde_json::from_slice(&c.json).ok())
                });
                let Some(obj) = value else { return };
                let cached = Arc::new(CachedObject::build(
                    &kv.key,
                    obj,
                    rev,
                    self.strategy.as_ref(),
                ));
                CacheEvent::new(EventType::Deleted, cached, None, rev)
            }
        };
        let event = Arc::new(event);
        inner.events.push_back(event.clone());
        if inner.events.len() > EVENT_WINDOW
            && let Some(old) = inner.events.pop_front()
        {
            inner.window_start = old.revision;
        }
        // Publish the revision and the event while holding the lock, so a reader holding the
        // read lock sees a revision consistent with the objects.
        self.caches_revision.store(rev, Ordering::SeqCst);
        let _ = self.tx.send(event);
    }

    /// The object stored under `key`, as the cache last saw it (possibly a little behind the
    /// store).
    pub fn get(&self, key: &str) -> Option<Arc<CachedObject>> {
        self.inner
            .read()
            .expect("cache lock")
            .objects
            .get(key)
            .cloned()
    }

    /// Objects matching `filter`, and the revision they are current at.
    pub fn list(&self, filter: &Filter) -> ListSnapshot {
        let inner = self.inner.read().expect("cache lock");
        let revision = self.caches_revision.load(Ordering::SeqCst);
        let items: Vec<Arc<CachedObject>> = match (&filter.namespace, self.info.namespaced) {
            (Some(ns), true) => {
                let start = format!("{}{}/", self.prefix, ns);
                let end = rkube_store::prefix_end(&start);
                inner
                    .objects
                    .range(start..end)
                    .map(|(_, o)| o)
                    .filter(|o| filter.matches(o))
                    .cloned()
                    .collect()
            }
            _ => inner
                .objects
                .values()
                .filter(|o| filter.matches(o))
                .cloned()
                .collect(),
        };
        ListSnapshot { items, revision }
    }

    /// Start a watch. `from: None` starts with the current state as ADDED events; `Some(rv)`
    /// replays the changes after `rv`.
    pub fn watch(&self, from: Option<Revision>) -> Result<WatchStart, ApiError> {
        let inner = self.inner.read().expect("cache lock");
        let revision = self.caches_revision.load(Ordering::SeqCst);
        let live = self.tx.subscribe();
        let initial = match from {
            None => inner
                .objects
                .values()
                .map(|o| {
                    Arc::new(CacheEvent::new(
                        EventType::Added,
                        o.clone(),
                        None,
                        o.revision,
                    ))
                })
                .collect(),
            Some(rv) => {
                if rv < inner.window_start {
                    return Err(ApiError::resource_expired(format!(
                        "too old resource version: {rv} ({})",
                        inner.window_start
                    )));
                }
                inner
                    .events
                    .iter()
                    .filter(|e| e.revision > rv)
                    .cloned()
                    .collect()
            }
        };
        Ok(WatchStart {
            initial,
            live,
            revision,
        })
    }
}

/// The caches of every stored resource, fed by one store watch.
pub struct WatchCaches {
    caches: Vec<Arc<ResourceCache>>,
    revision: Arc<AtomicI64>,
    revision_tx: watch::Sender<Revision>,
    store: Arc<dyn Store>,
}

impl WatchCaches {
    /// Load every resource's objects and start following the store.
    pub async fn start(
        store: Arc<dyn Store>,
        resources: Vec<(&'static ResourceInfo, Arc<dyn Strategy>)>,
    ) -> anyhow::Result<Arc<Self>> {
        let start_rev = store.current_revision().await?;
        let revision = Arc::new(AtomicI64::new(start_rev));
        let mut caches = Vec::new();
        // Resources stored in another version share that version's cache.
        for (info, strategy) in resources {
            if rkube_registry::conversion::is_converted(info) {
                continue;
            }
            let prefix = info.storage_prefix();
            let mut objects = BTreeMap::new();
            let mut req = RangeRequest::prefix(&prefix);
            req.revision = start_rev;
            let resp = store.range(req).await?;
            for kv in resp.kvs {
                if let Ok(obj) = serde_json::from_slice::<Value>(&kv.value) {
                    let o = CachedObject::build(&kv.key, obj, kv.mod_revision, strategy.as_ref());
                    objects.insert(kv.key.clone(), Arc::new(o));
                }
            }
            let (tx, _) = broadcast::channel(BROADCAST_CAPACITY);
            caches.push(Arc::new(ResourceCache {
                info,
                prefix,
                strategy,
                inner: RwLock::new(Inner {
                    objects,
                    events: VecDeque::new(),
                    window_start: start_rev,
                }),
                tx,
                caches_revision: revision.clone(),
            }));
        }
        // Longest prefixes first, so `/registry/services/specs/` wins over shorter ones.
        caches.sort_by_key(|c| std::cmp::Reverse(c.prefix.len()));
        let (revision_tx, _) = watch::channel(start_rev);
        let this = Arc::new(Self {
            caches,
            revision,
            revision_tx,
            store: store.clone(),
        });
        let mut events = store.watch("/registry/", start_rev).await?;
        let feeder = this.clone();
        tokio::spawn(async move {
            while let Some(item) = events.next().await {
                match item {
                    Ok(e) => feeder.dispatch(e),
                    Err(err) => {
                        tracing::error!(%err, "watch cache lost its store watch");
                        break;
                    }
                }
            }
        });
        Ok(this)
    }

    fn dispatch(&self, e: rkube_store::Event) {
        let rev = e.revision();
        if let Some(cache) = self.caches.iter().find(|c| e.kv.key.starts_with(&c.prefix)) {
            cache.apply(e.kind, &e.kv, rev);
        } else {
            self.revision.store(rev, Ordering::SeqCst);
        }
        self.revision_tx.send_replace(rev);
    }

    /// The cache of a resource (for a resource served in several versions, the cache of its
    /// storage version: callers convert what they hand out).
    pub fn get(&self, info: &'static ResourceInfo) -> Option<&Arc<ResourceCache>> {
        let stored = rkube_registry::conversion::storage_resource(info);
        self.caches.iter().find(|c| std::ptr::eq(c.info, stored))
    }

    /// The revision the caches are current at.
    pub fn revision(&self) -> Revision {
        self.revision.load(Ordering::SeqCst)
    }

    /// Wait until the caches have caught up with `rev` (upstream waits up to 3 s, then answers
    /// 504 "Too large resource version").
    pub async fn wait_for(&self, rev: Revision) -> Result<(), ApiError> {
        let mut rx = self.revision_tx.subscribe();
        let waited = tokio::time::timeout(Duration::from_secs(3), rx.wait_for(|r| *r >= rev)).await;
        match waited {
            Ok(Ok(_)) => Ok(()),
            _ => Err(ApiError::timeout(format!(
                "Too large resource version: {rev}, current: {}",
                self.revision()
            ))),
        }
    }

    /// Wait until the caches reflect every write acknowledged so far (a consistent read).
    pub async fn sync(&self) -> Result<Revision, ApiError> {
        let rev = self
            .store
            .current_revision()
            .await
            .map_err(ApiError::internal)?;
        self.wait_for(rev).await?;
        Ok(rev)
    }
}
