//! The garbage collector: a graph of every object's ownerReferences, from metadata-only
//! watches of every resource discovery reports (custom resources included, picked up as they
//! appear). It
//! - deletes objects whose owners are all gone (dangling references), in the background;
//! - for an owner deleted with `propagationPolicy=Orphan` (the `orphan` finalizer) removes the
//!   owner's reference from its dependents, then the finalizer;
//! - for an owner deleted with `Foreground` (the `foregroundDeletion` finalizer) deletes its
//!   dependents that have no other live owner (from those that do it only drops the reference)
//!   and removes the finalizer once no dependent with `blockOwnerDeletion` is left;
//! - drops references to gone or foreground-deleting owners from objects that still have a
//!   live owner.
//!
//! An owner missing from the graph is looked up on the server before anything is deleted, so a
//! dependent created just before its owner is seen is never taken for an orphan.

use crate::manager::Context;
use crate::runtime::{Key, WorkQueue};
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, PropagationPolicy};
use kube::core::PartialObjectMeta;
use kube::discovery::{ApiResource, Scope, verbs};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const ORPHAN: &str = "orphan";
pub const FOREGROUND: &str = "foregroundDeletion";

/// One object in the graph.
#[derive(Debug, Clone)]
struct Node {
    resource: Arc<(ApiResource, bool)>,
    namespace: Option<String>,
    name: String,
    owners: Vec<OwnerReference>,
    deleting: bool,
    finalizers: Vec<String>,
}

#[derive(Default)]
struct Graph {
    nodes: HashMap<String, Node>,
    /// owner uid -> dependent uids.
    dependents: HashMap<String, HashSet<String>>,
}

impl Graph {
    /// Put `node` in the graph, returning the version it replaces.
    fn upsert(&mut self, uid: &str, node: Node) -> Option<Node> {
        let old = self.remove(uid);
        for o in &node.owners {
            self.dependents
                .entry(o.uid.clone())
                .or_default()
                .insert(uid.to_string());
        }
        self.nodes.insert(uid.to_string(), node);
        old
    }

    fn remove(&mut self, uid: &str) -> Option<Node> {
        let old = self.nodes.remove(uid)?;
        for o in &old.owners {
            if let Some(d) = self.dependents.get_mut(&o.uid) {
                d.remove(uid);
                if d.is_empty() {
                    self.dependents.remove(&o.uid);
                }
            }
        }
        Some(old)
    }

    fn dependents_of(&self, uid: &str) -> Vec<String> {
        self.dependents
            .get(uid)
            .map(|d| d.iter().cloned().collect())
            .unwrap_or_default()
    }
}

struct Collector {
    client: Client,
    ctx: Arc<Context>,
    graph: Mutex<Graph>,
    queue: Arc<WorkQueue>,
}

/// How often discovery is checked for new resource types to watch.
const REDISCOVER: Duration = Duration::from_secs(30);

pub fn start(ctx: &Arc<Context>) {
    let gc = Arc::new(Collector {
        client: ctx.client.clone(),
        ctx: ctx.clone(),
        graph: Mutex::new(Graph::default()),
        queue: WorkQueue::new(),
    });
    let watcher_gc = gc.clone();
    tokio::spawn(async move { watcher_gc.watch_everything().await });
    let worker = gc.clone();
    gc.queue.run("garbage-collector", 4, move |key| {
        let gc = worker.clone();
        async move { gc.process(&key.name).await }
    });
}

impl Collector {
    /// Start a metadata watch for every resource type, now and as new ones appear.
    async fn watch_everything(self: Arc<Self>) {
        let mut watched: HashSet<(String, String)> = HashSet::new();
        loop {
            match self.ctx.resources.resources().await {
                Ok(all) => {
                    for (ar, caps) in all.iter() {
                        let usable = caps.supports_operation(verbs::LIST)
                            && caps.supports_operation(verbs::WATCH)
                            && caps.supports_operation(verbs::DELETE);
                        if !usable || !watched.insert((ar.group.clone(), ar.plural.clone())) {
                            continue;
                        }
                        let resource = Arc::new((ar.clone(), caps.scope == Scope::Namespaced));
                        tokio::spawn(self.clone().watch(resource));
                    }
                }
                Err(e) => tracing::debug!(error = %e, "garbage collector discovery failed"),
            }
            tokio::time::sleep(REDISCOVER).await;
        }
    }

