//! VolumeBinding: pods and their PersistentVolumeClaims, as upstream's plugin of that name.
//!
//! - PreFilter: every claim must exist and not be terminating (`persistentvolumeclaim "x" not
//!   found`), and an unbound claim must be of a WaitForFirstConsumer class (else "pod has
//!   unbound immediate PersistentVolumeClaims"): either rejects the pod on every node.
//! - Filter: a node must satisfy the node affinity of the volumes the pod's claims are bound to
//!   ("node(s) had volume node affinity conflict"), and for each unbound (delayed) claim offer a
//!   matching Available volume, or be a node the class may provision on ("node(s) didn't find
//!   available persistent volumes to bind").
//! - PreBind (in the scheduler's binding task): the chosen node goes to the delayed claims as
//!   `volume.kubernetes.io/selected-node`, and the pod is bound once they are.

use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use k8s_openapi::api::core::v1::{NodeSelector, PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use rkube_machinery::quantity::Quantity;
use std::collections::HashMap;
use std::sync::Arc;

pub const CONFLICT: &str = "node(s) had volume node affinity conflict";
pub const NO_VOLUME: &str = "node(s) didn't find available persistent volumes to bind";
pub const MISSING_VOLUME: &str =
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";
pub const UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";
/// The annotation the scheduler sets on a delayed claim: the node of its first pod.
pub const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// The provisioner of classes whose volumes are all made by hand.
const NO_PROVISIONER: &str = "kubernetes.io/no-provisioner";

/// Claims, volumes and classes as the scheduler's watches last saw them.
#[derive(Debug, Default)]
pub struct Volumes {
    /// namespace/name → claim.
    pub claims: HashMap<String, Arc<PersistentVolumeClaim>>,
    pub volumes: HashMap<String, Arc<PersistentVolume>>,
    pub classes: HashMap<String, Arc<StorageClass>>,
}

impl Volumes {
    /// The claim `name` of namespace `ns`.
    pub fn claim(&self, ns: &str, name: &str) -> Option<&Arc<PersistentVolumeClaim>> {
        self.claims.get(&format!("{ns}/{name}"))
    }

    /// Whether the claim has been bound by the PersistentVolume controller.
    pub fn is_bound(&self, ns: &str, name: &str) -> bool {
        self.claim(ns, name).is_some_and(|c| {
            c.spec
                .as_ref()
                .and_then(|s| s.volume_name.as_deref())
                .is_some_and(|v| !v.is_empty())
                && c.metadata
                    .annotations
                    .as_ref()
                    .is_some_and(|a| a.contains_key("pv.kubernetes.io/bind-completed"))
        })
    }
}

/// A class's `allowedTopologies`: terms of (label key, allowed values); a node matching every
/// requirement of one term may get a volume.
type Topologies = Vec<Vec<(String, Vec<String>)>>;

/// A delayed claim: where it could get a volume.
#[derive(Debug, Clone)]
struct Delayed {
    name: String,
    /// Node affinities of the Available volumes that would fit (None: any node).
    candidates: Vec<Option<NodeSelector>>,
    /// The class provisions volumes; `allowedTopologies` as (key, values) terms.
    provisions: Option<Topologies>,
}

/// What the filter needs for one pod, computed once per attempt.
#[derive(Debug, Clone, Default)]
pub struct State {
    bound: Vec<Option<NodeSelector>>,
    missing_volume: bool,
    delayed: Vec<Delayed>,
}

impl State {
    /// The claims that wait for the pod's node.
    pub fn delayed_claims(&self) -> Vec<String> {
        self.delayed.iter().map(|d| d.name.clone()).collect()
    }
}

fn class_of(claim: &PersistentVolumeClaim) -> String {
    claim
        .spec
        .as_ref()
        .and_then(|s| s.storage_class_name.clone())
        .unwrap_or_default()
}

fn quantity(q: Option<&k8s_openapi::apimachinery::pkg::api::resource::Quantity>) -> Quantity {
    q.and_then(|q| Quantity::parse(&q.0).ok())
        .unwrap_or(Quantity::ZERO)
}

/// An Available, unclaimed volume that would serve `claim`.
fn fits(claim: &PersistentVolumeClaim, v: &PersistentVolume) -> bool {
    let (Some(cs), Some(vs)) = (claim.spec.as_ref(), v.spec.as_ref()) else {
        return false;
    };
    let available = v.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Available");
    let request = quantity(
        cs.resources
            .as_ref()
            .and_then(|r| r.requests.as_ref()?.get("storage")),
    );
    let size = quantity(vs.capacity.as_ref().and_then(|c| c.get("storage")));
    let modes = vs.access_modes.clone().unwrap_or_default();
    available
        && vs.claim_ref.is_none()
        && v.metadata.deletion_timestamp.is_none()
        && vs.storage_class_name.clone().unwrap_or_default() == class_of(claim)
        && size >= request
        && cs.volume_mode.as_deref().unwrap_or("Filesystem")
            == vs.volume_mode.as_deref().unwrap_or("Filesystem")
        && cs.access_modes.iter().flatten().all(|m| modes.contains(m))
        && cs.selector.is_none()
}

fn affinity(v: &PersistentVolume) -> Option<NodeSelector> {
    v.spec.as_ref()?.node_affinity.as_ref()?.required.clone()
}

/// PreFilter: `Ok(None)` when the pod uses no claims, `Err` with upstream's message when the
/// pod cannot be scheduled anywhere until its claims change.
pub fn prepare(pod: &PodInfo, volumes: &Volumes) -> Result<Option<State>, String> {
    if pod.claims.is_empty() {
        return Ok(None);
    }
    let mut state = State::default();
    let mut unbound_immediate = false;
    for name in &pod.claims {
        let Some(claim) = volumes.claim(&pod.namespace, name) else {
            return Err(format!("persistentvolumeclaim \"{name}\" not found"));
        };
        if claim.metadata.deletion_timestamp.is_some() {
            return Err(format!("persistentvolumeclaim \"{name}\" is being deleted"));
        }
        let bound_to = claim.spec.as_ref().and_then(|s| s.volume_name.clone());
        if let Some(v) = bound_to.filter(|v| !v.is_empty()) {
            match volumes.volumes.get(&v) {
                Some(pv) => state.bound.push(affinity(pv)),
                None => state.missing_volume = true,
            }
            continue;
        }
        let class = volumes.classes.get(&class_of(claim));
        let delayed =
            class.is_some_and(|c| c.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer"));
        if !delayed {
            unbound_immediate = true;
            continue;
        }
        let class = class.expect("delayed claims have a class");
        let candidates = volumes
            .volumes
            .values()
            .filter(|v| fits(claim, v))
            .map(|v| affinity(v))
            .collect();
        let provisions = (class.provisioner != NO_PROVISIONER).then(|| {
            class
                .allowed_topologies
                .iter()
                .flatten()
                .map(|t| {
                    t.match_label_expressions
                        .iter()
                        .flatten()
                        .map(|e| (e.key.clone(), e.values.clone()))
                        .collect()
                })
                .collect()
        });
        state.delayed.push(Delayed {
            name: name.clone(),
            candidates,
            provisions,
        });
    }
    if unbound_immediate {
        return Err(UNBOUND_IMMEDIATE.into());
    }
    Ok(Some(state))
}

fn admits(selector: &Option<NodeSelector>, node: &NodeInfo) -> bool {
    selector.as_ref().is_none_or(|s| {
        s.node_selector_terms
            .iter()
            .any(|t| super::node_affinity::term_matches(t, node))
    })
}

/// Filter: the first reason the node cannot serve the pod's volumes.
pub fn filter(state: &State, node: &NodeInfo) -> Option<&'static str> {
    if state.missing_volume {
        return Some(MISSING_VOLUME);
    }
    if !state.bound.iter().all(|a| admits(a, node)) {
        return Some(CONFLICT);
    }
    let served = |d: &Delayed| {
        d.candidates.iter().any(|a| admits(a, node))
            || d.provisions.as_ref().is_some_and(|terms| {
                terms.is_empty()
                    || terms.iter().any(|t| {
                        t.iter()
                            .all(|(k, vs)| node.labels.get(k).is_some_and(|v| vs.contains(v)))
                    })
            })
    };
    (!state.delayed.iter().all(served)).then_some(NO_VOLUME)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pod_info::PriorityClasses;
    use k8s_openapi::api::core::v1::{Node, Pod};
    use serde_json::json;

    fn pod(claims: &[&str]) -> Arc<PodInfo> {
        let volumes: Vec<_> = claims
            .iter()
            .map(|c| json!({"name": c, "persistentVolumeClaim": {"claimName": c}}))
            .collect();
        let p: Pod = serde_json::from_value(
            json!({"metadata": {"name": "p", "namespace": "default", "uid": "u"},
            "spec": {"containers": [{"name": "c", "image": "i"}], "volumes": volumes}}),
        )
        .unwrap();
        PodInfo::new(&p, &PriorityClasses::default())
    }

    fn node(name: &str) -> NodeInfo {
        let n: Node = serde_json::from_value(
            json!({"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}}),
        )
        .unwrap();
        let mut info = NodeInfo::empty(name);
        info.set_node(&n);
        info
    }

    fn cluster() -> Volumes {
        let mut v = Volumes::default();
        let claim = |name: &str, class: &str, volume: Option<&str>| {
            Arc::new(serde_json::from_value::<PersistentVolumeClaim>(json!({
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                         "storageClassName": class, "volumeName": volume}})).unwrap())
        };
        for c in [
            claim("wffc", "local-path", None),
            claim("immediate", "", None),
            claim("bound", "local-path", Some("pv-n2")),
            claim("manual", "local-storage", None),
        ] {
            v.claims.insert(
                format!("default/{}", c.metadata.name.as_deref().unwrap()),
                c,
            );
        }
        let class = |name: &str, provisioner: &str| {
            Arc::new(
                serde_json::from_value::<StorageClass>(json!({"metadata": {"name": name},
                "provisioner": provisioner, "volumeBindingMode": "WaitForFirstConsumer"}))
                .unwrap(),
            )
        };
        v.classes.insert(
            "local-path".into(),
            class("local-path", "rancher.io/local-path"),
        );
        v.classes.insert(
            "local-storage".into(),
            class("local-storage", NO_PROVISIONER),
        );
        let pinned = |name: &str, node: &str, class: &str| {
            Arc::new(serde_json::from_value::<PersistentVolume>(json!({"metadata": {"name": name},
                "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": class,
                    "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                        {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}},
                "status": {"phase": "Available"}})).unwrap())
        };
        v.volumes
            .insert("pv-n2".into(), pinned("pv-n2", "n2", "local-path"));
        v.volumes
            .insert("local-n3".into(), pinned("local-n3", "n3", "local-storage"));
        v
    }

    #[test]
    fn missing_and_immediate_claims_reject_the_pod_everywhere() {
        let v = cluster();
        assert_eq!(
            prepare(&pod(&["nope"]), &v).unwrap_err(),
            "persistentvolumeclaim \"nope\" not found"
        );
        assert_eq!(
            prepare(&pod(&["immediate"]), &v).unwrap_err(),
            UNBOUND_IMMEDIATE
        );
        assert!(prepare(&pod(&[]), &v).unwrap().is_none());
    }

    #[test]
    fn bound_volumes_pin_the_pod_and_delayed_claims_need_a_volume_or_a_provisioner() {
        let v = cluster();
        let bound = prepare(&pod(&["bound"]), &v).unwrap().unwrap();
        assert_eq!(filter(&bound, &node("n1")), Some(CONFLICT));
        assert_eq!(filter(&bound, &node("n2")), None);
        let wffc = prepare(&pod(&["wffc"]), &v).unwrap().unwrap();
        assert_eq!(filter(&wffc, &node("n1")), None);
        assert_eq!(wffc.delayed_claims(), ["wffc"]);
        let manual = prepare(&pod(&["manual"]), &v).unwrap().unwrap();
        assert_eq!(filter(&manual, &node("n1")), Some(NO_VOLUME));
        assert_eq!(filter(&manual, &node("n3")), None);
    }
}
