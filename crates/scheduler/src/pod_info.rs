//! What the scheduler keeps of a pod: a compact, pre-parsed view (requests, selectors, terms)
//! so filters and scores never re-read the API object.

use crate::resources::{self, Resource};
use k8s_openapi::api::core::v1::{
    NodeSelector, Pod, PodAffinityTerm, PreferredSchedulingTerm, Toleration,
};
use rkube_machinery::selector::LabelSelector;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Priority classes known to the scheduler: name → (value, preempts lower priority).
#[derive(Debug, Default, Clone)]
pub struct PriorityClasses {
    pub classes: BTreeMap<String, (i32, bool)>,
    /// The value and policy of the class with `globalDefault: true`, if any.
    pub global_default: Option<(i32, bool)>,
}

/// A pod affinity term ready to match pods.
#[derive(Debug, Clone)]
pub struct AffinityTerm {
    pub selector: LabelSelector,
    /// Namespaces the term looks in; `None` means every namespace.
    pub namespaces: Option<Vec<String>>,
    pub topology_key: String,
}

impl AffinityTerm {
    fn parse(
        owner_ns: &str,
        term: &PodAffinityTerm,
        own_labels: &BTreeMap<String, String>,
    ) -> Self {
        let mut selector = label_selector(term.label_selector.as_ref());
        // matchLabelKeys / mismatchLabelKeys take the values of the incoming pod's labels.
        let mut extra = Vec::new();
        for k in term.match_label_keys.iter().flatten() {
            if let Some(v) = own_labels.get(k) {
                extra.push((k.clone(), "In".to_string(), vec![v.clone()]));
            }
        }
        for k in term.mismatch_label_keys.iter().flatten() {
            if let Some(v) = own_labels.get(k) {
                extra.push((k.clone(), "NotIn".to_string(), vec![v.clone()]));
            }
        }
        if !extra.is_empty()
            && let Some(ls) = term.label_selector.as_ref()
        {
            let mut exprs = expressions(ls);
            exprs.extend(extra);
            selector =
                LabelSelector::from_match(&ls.match_labels.clone().unwrap_or_default(), &exprs)
                    .unwrap_or_else(|_| nothing());
        }
        let namespaces = match (&term.namespaces, &term.namespace_selector) {
            (_, Some(sel))
                if sel.match_labels.as_ref().is_none_or(|m| m.is_empty())
                    && sel.match_expressions.as_ref().is_none_or(|m| m.is_empty()) =>
            {
                None
            }
            (Some(ns), _) if !ns.is_empty() => Some(ns.clone()),
            _ => Some(vec![owner_ns.to_string()]),
        };
        Self {
            selector,
            namespaces,
            topology_key: term.topology_key.clone(),
        }
    }

    /// Whether `pod` is one of the pods this term selects.
    pub fn matches(&self, pod: &PodInfo) -> bool {
        self.namespaces
            .as_ref()
            .is_none_or(|ns| ns.contains(&pod.namespace))
            && self.selector.matches(&pod.labels)
    }
}

/// A topology spread constraint.
#[derive(Debug, Clone)]
pub struct SpreadConstraint {
    pub max_skew: i32,
    pub topology_key: String,
    pub hard: bool,
    pub selector: LabelSelector,
    pub min_domains: i32,
    pub honor_node_affinity: bool,
    pub honor_taints: bool,
}

/// A disk that only one pod of a node may use read-write (GCE PD, AWS EBS, RBD, iSCSI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExclusiveDisk {
    pub id: String,
    pub read_only: bool,
}

/// The scheduler's view of a pod.
#[derive(Debug, Clone)]
pub struct PodInfo {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub node_name: Option<String>,
    pub scheduler_name: String,
    pub priority: i32,
    pub preempts: bool,
    pub requests: Resource,
    pub non_zero: (i64, i64),
    pub host_ports: Vec<(String, String, i32)>,
    pub tolerations: Vec<Toleration>,
    pub node_selector: BTreeMap<String, String>,
    pub required_node_affinity: Option<NodeSelector>,
    pub preferred_node_affinity: Vec<PreferredSchedulingTerm>,
    pub affinity: Vec<AffinityTerm>,
    pub anti_affinity: Vec<AffinityTerm>,
    pub preferred_affinity: Vec<(i32, AffinityTerm)>,
    pub preferred_anti_affinity: Vec<(i32, AffinityTerm)>,
    pub spread: Vec<SpreadConstraint>,
    pub disks: Vec<ExclusiveDisk>,
    /// Names of the PersistentVolumeClaims the pod's volumes use (VolumeBinding).
    pub claims: Vec<String>,
    pub terminating: bool,
    pub finished: bool,
    /// `spec.schedulingGates` is not empty: not to be scheduled yet.
    pub gated: bool,
    pub nominated_node: Option<String>,
    /// Status of the PodScheduled condition (status, reason, message) as last seen.
    pub scheduled_condition: Option<(String, String, String)>,
    pub created: String,
    pub start_time: String,
    pub resource_version: String,
    /// For a pod not yet on a node: a digest of everything but its status (and resource
    /// version, generation, managed fields, finalizers), so the queue can tell an update that
    /// could change the outcome from a status-only one (upstream's `isPodUpdated`). 0 for
    /// pods on a node.
    pub update_digest: u64,
}

