//! What each kind of object costs a quota (upstream's quota evaluators): pods (compute
//! resources, `pods` only while not terminal), services (node ports and load balancers),
//! persistent volume claims (storage, also per storage class), and a plain object count
//! (`count/<resource>.<group>`) for everything else.

use super::pod_resources::{Side, pod_total};
use super::resource_list::{ResourceList, add, single};
use super::scopes::{ScopeRequirement, pod_matches};
use crate::quantity::Quantity;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The resources quota measures on a pod (besides hugepages and extended resources).
const POD_RESOURCES: [&str; 11] = [
    "count/pods",
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
];

/// Quota on these makes every container state its own value (an old upstream mistake kept
/// for compatibility).
const MUST_SPECIFY: [&str; 6] = [
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
];

const SERVICE_RESOURCES: [&str; 4] = [
    "count/services",
    "services",
    "services.loadbalancers",
    "services.nodeports",
];

/// Where per-storage-class claim resources are named: `<class>.storageclass.storage.k8s.io/<resource>`.
pub const STORAGE_CLASS_SUFFIX: &str = ".storageclass.storage.k8s.io/";

/// Core resources whose object count quota also answers to the bare resource name.
const LEGACY_COUNTS: [&str; 4] = [
    "configmaps",
    "secrets",
    "replicationcontrollers",
    "resourcequotas",
];

/// How quota measures one resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Evaluator {
    Pods,
    Services,
    PersistentVolumeClaims,
    /// Any other resource: one per object.
    ObjectCount {
        group: String,
        resource: String,
    },
}

impl Evaluator {
    /// The evaluator of a resource.
    pub fn of(group: &str, resource: &str) -> Self {
        match (group, resource) {
            ("", "pods") => Self::Pods,
            ("", "services") => Self::Services,
            ("", "persistentvolumeclaims") => Self::PersistentVolumeClaims,
            _ => Self::ObjectCount {
                group: group.to_string(),
                resource: resource.to_string(),
            },
        }
    }

