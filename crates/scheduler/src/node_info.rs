//! What the scheduler keeps of a node: its labels, taints and allocatable resources, and the
//! pods on it (bound or assumed) with their summed requests and host ports.

use crate::pod_info::PodInfo;
use crate::resources::Resource;
use k8s_openapi::api::core::v1::{Node, Taint};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One node and the pods the scheduler counts on it.
#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    pub name: String,
    /// False while pods point at a node the scheduler has not seen (or that was deleted).
    pub present: bool,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
    pub allocatable: Resource,
    pub requested: Resource,
    pub non_zero_cpu: i64,
    pub non_zero_memory: i64,
    pub pods: Vec<Arc<PodInfo>>,
    pub ports: Vec<(String, String, i32)>,
    /// How many of the pods have pod (anti-)affinity terms (InterPodAffinity skips nodes without).
    pub with_affinity: usize,
}

impl NodeInfo {
    pub fn empty(name: &str) -> Self {
        Self {
            name: name.to_string(),
            ..Default::default()
        }
    }

    /// Take the node's current labels, taints and allocatable.
    pub fn set_node(&mut self, node: &Node) {
        self.present = true;
        self.labels = node.metadata.labels.clone().unwrap_or_default();
        let spec = node.spec.clone().unwrap_or_default();
        self.taints = spec.taints.unwrap_or_default();
        self.unschedulable = spec.unschedulable.unwrap_or(false);
        self.allocatable =
            Resource::from_list(node.status.as_ref().and_then(|s| s.allocatable.as_ref()));
    }

    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests);
        self.non_zero_cpu += pod.non_zero.0;
        self.non_zero_memory += pod.non_zero.1;
        self.ports.extend(pod.host_ports.iter().cloned());
        self.with_affinity += pod.has_pod_affinity() as usize;
        self.pods.push(pod);
    }

    /// Remove the pod with `uid`; returns whether it was there.
    pub fn remove_pod(&mut self, uid: &str) -> bool {
        let Some(i) = self.pods.iter().position(|p| p.uid == uid) else {
            return false;
        };
        let pod = self.pods.swap_remove(i);
        self.requested.sub(&pod.requests);
        self.non_zero_cpu -= pod.non_zero.0;
        self.non_zero_memory -= pod.non_zero.1;
        self.with_affinity -= pod.has_pod_affinity() as usize;
        for p in &pod.host_ports {
            if let Some(j) = self.ports.iter().position(|q| q == p) {
                self.ports.swap_remove(j);
            }
        }
        true
    }
}
