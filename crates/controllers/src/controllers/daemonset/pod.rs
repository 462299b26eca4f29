//! Daemon pods: how one is built for a node (template labels plus `controller-revision-hash`
//! and `pod-template-generation`, the daemon tolerations, and a required node-affinity term on
//! `metadata.name` so the scheduler places it there), which node a pod is for, and the order
//! upstream keeps a node's pods in.

use super::eligibility::default_tolerations;
use crate::controllers::revisions::REVISION_LABEL;
use crate::ownership::controller_ref;
use crate::pods;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{
    Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
};
use kube::ResourceExt;
use std::cmp::Ordering;

/// The label with the DaemonSet's template generation (older than the hash; still set).
pub const TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";
/// The annotation the API server keeps the DaemonSet's template generation in.
pub const TEMPLATE_GENERATION_ANNOTATION: &str = "deprecated.daemonset.template.generation";

/// The DaemonSet's template generation, if the API server recorded one.
pub fn template_generation(ds: &DaemonSet) -> Option<String> {
    ds.annotations()
        .get(TEMPLATE_GENERATION_ANNOTATION)
        .cloned()
}

/// Whether `pod` runs the DaemonSet's current template: its hash or its template generation
/// matches (upstream's `IsPodUpdated`).
pub fn is_updated(pod: &Pod, hash: &str, generation: Option<&str>) -> bool {
    let labels = pod.labels();
    labels.get(REVISION_LABEL).map(String::as_str) == Some(hash)
        || generation
            .is_some_and(|g| labels.get(TEMPLATE_GENERATION_LABEL).map(String::as_str) == Some(g))
}

/// Require the node named `node`, replacing only the required node-selector terms: preferred
/// terms are kept, as upstream's `ReplaceDaemonSetPodNodeNameNodeAffinity` does.
pub fn pin_to_node(affinity: &mut Option<Affinity>, node: &str) {
    let selector = NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_fields: Some(vec![NodeSelectorRequirement {
                key: "metadata.name".into(),
                operator: "In".into(),
                values: Some(vec![node.to_string()]),
            }]),
            match_expressions: None,
        }],
    };
    let node_affinity = affinity
        .get_or_insert_with(Default::default)
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    node_affinity.required_during_scheduling_ignored_during_execution = Some(selector);
}

/// The daemon pod for `node` at revision `hash`.
pub fn new_pod(ds: &DaemonSet, node: &str, hash: &str) -> Pod {
    let spec = ds.spec.clone().unwrap_or_default();
    let mut pod = pods::from_template(&spec.template, controller_ref(ds), &ds.name_any());
    let labels = pod.metadata.labels.get_or_insert_with(Default::default);
    labels.insert(REVISION_LABEL.into(), hash.to_string());
    if let Some(g) = template_generation(ds) {
        labels.insert(TEMPLATE_GENERATION_LABEL.into(), g);
    }
    if let Some(ps) = pod.spec.as_mut() {
        let host_network = ps.host_network.unwrap_or(false);
        let tols = ps.tolerations.get_or_insert_with(Vec::new);
        for t in default_tolerations(host_network) {
            match tols
                .iter_mut()
                .find(|x| x.key == t.key && x.effect == t.effect)
            {
                Some(existing) => *existing = t,
                None => tols.push(t),
            }
        }
        pin_to_node(&mut ps.affinity, node);
    }
    pod
}

/// The node a daemon pod is for: where it runs, or the node its affinity pins it to.
pub fn node_of(p: &Pod) -> Option<String> {
    let spec = p.spec.as_ref()?;
    if let Some(n) = &spec.node_name {
        return Some(n.clone());
    }
    spec.affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms
        .iter()
        .flat_map(|t| t.match_fields.iter().flatten())
        .find(|r| r.key == "metadata.name" && r.operator == "In")
        .and_then(|r| r.values.as_ref()?.first().cloned())
}

/// Upstream's order of a node's daemon pods: scheduled first, then oldest, then by name.
pub fn oldest_first(a: &Pod, b: &Pod) -> Ordering {
    let scheduled = |p: &Pod| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some();
    scheduled(b)
        .cmp(&scheduled(a))
        .then_with(|| {
            let t = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
            t(a).cmp(&t(b))
        })
        .then_with(|| a.name_any().cmp(&b.name_any()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pinning_keeps_preferred_terms_and_replaces_required_ones() {
        let mut affinity: Option<Affinity> = Some(
            serde_json::from_value(json!({"nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]},
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 1, "preference": {"matchExpressions": [{"key": "ssd", "operator": "Exists"}]}}]
            }, "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"a": "b"}}}]}}))
            .unwrap(),
        );
        pin_to_node(&mut affinity, "n1");
        let v = serde_json::to_value(&affinity).unwrap();
        assert_eq!(
            v["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"],
            json!({"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]})
        );
        assert_eq!(
            v["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["weight"],
            1
        );
        assert!(v["podAntiAffinity"].is_object());
    }

    #[test]
    fn a_pod_is_updated_by_hash_or_template_generation() {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"labels": {
            "controller-revision-hash": "old", "pod-template-generation": "2"}}}))
        .unwrap();
        assert!(is_updated(&pod, "new", Some("2")));
        assert!(is_updated(&pod, "old", Some("3")));
        assert!(!is_updated(&pod, "new", Some("3")));
    }
}
