//! A pod's total requests and limits, as upstream's `PodRequests`/`PodLimits` add them up:
//! the app containers and sidecars (init containers that keep running) together, or the
//! largest single init container with the sidecars started before it, whichever is more,
//! plus the pod's overhead.

use super::resource_list::{ResourceList, add, from_json};
use serde_json::Value;

/// Which side of the containers' resources to add up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Requests,
    Limits,
}

impl Side {
    fn field(self) -> &'static str {
        match self {
            Side::Requests => "requests",
            Side::Limits => "limits",
        }
    }
}

/// The pod's total of `side` over its containers.
pub fn pod_total(pod: &Value, side: Side) -> ResourceList {
    let spec = &pod["spec"];
    let of = |c: &Value| from_json(&c["resources"][side.field()]);
    let mut total = ResourceList::new();
    for c in spec["containers"].as_array().into_iter().flatten() {
        total = add(&total, &of(c));
    }
    let mut sidecars = ResourceList::new();
    let mut largest_init = ResourceList::new();
    for c in spec["initContainers"].as_array().into_iter().flatten() {
        if c["restartPolicy"] == "Always" {
            sidecars = add(&sidecars, &of(c));
            total = add(&total, &of(c));
        } else {
            largest_init = max_each(&largest_init, &add(&of(c), &sidecars));
        }
    }
    total = max_each(&total, &largest_init);
    // Overhead adds to every request, but only to the limits that are set.
    for (k, q) in from_json(&spec["overhead"]) {
        match total.get(&k) {
            Some(have) => {
                let sum = have.plus(&q);
                total.insert(k, sum);
            }
            None if side == Side::Requests => {
                total.insert(k, q);
            }
            None => {}
        }
    }
    total
}

/// Name by name, the larger of the two.
fn max_each(a: &ResourceList, b: &ResourceList) -> ResourceList {
    let mut out = a.clone();
    for (k, q) in b {
        if out.get(k).is_none_or(|have| q > have) {
            out.insert(k.clone(), *q);
        }
    }
    out
}

/// Whether the pod is in the BestEffort QoS class: no container (init containers included)
/// asks for or limits cpu or memory with a value above zero.
pub fn is_best_effort(pod: &Value) -> bool {
    let spec = &pod["spec"];
    let containers = spec["containers"]
        .as_array()
        .into_iter()
        .chain(spec["initContainers"].as_array())
        .flatten();
    !containers.into_iter().any(|c| {
        ["requests", "limits"].iter().any(|side| {
            from_json(&c["resources"][side])
                .iter()
                .any(|(k, q)| (k == "cpu" || k == "memory") && q.nanos() > 0)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::resource_list::to_json;
    use serde_json::json;

    #[test]
    fn init_containers_count_when_larger_than_the_app_containers() {
        let pod = json!({"spec": {
            "initContainers": [
                {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}},
                {"name": "init", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}],
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "200m", "memory": "64Mi"}}},
                {"name": "b", "resources": {"requests": {"cpu": "300m"}}}]}});
        assert_eq!(
            to_json(&pod_total(&pod, Side::Requests)),
            json!({"cpu": "1100m", "memory": "1Gi"})
        );
        assert!(!is_best_effort(&pod));
        assert!(is_best_effort(
            &json!({"spec": {"containers": [{"name": "a"}]}})
        ));
    }
}
