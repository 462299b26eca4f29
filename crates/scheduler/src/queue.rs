//! The scheduling queue: an active heap ordered by priority then arrival (a retry arrives
//! anew), a back-off heap for pods that recently failed, and a set of unschedulable pods that
//! wait for a cluster change that could make them fit, or, as upstream, are moved out every
//! 30 seconds once they waited five minutes. Status-only updates of a waiting pod (such as
//! the scheduler's own PodScheduled condition) do not requeue it.

use crate::pod_info::PodInfo;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Initial back-off after a failed attempt; doubles per attempt up to [`MAX_BACKOFF`].
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Unschedulable pods are retried at least this often.
pub const MAX_UNSCHEDULABLE: Duration = Duration::from_secs(300);
/// How often the unschedulable pods are checked against [`MAX_UNSCHEDULABLE`].
pub const UNSCHEDULABLE_FLUSH_PERIOD: Duration = Duration::from_secs(30);

/// Kinds of cluster change, as bits of a mask; plugins that rejected a pod say which changes
/// could make it fit.
pub mod events {
    pub const NODE_ADD: u32 = 1;
    pub const NODE_UPDATE: u32 = 2;
    pub const POD_DELETE: u32 = 4;
    pub const POD_ADD: u32 = 8;
    /// A PersistentVolumeClaim, PersistentVolume or StorageClass changed.
    pub const VOLUME: u32 = 16;
    /// The labels of a pod on a node changed (upstream's AssignedPodUpdate).
    pub const POD_UPDATE: u32 = 32;
    /// What can change pod (anti-)affinity and spreading: pods on nodes and nodes.
    pub const POD_AND_NODE_CHANGES: u32 =
        POD_ADD | POD_DELETE | POD_UPDATE | NODE_ADD | NODE_UPDATE;
    pub const ALL: u32 = u32::MAX;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Active,
    Backoff,
    Unschedulable,
    InFlight,
}

#[derive(Debug)]
struct Entry {
    pod: Arc<PodInfo>,
    place: Place,
    generation: u64,
    attempts: u32,
    backoff_until: Instant,
    unschedulable_since: Instant,
    /// Which cluster changes could make this pod fit.
    wake_on: u32,
    seq: u64,
    /// Cluster changes seen while the pod was in flight (ALL: the pod itself changed): if
    /// one could make it fit, a failed attempt retries after the back-off instead of parking.
    seen_in_flight: u32,
}

#[derive(Debug, PartialEq, Eq)]
struct ActiveItem {
    priority: i32,
    seq: u64,
    generation: u64,
    uid: String,
}

impl Ord for ActiveItem {
    fn cmp(&self, o: &Self) -> Ordering {
        self.priority.cmp(&o.priority).then(o.seq.cmp(&self.seq))
    }
}
impl PartialOrd for ActiveItem {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// Pending pods waiting for a scheduling attempt.
#[derive(Debug, Default)]
pub struct Queue {
    entries: HashMap<String, Entry>,
    active: BinaryHeap<ActiveItem>,
    backoff: BinaryHeap<Reverse<(Instant, u64, String)>>,
    next_seq: u64,
    next_gen: u64,
    /// Pods parked as unschedulable (what cluster events look at).
    unschedulable: std::collections::HashSet<String>,
    /// The pod of the current attempt.
    in_flight: Option<String>,
    /// Queued pods with a nominated node: node → uid → pod (kept in step with the entries, so
    /// an attempt reads them without scanning the queue).
    nominations: HashMap<String, HashMap<String, Arc<PodInfo>>>,
    /// When the unschedulable pods were last checked for having waited too long.
    last_unschedulable_flush: Option<Instant>,
    /// For each event bit, how many unschedulable pods wait for it: events nobody waits for
    /// (such as every pod the scheduler binds) cost nothing.
    waiting_on: [usize; 32],
}

/// Move a pod in the nominations index from where `old` says to where `new` says.
fn reindex(
    nominations: &mut HashMap<String, HashMap<String, Arc<PodInfo>>>,
    old: Option<&Arc<PodInfo>>,
    new: Option<&Arc<PodInfo>>,
) {
    if let Some(old) = old
        && let Some(node) = &old.nominated_node
        && let Some(pods) = nominations.get_mut(node)
    {
        pods.remove(&old.uid);
        if pods.is_empty() {
            nominations.remove(node);
        }
    }
    if let Some(new) = new
        && let Some(node) = &new.nominated_node
    {
        nominations
            .entry(node.clone())
            .or_default()
            .insert(new.uid.clone(), new.clone());
    }
}

/// The bit positions set in `mask`.
fn bits(mask: u32) -> impl Iterator<Item = usize> {
    (0..32).filter(move |b| mask & (1 << b) != 0)
}

impl Queue {
    fn bump(&mut self) -> u64 {
        self.next_gen += 1;
        self.next_gen
    }

