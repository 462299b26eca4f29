//! Node (v1): the rules of `nodes`: allocatable defaults to capacity, taints are valid and
//! unique per key and effect, pod CIDRs are CIDRs that may not change once set, and
//! `spec.unschedulable` is a field selector (`kubectl drain` uses it).

use super::pod::TAINT_EFFECTS;
use crate::strategy::TypedStrategy;
use k8s_openapi::api::core::v1::{Node, NodeSpec, Taint};
use rkube_machinery::validation as v;
use rkube_machinery::{ErrorList, FieldError, FieldPath};
use std::collections::BTreeSet;

/// The rules of Node objects.
pub struct NodeStrategy;

impl TypedStrategy for NodeStrategy {
    type Object = Node;
    const FIELDS: &'static [&'static str] = &["spec.unschedulable"];

    fn default(&self, node: &mut Node) {
        if let Some(status) = node.status.as_mut()
            && status.allocatable.is_none()
        {
            status.allocatable.clone_from(&status.capacity);
        }
    }

    fn validate(&self, node: &Node) -> ErrorList {
        let spec = node.spec.clone().unwrap_or_default();
        let mut errs = validate_taints(
            spec.taints.as_deref().unwrap_or(&[]),
            &FieldPath::new("metadata").child("taints"),
        );
        for (i, cidr) in spec.pod_cidrs.iter().flatten().enumerate() {
            errs.extend(v::validate_cidr(
                cidr,
                &FieldPath::new("spec").child("podCIDRs").index(i),
            ));
        }
        errs
    }

    fn validate_update(&self, new: &Node, old: &Node) -> ErrorList {
        let mut errs = self.validate(new);
        let empty = NodeSpec::default();
        let (n, o) = (
            new.spec.as_ref().unwrap_or(&empty),
            old.spec.as_ref().unwrap_or(&empty),
        );
        let old_cidrs = o.pod_cidrs.clone().unwrap_or_default();
        if !old_cidrs.is_empty() && n.pod_cidrs.clone().unwrap_or_default() != old_cidrs {
            errs.push(FieldError::forbidden(
                FieldPath::new("spec").child("podCIDRs"),
                "node updates may not change podCIDR except from \"\" to valid",
            ));
        }
        let old_provider = o.provider_id.as_deref().unwrap_or("");
        if !old_provider.is_empty() && n.provider_id.as_deref().unwrap_or("") != old_provider {
            errs.push(FieldError::forbidden(
                FieldPath::new("spec").child("providerID"),
                "node updates may not change providerID except from \"\" to valid",
            ));
        }
        if n.external_id != o.external_id {
            errs.push(FieldError::forbidden(
                FieldPath::new("spec").child("externalID"),
                "may not be updated",
            ));
        }
        errs
    }

    fn field_values(&self, node: &Node) -> Vec<(&'static str, String)> {
        let unschedulable = node
            .spec
            .as_ref()
            .and_then(|s| s.unschedulable)
            .unwrap_or(false);
        vec![("spec.unschedulable", unschedulable.to_string())]
    }
}

/// Upstream's `validateNodeTaints` (reported under `metadata.taints`, as upstream does).
fn validate_taints(taints: &[Taint], path: &FieldPath) -> ErrorList {
    let mut errs = ErrorList::new();
    let mut seen = BTreeSet::new();
    for (i, t) in taints.iter().enumerate() {
        let p = path.index(i);
        errs.extend(v::validate_qualified_name(&t.key, &p.child("key")));
        let value = t.value.as_deref().unwrap_or("");
        let msgs = v::is_valid_label_value(value);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(p.child("value"), value, msgs.join(";")));
        }
        if t.effect.is_empty() {
            errs.push(FieldError::required(p.child("effect"), ""));
        } else if !TAINT_EFFECTS.contains(&t.effect.as_str()) {
            errs.push(FieldError::not_supported(
                p.child("effect"),
                t.effect.as_str(),
                &TAINT_EFFECTS,
            ));
        }
        if !seen.insert((t.effect.clone(), t.key.clone())) {
            let mut e = FieldError::duplicate(
                p,
                rkube_machinery::Value::Raw(format!(
                    "core.Taint{{Key:{:?}, Value:{:?}, Effect:{:?}, TimeAdded:<nil>}}",
                    t.key, value, t.effect
                )),
            );
            e.detail = "taints must be unique by key and effect pair".into();
            errs.push(e);
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use crate::resources::core::testing::create_error;
    use serde_json::json;

    #[test]
    fn taints() {
        let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
            "spec": {"taints": [{"key": "k", "effect": "Sometimes"}]}});
        assert_eq!(
            create_error("nodes", node),
            "metadata.taints[0].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\""
        );
    }
}
