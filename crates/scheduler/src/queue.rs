//! The scheduling queue: an active heap ordered by priority then arrival, a back-off heap for
//! pods that recently failed, and a set of unschedulable pods that wait for a cluster change
//! that could make them fit (or for five minutes, as upstream).

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

/// Kinds of cluster change, as bits of a mask; plugins that rejected a pod say which changes
/// could make it fit.
pub mod events {
    pub const NODE_ADD: u32 = 1;
    pub const NODE_UPDATE: u32 = 2;
    pub const POD_DELETE: u32 = 4;
    pub const POD_ADD: u32 = 8;
    /// A PersistentVolumeClaim, PersistentVolume or StorageClass changed.
    pub const VOLUME: u32 = 16;
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
    /// Changed while in flight: retry at once instead of parking it.
    dirty: bool,
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
    /// How many queued pods carry a nominated node (to skip the scan when none does).
    nominated_count: usize,
}

impl Queue {
    fn bump(&mut self) -> u64 {
        self.next_gen += 1;
        self.next_gen
    }

    fn activate(&mut self, uid: &str) {
        let generation = self.bump();
        self.unschedulable.remove(uid);
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
        let Some(e) = self.entries.get_mut(uid) else {
            return;
        };
        if e.backoff_until <= Instant::now() {
            self.activate(uid);
            return;
        }
        e.place = Place::Backoff;
        e.generation = generation;
        self.unschedulable.remove(uid);
        self.backoff
            .push(Reverse((e.backoff_until, generation, uid.to_string())));
    }

    /// A pending pod appeared or changed.
    pub fn upsert(&mut self, pod: Arc<PodInfo>) {
        let uid = pod.uid.clone();
        match self.entries.get_mut(&uid) {
            Some(e) => {
                let changed = e.pod.resource_version != pod.resource_version;
                match (e.pod.nominated_node.is_some(), pod.nominated_node.is_some()) {
                    (false, true) => self.nominated_count += 1,
                    (true, false) => self.nominated_count -= 1,
                    _ => {}
                }
                e.pod = pod;
                match e.place {
                    Place::InFlight => e.dirty |= changed,
                    Place::Unschedulable if changed => self.park_in_backoff(&uid),
                    Place::Active => self.activate(&uid),
                    _ => {}
                }
            }
            None => {
                if pod.nominated_node.is_some() {
                    self.nominated_count += 1;
                }
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
                        dirty: false,
                    },
                );
                self.activate(&uid);
            }
        }
    }

    /// The pod was bound, deleted or is no longer ours.
    pub fn remove(&mut self, uid: &str) {
        self.unschedulable.remove(uid);
        if let Some(e) = self.entries.remove(uid)
            && e.pod.nominated_node.is_some()
        {
            self.nominated_count -= 1;
        }
    }

    /// Move pods whose back-off is over to the active heap, and old unschedulable ones too.
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
                e.dirty = false;
                return Some(e.pod.clone());
            }
        }
        None
    }

    /// The attempt failed: park the pod until one of the `wake_on` changes (unschedulable), or
    /// retry after its back-off (`wake_on == ALL`, errors).
    pub fn failed(&mut self, uid: &str, wake_on: u32) {
        let Some(e) = self.entries.get_mut(uid) else {
            return;
        };
        let backoff = INITIAL_BACKOFF
            .saturating_mul(1 << e.attempts.saturating_sub(1).min(4))
            .min(MAX_BACKOFF);
        e.backoff_until = Instant::now() + backoff;
        if e.dirty || wake_on == events::ALL {
            self.park_in_backoff(uid);
            return;
        }
        e.place = Place::Unschedulable;
        e.wake_on = wake_on;
        e.unschedulable_since = Instant::now();
        self.unschedulable.insert(uid.to_string());
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
            e.dirty = true;
        }
        if self.unschedulable.is_empty() {
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
        let mut out: HashMap<String, Vec<Arc<PodInfo>>> = HashMap::new();
        if self.nominated_count == 0 {
            return out;
        }
        for e in self.entries.values() {
            if let Some(n) = &e.pod.nominated_node {
                out.entry(n.clone()).or_default().push(e.pod.clone());
            }
        }
        out
    }

    /// Record the pod's nominated node: set by its preemption, cleared (`None`) when it no
    /// longer holds or a higher-priority pod's preemption took the node.
    pub fn nominate(&mut self, uid: &str, node: Option<&str>) {
        if let Some(e) = self.entries.get_mut(uid) {
            if e.pod.nominated_node.as_deref() == node {
                return;
            }
            let mut p = (*e.pod).clone();
            match (p.nominated_node.is_some(), node.is_some()) {
                (false, true) => self.nominated_count += 1,
                (true, false) => self.nominated_count -= 1,
                _ => {}
            }
            p.nominated_node = node.map(str::to_string);
            e.pod = Arc::new(p);
        }
    }
}
