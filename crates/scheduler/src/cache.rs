//! The scheduler's picture of the cluster: nodes with the pods bound to them, plus pods the
//! scheduler has assumed onto a node while their binding is in flight, so the next decisions
//! already count them without waiting for the API.

use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use k8s_openapi::api::core::v1::Node;
use std::collections::HashMap;
use std::sync::Arc;

/// Nodes and the pods counted on them.
#[derive(Debug, Default)]
pub struct Cache {
    pub nodes: Vec<NodeInfo>,
    index: HashMap<String, usize>,
    /// uid → (node, assumed): every pod counted on some node.
    placed: HashMap<String, (String, bool)>,
}

impl Cache {
    /// The node named `name`, created as not-present when unknown.
    fn slot(&mut self, name: &str) -> &mut NodeInfo {
        let i = match self.index.get(name) {
            Some(i) => *i,
            None => {
                self.nodes.push(NodeInfo::empty(name));
                self.index.insert(name.to_string(), self.nodes.len() - 1);
                self.nodes.len() - 1
            }
        };
        &mut self.nodes[i]
    }

    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.index
            .get(name)
            .map(|i| &self.nodes[*i])
            .filter(|n| n.present)
    }

    /// Where the present node named `name` is in [`Cache::nodes`].
    pub fn position(&self, name: &str) -> Option<usize> {
        self.index
            .get(name)
            .copied()
            .filter(|i| self.nodes[*i].present)
    }

    /// Number of nodes pods can be scheduled to (known and present).
    pub fn node_count(&self) -> usize {
        self.nodes.iter().filter(|n| n.present).count()
    }

    pub fn upsert_node(&mut self, node: &Node) {
        let name = node.metadata.name.clone().unwrap_or_default();
        self.slot(&name).set_node(node);
    }

    pub fn remove_node(&mut self, name: &str) {
        let Some(&i) = self.index.get(name) else {
            return;
        };
        if !self.nodes[i].pods.is_empty() {
            self.nodes[i].present = false;
            return;
        }
        self.nodes.swap_remove(i);
        self.index.remove(name);
        if i < self.nodes.len() {
            let moved = self.nodes[i].name.clone();
            self.index.insert(moved, i);
        }
    }

    /// Count `pod` on its node (a bound pod seen through the watch). Replaces an assumed copy
    /// (returning None, as for a pod not seen before) or an older confirmed one (returned).
    pub fn upsert_pod(&mut self, pod: Arc<PodInfo>) -> Option<Arc<PodInfo>> {
        let node = pod.node_name.clone()?;
        let old = self
            .placed
            .get(&pod.uid)
            .filter(|(_, assumed)| !assumed)
            .and_then(|(n, _)| self.index.get(n))
            .and_then(|i| self.nodes[*i].pods.iter().find(|p| p.uid == pod.uid))
            .cloned();
        self.remove_pod(&pod.uid);
        self.placed.insert(pod.uid.clone(), (node.clone(), false));
        self.slot(&node).add_pod(pod);
        old
    }

    /// Stop counting the pod with `uid` wherever it is.
    pub fn remove_pod(&mut self, uid: &str) -> bool {
        let Some((node, _)) = self.placed.remove(uid) else {
            return false;
        };
        if let Some(&i) = self.index.get(&node) {
            self.nodes[i].remove_pod(uid);
            if !self.nodes[i].present && self.nodes[i].pods.is_empty() {
                self.remove_node(&node);
            }
        }
        true
    }

    /// Count `pod` on `node` before the binding is confirmed.
    pub fn assume(&mut self, pod: &PodInfo, node: &str) {
        let mut p = pod.clone();
        p.node_name = Some(node.to_string());
        let p = Arc::new(p);
        self.remove_pod(&p.uid);
        self.placed.insert(p.uid.clone(), (node.to_string(), true));
        self.slot(node).add_pod(p);
    }

    /// Undo [`Cache::assume`] when the binding failed (unless the watch confirmed it meanwhile).
    pub fn forget(&mut self, uid: &str) {
        if self.placed.get(uid).is_some_and(|(_, assumed)| *assumed) {
            self.remove_pod(uid);
        }
    }

    /// Whether the pod with `uid` is counted on a node.
    pub fn is_placed(&self, uid: &str) -> bool {
        self.placed.contains_key(uid)
    }
}
