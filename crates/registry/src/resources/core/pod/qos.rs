//! A pod's quality-of-service class (upstream's `qos.ComputePodQOS`), set in its status on
//! create: `Guaranteed` when every container limits cpu and memory and requests equal limits,
//! `BestEffort` when nothing requests or limits cpu or memory, else `Burstable`.

use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use rkube_machinery::quantity::Quantity;
use std::collections::BTreeMap;

const QOS_RESOURCES: [&str; 2] = ["cpu", "memory"];

/// The QoS class of a pod spec.
pub fn compute(spec: &PodSpec) -> &'static str {
    let mut requests: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut limits: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut guaranteed = true;
    let init = spec.init_containers.as_deref().unwrap_or(&[]);
    for c in spec.containers.iter().chain(init) {
        add_positive(&mut requests, list(c, false));
        let found = add_positive(&mut limits, list(c, true));
        if found < QOS_RESOURCES.len() {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed
        && requests.iter().all(|(k, r)| limits.get(k) == Some(r))
        && requests.len() == limits.len()
    {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn list(c: &Container, limits: bool) -> Option<&BTreeMap<String, ApiQuantity>> {
    let r = c.resources.as_ref()?;
    if limits {
        r.limits.as_ref()
    } else {
        r.requests.as_ref()
    }
}

/// Add the positive cpu and memory quantities of `from` to `into`; returns how many were found.
fn add_positive(
    into: &mut BTreeMap<&'static str, Quantity>,
    from: Option<&BTreeMap<String, ApiQuantity>>,
) -> usize {
    let mut found = 0;
    for name in QOS_RESOURCES {
        let Some(q) = from
            .and_then(|m| m.get(name))
            .and_then(|q| Quantity::parse(&q.0).ok())
        else {
            continue;
        };
        if q > Quantity::ZERO {
            found += 1;
            let total = into.get(name).map_or(q, |t| t.add(&q));
            into.insert(name, total);
        }
    }
    found
}