    /// Take `uid` out of the unschedulable set, if there.
    fn unpark(&mut self, uid: &str) {
        if self.unschedulable.remove(uid)
            && let Some(e) = self.entries.get(uid)
        {
            for b in bits(e.wake_on) {
                self.waiting_on[b] -= 1;
            }
        }
    }

    fn activate(&mut self, uid: &str) {
        let generation = self.bump();
        self.unpark(uid);
        let Some(e) = self.entries.get_mut(uid) else {
            return;
        };
        e.place = Place::Active;
        e.generation = generation;
        self.active.push(ActiveItem {
            priority: e.pod.priority,
            seq: e.seq,
            generation,
            uid: uid.to_string(),
        });
    }

    fn park_in_backoff(&mut self, uid: &str) {
        let generation = self.bump();
        self.unpark(uid);
        let Some(e) = self.entries.get_mut(uid) else {
            return;
        };
        if e.backoff_until <= Instant::now() {
            self.activate(uid);
            return;
        }
        e.place = Place::Backoff;
        e.generation = generation;
        self.backoff
            .push(Reverse((e.backoff_until, generation, uid.to_string())));
    }

    /// A pending pod appeared or changed.
    pub fn upsert(&mut self, pod: Arc<PodInfo>) {
        let uid = pod.uid.clone();
        match self.entries.get_mut(&uid) {
            Some(e) => {
                let changed = e.pod.update_digest != pod.update_digest;
                reindex(&mut self.nominations, Some(&e.pod), Some(&pod));
                e.pod = pod;
                match e.place {
                    Place::InFlight if changed => e.seen_in_flight = events::ALL,
                    Place::Unschedulable if changed => self.park_in_backoff(&uid),
                    Place::Active => self.activate(&uid),
                    _ => {}
                }
            }
            None => {
                reindex(&mut self.nominations, None, Some(&pod));
                self.next_seq += 1;
                let now = Instant::now();
                self.entries.insert(
                    uid.clone(),
                    Entry {
                        pod,
                        place: Place::Active,
                        generation: 0,
                        attempts: 0,
                        backoff_until: now,
                        unschedulable_since: now,
                        wake_on: events::ALL,
                        seq: self.next_seq,
                        seen_in_flight: 0,
                    },
                );
                self.activate(&uid);
            }
        }
    }

    /// The pod was bound, deleted or is no longer ours.
    pub fn remove(&mut self, uid: &str) {
        self.unpark(uid);
        if let Some(e) = self.entries.remove(uid) {
            reindex(&mut self.nominations, Some(&e.pod), None);
        }
    }

    /// Move pods whose back-off is over to the active heap, and, every
    /// [`UNSCHEDULABLE_FLUSH_PERIOD`], the unschedulable ones that waited too long.
    pub fn flush(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((at, generation, uid))) = self.backoff.peek().cloned() {
            if at > now {
                break;
            }
            self.backoff.pop();
            if self
                .entries
                .get(&uid)
                .is_some_and(|e| e.place == Place::Backoff && e.generation == generation)
            {
                self.activate(&uid);
            }
        }
        if self
            .last_unschedulable_flush
            .is_some_and(|t| now - t < UNSCHEDULABLE_FLUSH_PERIOD)
        {
            return;
        }
        self.last_unschedulable_flush = Some(now);
        let stale: Vec<String> = self
            .unschedulable
            .iter()
            .filter(|k| {
                self.entries
                    .get(*k)
                    .is_some_and(|e| now - e.unschedulable_since >= MAX_UNSCHEDULABLE)
            })
            .cloned()
            .collect();
        for uid in stale {
            self.activate(&uid);
        }
    }

    /// When the next back-off ends.
    pub fn next_backoff(&self) -> Option<Instant> {
        self.backoff.peek().map(|Reverse((at, _, _))| *at)
    }