    async fn watch(self: Arc<Self>, resource: Arc<(ApiResource, bool)>) {
        let api: Api<PartialObjectMeta<DynamicObject>> =
            Api::all_with(self.client.clone(), &resource.0);
        let mut events = watcher::watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        let mut listed: Option<HashSet<String>> = None;
        while let Some(ev) = events.next().await {
            match ev {
                Ok(Event::Init) => listed = Some(HashSet::new()),
                Ok(Event::InitApply(o)) => {
                    if let (Some(l), Some(uid)) = (listed.as_mut(), o.metadata.uid.clone()) {
                        l.insert(uid);
                    }
                    self.observe(&resource, o);
                }
                Ok(Event::InitDone) => {
                    // Objects deleted while the watch was down.
                    if let Some(seen) = listed.take() {
                        let gone: Vec<String> = {
                            let g = self.graph.lock().expect("graph lock");
                            g.nodes
                                .iter()
                                .filter(|(uid, n)| {
                                    Arc::ptr_eq(&n.resource, &resource) && !seen.contains(*uid)
                                })
                                .map(|(uid, _)| uid.clone())
                                .collect()
                        };
                        for uid in gone {
                            self.forget(&uid);
                        }
                    }
                }
                Ok(Event::Apply(o)) => self.observe(&resource, o),
                Ok(Event::Delete(o)) => {
                    if let Some(uid) = o.metadata.uid {
                        self.forget(&uid);
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, resource = %resource.0.plural, "GC watch failed")
                }
            }
        }
    }

    fn observe(&self, resource: &Arc<(ApiResource, bool)>, o: PartialObjectMeta<DynamicObject>) {
        let Some(uid) = o.metadata.uid.clone() else {
            return;
        };
        let node = Node {
            resource: resource.clone(),
            namespace: o.metadata.namespace.clone(),
            name: o.metadata.name.clone().unwrap_or_default(),
            owners: o.metadata.owner_references.clone().unwrap_or_default(),
            deleting: o.metadata.deletion_timestamp.is_some(),
            finalizers: o.metadata.finalizers.clone().unwrap_or_default(),
        };
        let interesting = !node.owners.is_empty()
            || (node.deleting
                && node
                    .finalizers
                    .iter()
                    .any(|f| f == ORPHAN || f == FOREGROUND));
        let owners: HashSet<String> = node.owners.iter().map(|o| o.uid.clone()).collect();
        let deleting = node.deleting;
        let old = self.graph.lock().expect("graph lock").upsert(&uid, node);
        if interesting {
            self.queue.add(Key::new("", uid.clone()));
        }
        // An owner in foreground deletion waits for this dependent (while it is being deleted)
        // and stops waiting once the dependent no longer refers to it.
        let released = old
            .into_iter()
            .flat_map(|n| n.owners)
            .map(|o| o.uid)
            .filter(|o| !owners.contains(o));
        let waiting_on: Vec<String> = if deleting {
            owners.iter().cloned().chain(released).collect()
        } else {
            released.collect()
        };
        for o in waiting_on {
            self.queue.add(Key::new("", o));
        }
    }

    /// An object is gone: its dependents may be orphans now, its owners may stop waiting.
    fn forget(&self, uid: &str) {
        let (node, dependents) = {
            let mut g = self.graph.lock().expect("graph lock");
            let node = g.remove(uid);
            (node, g.dependents_of(uid))
        };
        for d in dependents {
            self.queue.add(Key::new("", d));
        }
        for o in node.into_iter().flat_map(|n| n.owners) {
            self.queue.add(Key::new("", o.uid));
        }
    }

    fn node(&self, uid: &str) -> Option<Node> {
        self.graph
            .lock()
            .expect("graph lock")
            .nodes
            .get(uid)
            .cloned()
    }

    fn api(&self, node: &Node) -> Api<DynamicObject> {
        match (&node.namespace, node.resource.1) {
            (Some(ns), true) => Api::namespaced_with(self.client.clone(), ns, &node.resource.0),
            _ => Api::all_with(self.client.clone(), &node.resource.0),
        }
    }

    async fn process(&self, uid: &str) -> anyhow::Result<Option<Duration>> {
        let Some(node) = self.node(uid) else {
            return Ok(None);
        };
        if node.deleting {
            if node.finalizers.iter().any(|f| f == ORPHAN) {
                self.orphan_dependents(uid, &node).await?;
                return Ok(None);
            }
            if node.finalizers.iter().any(|f| f == FOREGROUND) {
                return self.delete_dependents(uid, &node).await;
            }
            return Ok(None);
        }
        if node.owners.is_empty() {
            return Ok(None);
        }
        let mut solid = Vec::new();
        let mut dangling = Vec::new();
        let mut waiting = Vec::new();
        for owner in &node.owners {
            match self.owner_state(&node, owner).await? {
                OwnerState::Solid => solid.push(owner.uid.clone()),
                OwnerState::Dangling => dangling.push(owner.uid.clone()),
                OwnerState::Waiting => waiting.push(owner.uid.clone()),
            }
        }
        if !solid.is_empty() {
            if dangling.is_empty() && waiting.is_empty() {
                return Ok(None);
            }
            let drop: HashSet<String> = dangling.into_iter().chain(waiting).collect();
            let refs: Vec<OwnerReference> = node
                .owners
                .iter()
                .filter(|o| !drop.contains(&o.uid))
                .cloned()
                .collect();
            self.patch_owners(&node, uid, refs).await?;
            return Ok(None);
        }
        let has_dependents = !self
            .graph
            .lock()
            .expect("graph lock")
            .dependents_of(uid)
            .is_empty();
        let policy = if !waiting.is_empty() && has_dependents {
            PropagationPolicy::Foreground
        } else {
            PropagationPolicy::Background
        };
        tracing::debug!(name = %node.name, kind = %node.resource.0.kind, "deleting an object whose owners are gone");
        self.delete(&node, uid, policy).await?;
        Ok(None)
    }

