//! Which PersistentVolume a claim may bind to, as upstream's binder decides: the volume's access
//! modes include the claim's, its capacity covers the request (the smallest that does wins), its
//! class, volume mode and labels (the claim's selector) match, it is Available, and, once a node
//! is chosen, its node affinity admits that node. A volume pre-bound to the claim
//! (`spec.claimRef`) wins outright.

use crate::ownership::selector_matches;
use k8s_openapi::api::core::v1::{
    Node, NodeSelectorRequirement, NodeSelectorTerm, PersistentVolume, PersistentVolumeClaim,
};
use rkube_machinery::quantity::Quantity;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The class a claim asks for (the old beta annotation wins over the field, as upstream).
pub fn claim_class(claim: &PersistentVolumeClaim) -> String {
    claim
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("volume.beta.kubernetes.io/storage-class"))
        .cloned()
        .or_else(|| claim.spec.as_ref()?.storage_class_name.clone())
        .unwrap_or_default()
}

/// The class of a volume.
pub fn volume_class(volume: &PersistentVolume) -> String {
    volume
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("volume.beta.kubernetes.io/storage-class"))
        .cloned()
        .or_else(|| volume.spec.as_ref()?.storage_class_name.clone())
        .unwrap_or_default()
}

/// The storage a claim requests.
pub fn requested(claim: &PersistentVolumeClaim) -> Quantity {
    claim
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref()?.requests.as_ref()?.get("storage"))
        .and_then(|q| Quantity::parse(&q.0).ok())
        .unwrap_or(Quantity::ZERO)
}

/// The storage a volume offers.
pub fn capacity(volume: &PersistentVolume) -> Quantity {
    volume
        .spec
        .as_ref()
        .and_then(|s| s.capacity.as_ref()?.get("storage"))
        .and_then(|q| Quantity::parse(&q.0).ok())
        .unwrap_or(Quantity::ZERO)
}

fn modes(m: Option<&Vec<String>>) -> &[String] {
    m.map(Vec::as_slice).unwrap_or_default()
}

/// Every access mode of the claim is one of the volume's.
pub fn access_modes_fit(claim: &PersistentVolumeClaim, volume: &PersistentVolume) -> bool {
    let have = modes(volume.spec.as_ref().and_then(|s| s.access_modes.as_ref()));
    modes(claim.spec.as_ref().and_then(|s| s.access_modes.as_ref()))
        .iter()
        .all(|m| have.contains(m))
}

/// Claim and volume agree on the volume mode (unset means `Filesystem`).
pub fn volume_modes_match(claim: &PersistentVolumeClaim, volume: &PersistentVolume) -> bool {
    let c = claim.spec.as_ref().and_then(|s| s.volume_mode.as_deref());
    let v = volume.spec.as_ref().and_then(|s| s.volume_mode.as_deref());
    c.unwrap_or("Filesystem") == v.unwrap_or("Filesystem")
}

/// The volume's `claimRef` names this claim (and, when it carries a uid, this very object).
pub fn is_bound_to(volume: &PersistentVolume, claim: &PersistentVolumeClaim) -> bool {
    let Some(r) = volume.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else {
        return false;
    };
    r.name == claim.metadata.name
        && r.namespace == claim.metadata.namespace
        && r.uid
            .as_deref()
            .is_none_or(|u| u.is_empty() || Some(u) == claim.metadata.uid.as_deref())
}

/// Why a volume the claim names in `spec.volumeName` cannot serve it (upstream's words).
pub fn mismatch(claim: &PersistentVolumeClaim, volume: &PersistentVolume) -> Option<&'static str> {
    if capacity(volume) < requested(claim) {
        return Some("requested PV is too small");
    }
    if volume_class(volume) != claim_class(claim) {
        return Some("storageClassName does not match");
    }
    if !volume_modes_match(claim, volume) {
        return Some("incompatible volumeMode");
    }
    if !access_modes_fit(claim, volume) {
        return Some("incompatible accessMode");
    }
    None
}