    /// The highest-priority active pod, marked in flight.
    pub fn pop(&mut self) -> Option<Arc<PodInfo>> {
        while let Some(item) = self.active.pop() {
            if let Some(e) = self.entries.get_mut(&item.uid)
                && e.place == Place::Active
                && e.generation == item.generation
            {
                e.place = Place::InFlight;
                self.in_flight = Some(item.uid.clone());
                e.attempts += 1;
                e.seen_in_flight = 0;
                return Some(e.pod.clone());
            }
        }
        None
    }

    /// The attempt failed: park the pod until one of the `wake_on` changes (unschedulable), or
    /// retry after its back-off (`wake_on == ALL`, errors).
    pub fn failed(&mut self, uid: &str, wake_on: u32) {
        self.unpark(uid);
        let Some(e) = self.entries.get_mut(uid) else {
            return;
        };
        let backoff = INITIAL_BACKOFF
            .saturating_mul(1 << e.attempts.saturating_sub(1).min(4))
            .min(MAX_BACKOFF);
        e.backoff_until = Instant::now() + backoff;
        // The retry queues behind pods of its priority that arrived meanwhile.
        self.next_seq += 1;
        e.seq = self.next_seq;
        if e.seen_in_flight & wake_on != 0 || wake_on == events::ALL {
            self.park_in_backoff(uid);
            return;
        }
        e.place = Place::Unschedulable;
        e.wake_on = wake_on;
        e.unschedulable_since = Instant::now();
        if self.unschedulable.insert(uid.to_string()) {
            for b in bits(wake_on) {
                self.waiting_on[b] += 1;
            }
        }
    }

    /// The attempt ended with a binding in flight: forget the pod unless the bind fails.
    pub fn done(&mut self, uid: &str) {
        self.remove(uid);
    }

    /// A cluster change of kind `event` happened: retry the unschedulable pods it could help.
    pub fn on_cluster_event(&mut self, event: u32) {
        if let Some(e) = self
            .in_flight
            .as_ref()
            .and_then(|u| self.entries.get_mut(u))
            && e.place == Place::InFlight
        {
            e.seen_in_flight |= event;
        }
        if !bits(event).any(|b| self.waiting_on[b] > 0) {
            return;
        }
        let uids: Vec<String> = self
            .unschedulable
            .iter()
            .filter(|k| self.entries.get(*k).is_some_and(|e| e.wake_on & event != 0))
            .cloned()
            .collect();
        for uid in uids {
            self.park_in_backoff(&uid);
        }
    }

    /// Pods waiting in any queue.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Pending pods nominated to a node (their resources are reserved there for pods of lower
    /// priority), grouped by node.
    pub fn nominated(&self) -> HashMap<String, Vec<Arc<PodInfo>>> {
        self.nominations
            .iter()
            .map(|(node, pods)| (node.clone(), pods.values().cloned().collect()))
            .collect()
    }