    async fn owner_state(&self, node: &Node, owner: &OwnerReference) -> anyhow::Result<OwnerState> {
        if let Some(o) = self.node(&owner.uid) {
            return Ok(
                if o.deleting && o.finalizers.iter().any(|f| f == FOREGROUND) {
                    OwnerState::Waiting
                } else {
                    OwnerState::Solid
                },
            );
        }
        // Not (yet) seen: ask the server.
        let Some((ar, caps)) = self
            .ctx
            .resources
            .resolve(&owner.api_version, &owner.kind)
            .await?
        else {
            // A kind nobody serves cannot be looked up; leave the dependent alone.
            return Ok(OwnerState::Solid);
        };
        let api: Api<DynamicObject> = match (&node.namespace, caps.scope == Scope::Namespaced) {
            (Some(ns), true) => Api::namespaced_with(self.client.clone(), ns, &ar),
            (None, true) => return Ok(OwnerState::Dangling),
            _ => Api::all_with(self.client.clone(), &ar),
        };
        match api.get_metadata_opt(&owner.name).await? {
            Some(o) if o.metadata.uid.as_deref() == Some(owner.uid.as_str()) => {
                let fg = o
                    .metadata
                    .finalizers
                    .iter()
                    .flatten()
                    .any(|f| f == FOREGROUND);
                Ok(if o.metadata.deletion_timestamp.is_some() && fg {
                    OwnerState::Waiting
                } else {
                    OwnerState::Solid
                })
            }
            _ => Ok(OwnerState::Dangling),
        }
    }

    async fn delete(
        &self,
        node: &Node,
        uid: &str,
        policy: PropagationPolicy,
    ) -> anyhow::Result<()> {
        let dp = DeleteParams {
            propagation_policy: Some(policy),
            preconditions: Some(kube::api::Preconditions {
                uid: Some(uid.to_string()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match self.api(node).delete(&node.name, &dp).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn patch_owners(
        &self,
        node: &Node,
        uid: &str,
        refs: Vec<OwnerReference>,
    ) -> anyhow::Result<()> {
        let refs = if refs.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::to_value(refs)?
        };
        let patch = json!({"metadata": {"ownerReferences": refs, "uid": uid}});
        match self
            .api(node)
            .patch_metadata(&node.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Orphan propagation: take the owner out of every dependent, then drop the finalizer.
    async fn orphan_dependents(&self, uid: &str, node: &Node) -> anyhow::Result<()> {
        let dependents = self.graph.lock().expect("graph lock").dependents_of(uid);
        for d in dependents {
            let Some(dep) = self.node(&d) else { continue };
            let refs: Vec<OwnerReference> = dep
                .owners
                .iter()
                .filter(|o| o.uid != uid)
                .cloned()
                .collect();
            self.patch_owners(&dep, &d, refs).await?;
        }
        self.remove_finalizer(node, ORPHAN).await
    }

    /// Foreground propagation (upstream's `processDeletingDependentsItem`): each dependent is
    /// handed to the ordinary orphan check, where this owner counts as gone-but-waiting — a
    /// dependent with another live owner only loses its reference to this one, the others are
    /// deleted. The owner's finalizer goes once no dependent blocks it
    /// (`blockOwnerDeletion`).
    async fn delete_dependents(&self, uid: &str, node: &Node) -> anyhow::Result<Option<Duration>> {
        let dependents = self.graph.lock().expect("graph lock").dependents_of(uid);
        let mut blocking = 0;
        for d in dependents {
            let Some(dep) = self.node(&d) else { continue };
            let blocks = dep
                .owners
                .iter()
                .any(|o| o.uid == uid && o.block_owner_deletion == Some(true));
            if blocks {
                blocking += 1;
            }
            if !dep.deleting {
                self.queue.add(Key::new("", d));
            }
        }
        if blocking == 0 {
            self.remove_finalizer(node, FOREGROUND).await?;
            return Ok(None);
        }
        // Dependents' deletions and reference removals re-queue the owner; look again anyway.
        Ok(Some(Duration::from_secs(5)))
    }

    async fn remove_finalizer(&self, node: &Node, finalizer: &str) -> anyhow::Result<()> {
        let api = self.api(node);
        let Some(current) = api.get_metadata_opt(&node.name).await? else {
            return Ok(());
        };
        let left: Vec<String> = current
            .metadata
            .finalizers
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|f| f != finalizer)
            .collect();
        let patch = json!({"metadata": {
            "finalizers": if left.is_empty() { serde_json::Value::Null } else { json!(left) },
            "resourceVersion": current.metadata.resource_version,
        }});
        match api
            .patch_metadata(&node.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

enum OwnerState {
    /// Exists and is not waiting for its dependents.
    Solid,
    /// Gone (or replaced by another object of the same name).
    Dangling,
    /// Being deleted in the foreground.
    Waiting,
}