    /// The evaluators that measure some of `names` (a quota's hard limits).
    pub fn for_names<'a>(names: impl IntoIterator<Item = &'a String>) -> Vec<Self> {
        let mut out = BTreeSet::new();
        for n in names {
            if let Some(counted) = n.strip_prefix("count/") {
                let (resource, group) = counted.split_once('.').unwrap_or((counted, ""));
                out.insert(Self::of(group, resource));
            } else if LEGACY_COUNTS.contains(&n.as_str()) {
                out.insert(Self::of("", n));
            } else if SERVICE_RESOURCES.contains(&n.as_str()) {
                out.insert(Self::Services);
            } else if n == "persistentvolumeclaims"
                || n == "requests.storage"
                || is_per_storage_class(n)
            {
                out.insert(Self::PersistentVolumeClaims);
            } else if !Self::Pods.matching(std::iter::once(n)).is_empty() {
                out.insert(Self::Pods);
            }
        }
        out.into_iter().collect()
    }

    /// The group and resource measured.
    pub fn group_resource(&self) -> (&str, &str) {
        match self {
            Self::Pods => ("", "pods"),
            Self::Services => ("", "services"),
            Self::PersistentVolumeClaims => ("", "persistentvolumeclaims"),
            Self::ObjectCount { group, resource } => (group, resource),
        }
    }

    /// `count/<resource>` for core resources, `count/<resource>.<group>` for others.
    pub fn count_name(&self) -> String {
        match self.group_resource() {
            ("", r) => format!("count/{r}"),
            (g, r) => format!("count/{r}.{g}"),
        }
    }

    /// Which of `names` this evaluator measures (upstream's `MatchingResources`).
    pub fn matching<'a>(&self, names: impl IntoIterator<Item = &'a String>) -> Vec<String> {
        let count = self.count_name();
        names
            .into_iter()
            .filter(|n| match self {
                Self::Pods => {
                    POD_RESOURCES.contains(&n.as_str())
                        || n.starts_with("hugepages-")
                        || n.starts_with("requests.hugepages-")
                        || n.strip_prefix("requests.")
                            .is_some_and(|r| !is_native(&format!("requests.{r}")))
                }
                Self::Services => SERVICE_RESOURCES.contains(&n.as_str()),
                Self::PersistentVolumeClaims => {
                    **n == count
                        || n.as_str() == "persistentvolumeclaims"
                        || n.as_str() == "requests.storage"
                        || is_per_storage_class(n)
                }
                Self::ObjectCount { group, resource } => {
                    **n == count
                        || (group.is_empty()
                            && LEGACY_COUNTS.contains(&resource.as_str())
                            && *n == resource)
                }
            })
            .cloned()
            .collect()
    }

    /// Whether `obj` satisfies one scope requirement; only pods fall in scopes.
    pub fn matches_scope(&self, req: &ScopeRequirement, obj: &Value) -> bool {
        match self {
            Self::Pods => pod_matches(req, obj),
            _ => false,
        }
    }

    /// Whether a quota with hard limits `hard` and scopes `scopes` counts `obj` (upstream's
    /// `generic.Matches`).
    pub fn quota_counts(
        &self,
        hard: &ResourceList,
        scopes: &[ScopeRequirement],
        obj: &Value,
    ) -> bool {
        !self.matching(hard.keys()).is_empty() && scopes.iter().all(|s| self.matches_scope(s, obj))
    }

    /// What `obj` costs (upstream's `Usage`); `now` decides whether a deleted pod's grace
    /// period is over.
    pub fn usage(&self, obj: &Value, now: jiff::Timestamp) -> ResourceList {
        let one = Quantity::from_units(1);
        match self {
            Self::Pods => pod_usage(obj, now),
            Self::Services => service_usage(obj),
            Self::PersistentVolumeClaims => claim_usage(obj),
            Self::ObjectCount { group, resource } => {
                let mut out = single(&self.count_name(), one);
                if group.is_empty() && LEGACY_COUNTS.contains(&resource.as_str()) {
                    out.insert(resource.clone(), one);
                }
                out
            }
        }
    }

    /// Refuse a pod whose containers leave out a compute value a quota on `required` needs:
    /// `must specify limits.cpu for: a,b; requests.memory for: a`.
    pub fn constraints(&self, required: &[String], obj: &Value) -> Result<(), String> {
        if *self != Self::Pods {
            return Ok(());
        }
        let required: BTreeSet<&str> = required
            .iter()
            .map(String::as_str)
            .filter(|r| MUST_SPECIFY.contains(r))
            .collect();
        let mut missing: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        let spec = &obj["spec"];
        let containers = spec["containers"]
            .as_array()
            .into_iter()
            .chain(spec["initContainers"].as_array())
            .flatten();
        for c in containers {
            let res = &c["resources"];
            let stated = container_compute(
                &super::resource_list::from_json(&res["requests"]),
                &super::resource_list::from_json(&res["limits"]),
            );
            for r in &required {
                if !stated.contains_key(*r) {
                    missing
                        .entry(r)
                        .or_default()
                        .insert(c["name"].as_str().unwrap_or_default().to_string());
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let parts: Vec<String> = missing
            .iter()
            .map(|(r, names)| {
                format!(
                    "{r} for: {}",
                    names.iter().cloned().collect::<Vec<_>>().join(",")
                )
            })
            .collect();
        Err(format!("must specify {}", parts.join("; ")))
    }
}

/// A claim resource named per storage class.
fn is_per_storage_class(name: &str) -> bool {
    ["persistentvolumeclaims", "requests.storage"]
        .iter()
        .any(|r| name.ends_with(&format!("{STORAGE_CLASS_SUFFIX}{r}")))
}

/// Upstream's `IsNativeResource`: no domain, or a `kubernetes.io` one.
fn is_native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// Upstream's `IsExtendedResourceName` for a container resource.
fn is_extended(name: &str) -> bool {
    !is_native(name) && !name.starts_with("requests.")
}

/// The quota names a container's (or a pod's total) requests and limits stand for.
fn container_compute(requests: &ResourceList, limits: &ResourceList) -> ResourceList {
    let mut out = single("pods", Quantity::from_units(1));
    for (plain, req_name) in [
        ("cpu", "requests.cpu"),
        ("memory", "requests.memory"),
        ("ephemeral-storage", "requests.ephemeral-storage"),
    ] {
        if let Some(q) = requests.get(plain) {
            out.insert(plain.to_string(), *q);
            out.insert(req_name.to_string(), *q);
        }
        if let Some(q) = limits.get(plain) {
            out.insert(format!("limits.{plain}"), *q);
        }
    }
    for (name, q) in requests {
        if name.starts_with("hugepages-") {
            out.insert(name.clone(), *q);
            out.insert(format!("requests.{name}"), *q);
        }
        if is_extended(name) {
            out.insert(format!("requests.{name}"), *q);
        }
    }
    out
}

/// A pod costs `count/pods` always, and its compute resources and `pods` only while it is
/// neither finished nor past its deletion grace period.
fn pod_usage(pod: &Value, now: jiff::Timestamp) -> ResourceList {
    let counted = single("count/pods", Quantity::from_units(1));
    if !is_charged(pod, now) {
        return counted;
    }
    let compute = container_compute(
        &pod_total(pod, Side::Requests),
        &pod_total(pod, Side::Limits),
    );
    add(&counted, &compute)
}

/// Upstream's `QuotaV1Pod`.
pub fn is_charged(pod: &Value, now: jiff::Timestamp) -> bool {
    let phase = pod["status"]["phase"].as_str().unwrap_or_default();
    if phase == "Succeeded" || phase == "Failed" {
        return false;
    }
    let meta = &pod["metadata"];
    if let (Some(deleted), Some(grace)) = (
        meta["deletionTimestamp"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok()),
        meta["deletionGracePeriodSeconds"].as_i64(),
    ) && now > deleted + jiff::SignedDuration::from_secs(grace)
    {
        return false;
    }
    true
}

fn service_usage(svc: &Value) -> ResourceList {
    let spec = &svc["spec"];
    let ports = spec["ports"].as_array().map_or(0, Vec::len) as i64;
    let mut out = ResourceList::new();
    out.insert("count/services".into(), Quantity::from_units(1));
    out.insert("services".into(), Quantity::from_units(1));
    let (mut node_ports, mut balancers) = (0, 0);
    match spec["type"].as_str().unwrap_or("ClusterIP") {
        "NodePort" => node_ports = ports,
        "LoadBalancer" => {
            balancers = 1;
            node_ports = if spec["allocateLoadBalancerNodePorts"] == false {
                spec["ports"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["nodePort"].as_i64().is_some_and(|n| n != 0))
                    .count() as i64
            } else {
                ports
            };
        }
        _ => {}
    }
    out.insert(
        "services.nodeports".into(),
        Quantity::from_units(node_ports),
    );
    out.insert(
        "services.loadbalancers".into(),
        Quantity::from_units(balancers),
    );
    out
}

/// A claim's storage class: the beta annotation wins over `spec.storageClassName`.
fn claim_class(pvc: &Value) -> Option<&str> {
    pvc["metadata"]["annotations"]["volume.beta.kubernetes.io/storage-class"]
        .as_str()
        .or_else(|| pvc["spec"]["storageClassName"].as_str())
        .filter(|c| !c.is_empty())
}

fn claim_usage(pvc: &Value) -> ResourceList {
    let one = Quantity::from_units(1);
    let mut out = ResourceList::new();
    out.insert("count/persistentvolumeclaims".into(), one);
    out.insert("persistentvolumeclaims".into(), one);
    let class = claim_class(pvc);
    if let Some(c) = class {
        out.insert(
            format!("{c}{STORAGE_CLASS_SUFFIX}persistentvolumeclaims"),
            one,
        );
    }
    let requests = super::resource_list::from_json(&pvc["spec"]["resources"]["requests"]);
    if let Some(storage) = requests.get("storage") {
        out.insert("requests.storage".into(), *storage);
        if let Some(c) = class {
            out.insert(
                format!("{c}{STORAGE_CLASS_SUFFIX}requests.storage"),
                *storage,
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::resource_list::{from_json, to_json};
    use serde_json::json;

    fn now() -> jiff::Timestamp {
        jiff::Timestamp::now()
    }

    #[test]
    fn pods_without_limits_are_told_what_to_specify() {
        let pod = json!({"spec": {"containers": [
            {"name": "web", "resources": {"requests": {"cpu": "100m"}}},
            {"name": "log"}]}});
        let required: Vec<String> = ["requests.cpu", "limits.memory", "pods"]
            .map(String::from)
            .into();
        assert_eq!(
            Evaluator::Pods.constraints(&required, &pod),
            Err("must specify limits.memory for: log,web; requests.cpu for: log".into())
        );
    }

    #[test]
    fn finished_pods_only_count_as_objects() {
        let mut pod = json!({"spec": {"containers": [
            {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": "500m"}}}]}});
        assert_eq!(
            to_json(&Evaluator::Pods.usage(&pod, now())),
            json!({"count/pods": "1", "pods": "1", "cpu": "250m", "requests.cpu": "250m",
                   "limits.cpu": "500m", "memory": "64Mi", "requests.memory": "64Mi"})
        );
        pod["status"] = json!({"phase": "Succeeded"});
        assert_eq!(
            to_json(&Evaluator::Pods.usage(&pod, now())),
            json!({"count/pods": "1"})
        );
    }

    #[test]
    fn evaluators_follow_the_names_a_quota_limits() {
        let hard = from_json(
            &json!({"pods": "2", "configmaps": "3", "count/deployments.apps": "1",
            "gold.storageclass.storage.k8s.io/requests.storage": "1Gi", "services.nodeports": "0"}),
        );
        assert_eq!(
            Evaluator::for_names(hard.keys()),
            vec![
                Evaluator::Pods,
                Evaluator::Services,
                Evaluator::PersistentVolumeClaims,
                Evaluator::of("", "configmaps"),
                Evaluator::of("apps", "deployments"),
            ]
        );
        let svc = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 443}]}});
        assert_eq!(
            Evaluator::Services.usage(&svc, now())["services.nodeports"],
            Quantity::from_units(2)
        );
        let pvc = json!({"spec": {"storageClassName": "gold", "resources": {"requests": {"storage": "5Gi"}}}});
        assert_eq!(
            to_json(&Evaluator::PersistentVolumeClaims.usage(&pvc, now()))["gold.storageclass.storage.k8s.io/requests.storage"],
            "5Gi"
        );
    }
}
