//! What a Service update allocates or gives back, as upstream's Service REST does when the type
//! changes: a Service that becomes NodePort or LoadBalancer gets node ports for the ports that
//! have none; one that goes back to ClusterIP drops the node ports the client left unchanged; an
//! ExternalName Service that gets another type gets a cluster IP, and one that becomes
//! ExternalName gives its cluster IP back (other Services' addresses are what the cache holds).

use super::{free_node_port, invalid, set_cluster_ip, used};
use crate::handler::{Api, ApiRequest};
use crate::object;
use rkube_machinery::{ApiError, FieldPath};
use serde_json::Value;
use std::collections::HashSet;

fn needs_node_ports(svc: &Value) -> bool {
    matches!(
        svc["spec"]["type"].as_str(),
        Some("NodePort") | Some("LoadBalancer")
    )
}

fn node_ports(svc: &Value) -> Vec<Option<u64>> {
    svc["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| p["nodePort"].as_u64().filter(|n| *n > 0))
        .collect()
}

fn is_type(svc: &Value, t: &str) -> bool {
    svc["spec"]["type"].as_str().unwrap_or("ClusterIP") == t
}

/// Reachable from outside the cluster (the types and settings `externalTrafficPolicy` is for).
fn externally_accessible(svc: &Value) -> bool {
    needs_node_ports(svc)
        || (is_type(svc, "ClusterIP")
            && svc["spec"]["externalIPs"]
                .as_array()
                .is_some_and(|a| !a.is_empty()))
}

/// Remove `spec.<field>` from `new` when the client left it as it was in `old`.
fn drop_unchanged(new: &mut Value, old: &Value, fields: &[&str]) {
    for f in fields {
        if new["spec"].get(*f) == old["spec"].get(*f)
            && let Some(spec) = new["spec"].as_object_mut()
        {
            spec.remove(*f);
        }
    }
}

/// What a type change leaves behind that no longer applies, unless the client changed it too.
fn drop_type_dependent_fields(new: &mut Value, old: &Value) {
    if needs_node_ports(old) && !needs_node_ports(new) {
        if node_ports(new) == node_ports(old) {
            for p in new["spec"]["ports"].as_array_mut().into_iter().flatten() {
                if let Some(m) = p.as_object_mut() {
                    m.remove("nodePort");
                }
            }
        }
        drop_unchanged(new, old, &["healthCheckNodePort"]);
    }
    if is_type(old, "LoadBalancer") && !is_type(new, "LoadBalancer") {
        drop_unchanged(
            new,
            old,
            &["allocateLoadBalancerNodePorts", "loadBalancerClass"],
        );
        if let Some(status) = new.get_mut("status").and_then(Value::as_object_mut) {
            status.insert("loadBalancer".into(), serde_json::json!({}));
        }
    }
    if externally_accessible(old) && !externally_accessible(new) {
        drop_unchanged(new, old, &["externalTrafficPolicy"]);
    }
    if !is_type(old, "ExternalName") && is_type(new, "ExternalName") {
        drop_unchanged(
            new,
            old,
            &["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"],
        );
    }
}

/// Adjust the node ports of `new`, an update of Service `old`. Call with the allocator's lock
/// held and the watch cache in sync.
pub fn allocate_on_update(
    api: &Api,
    req: &ApiRequest,
    new: &mut Value,
    old: &Value,
) -> Result<(), ApiError> {
    drop_type_dependent_fields(new, old);
    let (used_ips, used_ports) = used(api);
    if is_type(old, "ExternalName") && !is_type(new, "ExternalName") {
        set_cluster_ip(&api.services, req, new, &used_ips)?;
    }
    if !needs_node_ports(new) {
        return Ok(());
    }
    let own: HashSet<u16> = node_ports(old)
        .into_iter()
        .flatten()
        .map(|n| n as u16)
        .collect();
    // Ports of other Services are taken; this Service's own may be kept.
    let mut taken: HashSet<u16> = used_ports.difference(&own).copied().collect();
    let name = object::name(new).to_string();
    let path = FieldPath::new("spec").child("ports");
    let ports = new["spec"]["ports"].as_array_mut();
    for (i, p) in ports.into_iter().flatten().enumerate() {
        match p["nodePort"].as_u64().filter(|n| *n > 0) {
            Some(np) => {
                let np = np as u16;
                if taken.contains(&np) {
                    return Err(invalid(
                        req,
                        &name,
                        path.index(i).child("nodePort"),
                        i64::from(np),
                        "provided port is already allocated",
                    ));
                }
                taken.insert(np);
            }
            None => {
                let np = free_node_port(&taken).ok_or_else(|| {
                    ApiError::internal("failed to allocate a nodePort: range is full")
                })?;
                taken.insert(np);
                p["nodePort"] = Value::from(np);
            }
        }
    }
    Ok(())
}