/// Hash what upstream compares to decide a pending pod was updated: its spec and metadata
/// without the resource version, generation, managed fields and finalizers.
fn digest_of(pod: &Pod) -> u64 {
    use std::hash::Hasher;
    struct Sink(std::collections::hash_map::DefaultHasher);
    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.write(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let m = &pod.metadata;
    let compared = (
        (&m.name, &m.namespace, &m.uid, &m.labels, &m.annotations),
        (&m.owner_references, &m.deletion_timestamp, &pod.spec),
    );
    let mut sink = Sink(Default::default());
    // Serializing plain API types into a hasher cannot fail.
    let _ = serde_json::to_writer(&mut sink, &compared);
    sink.0.finish()
}

fn nothing() -> LabelSelector {
    LabelSelector::parse("rkube.invalid/none,!rkube.invalid/none")
        .expect("a selector matching nothing")
}

fn expressions(
    ls: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
) -> Vec<(String, String, Vec<String>)> {
    ls.match_expressions
        .iter()
        .flatten()
        .map(|e| {
            (
                e.key.clone(),
                e.operator.clone(),
                e.values.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// A `metav1.LabelSelector` as a matcher; an absent selector matches nothing.
pub fn label_selector(
    ls: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
) -> LabelSelector {
    match ls {
        None => nothing(),
        Some(ls) => LabelSelector::from_match(
            &ls.match_labels.clone().unwrap_or_default(),
            &expressions(ls),
        )
        .unwrap_or_else(|_| nothing()),
    }
}

impl PodInfo {
    /// Parse `pod`, resolving its priority through `classes` when `spec.priority` is unset.
    pub fn new(pod: &Pod, classes: &PriorityClasses) -> Arc<Self> {
        let meta = &pod.metadata;
        let spec = pod.spec.clone().unwrap_or_default();
        let status = pod.status.clone().unwrap_or_default();
        let namespace = meta.namespace.clone().unwrap_or_default();
        let labels = meta.labels.clone().unwrap_or_default();
        let class = spec
            .priority_class_name
            .as_ref()
            .and_then(|n| classes.classes.get(n).copied())
            .or(classes.global_default);
        let priority = spec.priority.or(class.map(|c| c.0)).unwrap_or(0);
        let preempts = match spec.preemption_policy.as_deref() {
            Some(p) => p != "Never",
            None => class.is_none_or(|c| c.1),
        };
        let mut host_ports = Vec::new();
        for c in spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
        {
            for p in c.ports.iter().flatten() {
                if let Some(hp) = p.host_port.filter(|p| *p > 0) {
                    host_ports.push((
                        p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                        p.host_ip
                            .clone()
                            .filter(|i| !i.is_empty())
                            .unwrap_or_else(|| "0.0.0.0".into()),
                        hp,
                    ));
                }
            }
        }
        let affinity = spec.affinity.clone().unwrap_or_default();
        let node_aff = affinity.node_affinity.unwrap_or_default();
        let pod_aff = affinity.pod_affinity.unwrap_or_default();
        let pod_anti = affinity.pod_anti_affinity.unwrap_or_default();
        let terms = |ts: Option<Vec<PodAffinityTerm>>| -> Vec<AffinityTerm> {
            ts.into_iter()
                .flatten()
                .map(|t| AffinityTerm::parse(&namespace, &t, &labels))
                .collect()
        };
        let weighted = |ts: Option<Vec<k8s_openapi::api::core::v1::WeightedPodAffinityTerm>>| {
            ts.into_iter()
                .flatten()
                .map(|t| {
                    (
                        t.weight,
                        AffinityTerm::parse(&namespace, &t.pod_affinity_term, &labels),
                    )
                })
                .collect::<Vec<_>>()
        };
        let spread = spec
            .topology_spread_constraints
            .iter()
            .flatten()
            .map(|c| {
                let mut selector = label_selector(c.label_selector.as_ref());
                if let (Some(keys), Some(ls)) = (&c.match_label_keys, &c.label_selector) {
                    let mut exprs = expressions(ls);
                    for k in keys {
                        if let Some(v) = labels.get(k) {
                            exprs.push((k.clone(), "In".into(), vec![v.clone()]));
                        }
                    }
                    selector = LabelSelector::from_match(
                        &ls.match_labels.clone().unwrap_or_default(),
                        &exprs,
                    )
                    .unwrap_or_else(|_| nothing());
                }
                SpreadConstraint {
                    max_skew: c.max_skew,
                    topology_key: c.topology_key.clone(),
                    hard: c.when_unsatisfiable == "DoNotSchedule",
                    selector,
                    min_domains: c.min_domains.unwrap_or(1),
                    honor_node_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
                    honor_taints: c.node_taints_policy.as_deref() == Some("Honor"),
                }
            })
            .collect();
        let mut disks = Vec::new();
        let claims = spec
            .volumes
            .iter()
            .flatten()
            .filter_map(|v| v.persistent_volume_claim.as_ref())
            .map(|c| c.claim_name.clone())
            .collect();
        for v in spec.volumes.iter().flatten() {
            if let Some(g) = &v.gce_persistent_disk {
                disks.push(ExclusiveDisk {
                    id: format!("gce/{}", g.pd_name),
                    read_only: g.read_only.unwrap_or(false),
                });
            }
            if let Some(a) = &v.aws_elastic_block_store {
                disks.push(ExclusiveDisk {
                    id: format!("aws/{}", a.volume_id),
                    read_only: false,
                });
            }
            if let Some(r) = &v.rbd {
                disks.push(ExclusiveDisk {
                    id: format!(
                        "rbd/{}/{}/{}",
                        r.monitors.join(","),
                        r.pool.clone().unwrap_or_default(),
                        r.image
                    ),
                    read_only: r.read_only.unwrap_or(false),
                });
            }
            if let Some(i) = &v.iscsi {
                disks.push(ExclusiveDisk {
                    id: format!("iscsi/{}/{}", i.iqn, i.lun),
                    read_only: i.read_only.unwrap_or(false),
                });
            }
        }
        let scheduled_condition = status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "PodScheduled")
            .map(|c| {
                (
                    c.status.clone(),
                    c.reason.clone().unwrap_or_default(),
                    c.message.clone().unwrap_or_default(),
                )
            });
        let phase = status.phase.as_deref().unwrap_or("");
        let update_digest = if spec.node_name.as_deref().is_none_or(str::is_empty) {
            digest_of(pod)
        } else {
            0
        };
        Arc::new(Self {
            uid: meta.uid.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            node_name: spec.node_name.clone().filter(|n| !n.is_empty()),
            scheduler_name: spec
                .scheduler_name
                .clone()
                .unwrap_or_else(|| "default-scheduler".into()),
            priority,
            preempts,
            requests: resources::pod_requests(&spec),
            non_zero: resources::non_zero_requests(&spec),
            host_ports,
            tolerations: spec.tolerations.clone().unwrap_or_default(),
            node_selector: spec.node_selector.clone().unwrap_or_default(),
            required_node_affinity: node_aff.required_during_scheduling_ignored_during_execution,
            preferred_node_affinity: node_aff
                .preferred_during_scheduling_ignored_during_execution
                .unwrap_or_default(),
            affinity: terms(pod_aff.required_during_scheduling_ignored_during_execution),
            anti_affinity: terms(pod_anti.required_during_scheduling_ignored_during_execution),
            preferred_affinity: weighted(
                pod_aff.preferred_during_scheduling_ignored_during_execution,
            ),
            preferred_anti_affinity: weighted(
                pod_anti.preferred_during_scheduling_ignored_during_execution,
            ),
            spread,
            disks,
            claims,
            terminating: meta.deletion_timestamp.is_some(),
            gated: spec
                .scheduling_gates
                .as_ref()
                .is_some_and(|g| !g.is_empty()),
            finished: phase == "Succeeded" || phase == "Failed",
            nominated_node: status.nominated_node_name.clone().filter(|n| !n.is_empty()),
            scheduled_condition,
            created: meta
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.to_string())
                .unwrap_or_default(),
            start_time: status
                .start_time
                .as_ref()
                .map(|t| t.0.to_string())
                .unwrap_or_default(),
            resource_version: meta.resource_version.clone().unwrap_or_default(),
            update_digest,
            labels,
            namespace,
        })
    }

    /// `namespace/name`, as events and logs name pods.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Whether the pod has pod (anti-)affinity terms of any kind.
    pub fn has_pod_affinity(&self) -> bool {
        !(self.affinity.is_empty()
            && self.anti_affinity.is_empty()
            && self.preferred_affinity.is_empty()
            && self.preferred_anti_affinity.is_empty())
    }
}