    /// Record the pod's nominated node: set by its preemption, cleared (`None`) when it no
    /// longer holds or a higher-priority pod's preemption took the node.
    pub fn nominate(&mut self, uid: &str, node: Option<&str>) {
        if let Some(e) = self.entries.get_mut(uid) {
            if e.pod.nominated_node.as_deref() == node {
                return;
            }
            let mut p = (*e.pod).clone();
            p.nominated_node = node.map(str::to_string);
            let p = Arc::new(p);
            reindex(&mut self.nominations, Some(&e.pod), Some(&p));
            e.pod = p;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod_info::PriorityClasses;
    use k8s_openapi::api::core::v1::Pod;

    fn pod(name: &str, labels: serde_json::Value, status: serde_json::Value) -> Arc<PodInfo> {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "default", "uid": name, "labels": labels},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]},
            "status": status,
        }))
        .unwrap();
        PodInfo::new(&pod, &PriorityClasses::default())
    }

    fn pending(name: &str) -> Arc<PodInfo> {
        pod(name, serde_json::json!({}), serde_json::json!({}))
    }

    fn popped(q: &mut Queue) -> Option<String> {
        q.flush();
        q.pop().map(|p| p.name.clone())
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_queues_behind_pods_of_its_priority_that_arrived_meanwhile() {
        let mut q = Queue::default();
        q.upsert(pending("first"));
        assert_eq!(popped(&mut q).as_deref(), Some("first"));
        q.upsert(pending("second"));
        q.failed("first", events::ALL);
        tokio::time::advance(INITIAL_BACKOFF * 2).await;
        assert_eq!(popped(&mut q).as_deref(), Some("second"));
        assert_eq!(popped(&mut q).as_deref(), Some("first"));
    }

    #[tokio::test(start_paused = true)]
    async fn status_only_updates_leave_an_unschedulable_pod_waiting() {
        let mut q = Queue::default();
        q.upsert(pending("p"));
        popped(&mut q);
        q.failed("p", events::NODE_ADD);
        let condition = serde_json::json!({"conditions": [{"type": "PodScheduled",
            "status": "False", "reason": "Unschedulable"}], "nominatedNodeName": "n0"});
        q.upsert(pod("p", serde_json::json!({}), condition));
        tokio::time::advance(INITIAL_BACKOFF * 2).await;
        assert_eq!(popped(&mut q), None);
        // The status is kept all the same (the nominated node reserves room).
        assert_eq!(q.nominated().len(), 1);
        q.upsert(pod(
            "p",
            serde_json::json!({"tier": "new"}),
            serde_json::json!({}),
        ));
        tokio::time::advance(INITIAL_BACKOFF * 2).await;
        assert_eq!(popped(&mut q).as_deref(), Some("p"));
    }

    #[tokio::test(start_paused = true)]
    async fn only_changes_that_could_help_retry_a_pod() {
        let mut q = Queue::default();
        q.upsert(pending("p"));
        popped(&mut q);
        // A pod was bound while the attempt ran; the pod waits for nodes, so it parks.
        q.on_cluster_event(events::POD_ADD);
        q.failed("p", events::NODE_ADD | events::NODE_UPDATE);
        tokio::time::advance(MAX_BACKOFF).await;
        assert_eq!(popped(&mut q), None);
        q.on_cluster_event(events::POD_ADD);
        tokio::time::advance(MAX_BACKOFF).await;
        assert_eq!(popped(&mut q), None);
        q.on_cluster_event(events::NODE_ADD);
        tokio::time::advance(MAX_BACKOFF).await;
        assert_eq!(popped(&mut q).as_deref(), Some("p"));
        // A node added during the attempt retries it after the back-off.
        q.on_cluster_event(events::NODE_ADD);
        q.failed("p", events::NODE_ADD);
        tokio::time::advance(MAX_BACKOFF).await;
        assert_eq!(popped(&mut q).as_deref(), Some("p"));
    }

    #[test]
    fn nominated_pods_are_grouped_by_their_current_node() {
        let mut q = Queue::default();
        let on = |name: &str, node: &str| {
            pod(
                name,
                serde_json::json!({}),
                serde_json::json!({"nominatedNodeName": node}),
            )
        };
        q.upsert(on("a", "n0"));
        q.upsert(on("b", "n0"));
        q.upsert(pending("c"));
        q.nominate("c", Some("n1"));
        q.upsert(on("b", "n1"));
        q.nominate("a", None);
        let mut seen: Vec<(String, Vec<String>)> = q
            .nominated()
            .into_iter()
            .map(|(n, ps)| {
                let mut names: Vec<String> = ps.iter().map(|p| p.name.clone()).collect();
                names.sort();
                (n, names)
            })
            .collect();
        seen.sort();
        assert_eq!(seen, vec![("n1".to_string(), vec!["b".into(), "c".into()])]);
        q.remove("b");
        q.remove("c");
        assert!(q.nominated().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn long_unschedulable_pods_are_moved_on_a_thirty_second_period() {
        let start = Instant::now();
        let mut q = Queue::default();
        q.flush();
        q.upsert(pending("p"));
        popped(&mut q);
        tokio::time::advance(Duration::from_millis(500)).await;
        q.failed("p", events::NODE_ADD);
        tokio::time::advance(Duration::from_millis(500)).await;
        // Checks every 30 s from 0: at 300 s it waited 299.5 s; it moves at the 330 s one.
        for _ in 0..328 {
            tokio::time::advance(Duration::from_secs(1)).await;
            assert_eq!(
                popped(&mut q),
                None,
                "moved too early at {:?}",
                start.elapsed()
            );
        }
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(popped(&mut q).as_deref(), Some("p"));
    }
}