fn requirement_matches(r: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = r.values.as_deref().unwrap_or_default();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => match (
            value.and_then(|v| v.parse::<i64>().ok()),
            values.first().and_then(|b| b.parse::<i64>().ok()),
        ) {
            (Some(v), Some(b)) => (r.operator == "Gt" && v > b) || (r.operator == "Lt" && v < b),
            _ => false,
        },
        _ => false,
    }
}

fn term_matches(term: &NodeSelectorTerm, name: &str, labels: &BTreeMap<String, String>) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    (!exprs.is_empty() || !fields.is_empty())
        && exprs
            .iter()
            .all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
        && fields
            .iter()
            .all(|r| r.key == "metadata.name" && requirement_matches(r, Some(name)))
}

/// Whether the volume's required node affinity (if any) admits `node`.
pub fn node_admits(volume: &PersistentVolume, node: &Node) -> bool {
    let Some(required) = volume
        .spec
        .as_ref()
        .and_then(|s| s.node_affinity.as_ref()?.required.as_ref())
    else {
        return true;
    };
    let name = node.metadata.name.as_deref().unwrap_or_default();
    let empty = BTreeMap::new();
    let labels = node.metadata.labels.as_ref().unwrap_or(&empty);
    required
        .node_selector_terms
        .iter()
        .any(|t| term_matches(t, name, labels))
}

/// The best volume for `claim` among `volumes`: one pre-bound to it, else the smallest Available
/// volume that fits. `delay_binding` (a WaitForFirstConsumer class, no node chosen yet) leaves
/// unbound volumes to the scheduler's choice; `node` (the chosen node) must be admitted by the
/// volume's node affinity.
pub fn best_volume(
    claim: &PersistentVolumeClaim,
    volumes: &[Arc<PersistentVolume>],
    delay_binding: bool,
    node: Option<&Node>,
) -> Option<Arc<PersistentVolume>> {
    let request = requested(claim);
    let class = claim_class(claim);
    let selector = claim.spec.as_ref().and_then(|s| s.selector.as_ref());
    let mut best: Option<(Quantity, &Arc<PersistentVolume>)> = None;
    for v in volumes {
        let claimed = v.spec.as_ref().and_then(|s| s.claim_ref.as_ref()).is_some();
        if (claimed && !is_bound_to(v, claim))
            || capacity(v) < request
            || !volume_modes_match(claim, v)
            || !access_modes_fit(claim, v)
            || v.metadata.deletion_timestamp.is_some()
        {
            continue;
        }
        let node_ok = node.is_none_or(|n| node_admits(v, n));
        if claimed {
            return node_ok.then(|| v.clone());
        }
        if delay_binding && node.is_none() {
            continue;
        }
        let available = v.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Available");
        let empty = BTreeMap::new();
        let labels_ok = selector
            .is_none_or(|s| selector_matches(s, v.metadata.labels.as_ref().unwrap_or(&empty)));
        if !available || !labels_ok || volume_class(v) != class || !node_ok {
            continue;
        }
        let size = capacity(v);
        if best.as_ref().is_none_or(|(q, _)| size < *q) {
            best = Some((size, v));
        }
    }
    best.map(|(_, v)| v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn claim(spec: Value) -> PersistentVolumeClaim {
        serde_json::from_value(
            json!({"metadata": {"name": "data", "namespace": "default", "uid": "u1"},
            "spec": spec}),
        )
        .unwrap()
    }

    fn volume(name: &str, size: &str, extra: Value) -> Arc<PersistentVolume> {
        let mut v = json!({"metadata": {"name": name},
            "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"], "storageClassName": ""},
            "status": {"phase": "Available"}});
        merge(&mut v, extra);
        Arc::new(serde_json::from_value(v).unwrap())
    }

    fn merge(a: &mut Value, b: Value) {
        match (a, b) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in b {
                    merge(a.entry(k).or_insert(Value::Null), v);
                }
            }
            (a, b) => *a = b,
        }
    }

    fn rwo(size: &str) -> PersistentVolumeClaim {
        claim(
            json!({"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}},
            "storageClassName": ""}),
        )
    }

    fn name(v: Option<Arc<PersistentVolume>>) -> Option<String> {
        v.and_then(|v| v.metadata.name.clone())
    }

    #[test]
    fn the_smallest_volume_that_fits_wins() {
        let vols = [
            volume("big", "10Gi", json!({})),
            volume("small", "1Gi", json!({})),
            volume("fits", "2Gi", json!({})),
            volume(
                "exact-but-bound",
                "2Gi",
                json!({"status": {"phase": "Bound"}}),
            ),
        ];
        assert_eq!(
            name(best_volume(&rwo("2Gi"), &vols, false, None)).as_deref(),
            Some("fits")
        );
        assert_eq!(name(best_volume(&rwo("20Gi"), &vols, false, None)), None);
    }

    #[test]
    fn class_modes_selector_and_volume_mode_must_match() {
        let vols = [
            volume("fast", "1Gi", json!({"spec": {"storageClassName": "fast"}})),
            volume(
                "rox",
                "1Gi",
                json!({"spec": {"accessModes": ["ReadOnlyMany"]}}),
            ),
            volume("block", "1Gi", json!({"spec": {"volumeMode": "Block"}})),
            volume(
                "labelled",
                "5Gi",
                json!({"metadata": {"labels": {"tier": "gold"}}}),
            ),
        ];
        assert_eq!(
            name(best_volume(&rwo("1Gi"), &vols, false, None)).as_deref(),
            Some("labelled")
        );
        let mut gold = rwo("1Gi");
        gold.spec.as_mut().unwrap().selector =
            serde_json::from_value(json!({"matchLabels": {"tier": "silver"}})).unwrap();
        assert_eq!(name(best_volume(&gold, &vols, false, None)), None);
        let mut fast = rwo("1Gi");
        fast.spec.as_mut().unwrap().storage_class_name = Some("fast".into());
        assert_eq!(
            name(best_volume(&fast, &vols, false, None)).as_deref(),
            Some("fast")
        );
    }

    #[test]
    fn a_pre_bound_volume_wins_and_delayed_binding_waits_for_a_node() {
        let vols = [
            volume("other", "1Gi", json!({})),
            volume(
                "mine",
                "8Gi",
                json!({"spec": {"claimRef": {"name": "data", "namespace": "default"}},
                "status": {"phase": "Available"}}),
            ),
            volume(
                "theirs",
                "1Gi",
                json!({"spec": {"claimRef": {"name": "x", "namespace": "default"}}}),
            ),
        ];
        assert_eq!(
            name(best_volume(&rwo("1Gi"), &vols, true, None)).as_deref(),
            Some("mine")
        );
        assert_eq!(name(best_volume(&rwo("1Gi"), &vols[..1], true, None)), None);
        let node: Node = serde_json::from_value(
            json!({"metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}}}),
        )
        .unwrap();
        let pinned = volume(
            "pinned",
            "1Gi",
            json!({"spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n2"]}]}]}}}}),
        );
        assert!(!node_admits(&pinned, &node));
        assert_eq!(
            name(best_volume(
                &rwo("1Gi"),
                &[pinned, vols[0].clone()],
                true,
                Some(&node)
            ))
            .as_deref(),
            Some("other")
        );
    }

    #[test]
    fn a_named_volume_is_checked_in_upstreams_words() {
        let v = volume("v", "1Gi", json!({}));
        assert_eq!(mismatch(&rwo("1Gi"), &v), None);
        assert_eq!(mismatch(&rwo("2Gi"), &v), Some("requested PV is too small"));
        let mut c = rwo("1Gi");
        c.spec.as_mut().unwrap().storage_class_name = Some("fast".into());
        assert_eq!(mismatch(&c, &v), Some("storageClassName does not match"));
    }
}
