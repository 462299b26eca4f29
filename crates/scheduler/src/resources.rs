//! Compute resources as the scheduler counts them: millicores, bytes, pod slots and extended
//! resources, plus a pod's effective request (containers, init-container rules, overhead).

use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::BTreeMap;

/// CPU the scoring plugins assume for a container without a CPU request (100m).
pub const DEFAULT_MILLI_CPU: i64 = 100;
/// Memory the scoring plugins assume for a container without a memory request (200Mi).
pub const DEFAULT_MEMORY: i64 = 200 * 1024 * 1024;

/// An amount of every resource the scheduler tracks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resource {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    pub pods: i64,
    pub scalar: BTreeMap<String, i64>,
}

fn quantity(q: &Quantity, milli: bool) -> i64 {
    match rkube_machinery::quantity::Quantity::parse(&q.0) {
        Ok(v) if milli => v.milli_value().clamp(0, i64::MAX as i128) as i64,
        Ok(v) => v.value().clamp(0, i64::MAX as i128) as i64,
        Err(_) => 0,
    }
}

/// Whether `name` is an extended resource the scheduler accounts for (`example.com/gpu`,
/// `hugepages-*`, `attachable-volumes-*`), as opposed to a built-in one.
fn is_scalar(name: &str) -> bool {
    name.contains('/') && !name.starts_with("kubernetes.io/")
        || name.starts_with("hugepages-")
        || name.starts_with("attachable-volumes-")
}

impl Resource {
    /// From a resource list (a node's allocatable, or a container's requests).
    pub fn from_list(list: Option<&BTreeMap<String, Quantity>>) -> Self {
        let mut r = Resource::default();
        for (name, q) in list.into_iter().flatten() {
            match name.as_str() {
                "cpu" => r.milli_cpu += quantity(q, true),
                "memory" => r.memory += quantity(q, false),
                "ephemeral-storage" => r.ephemeral_storage += quantity(q, false),
                "pods" => r.pods += quantity(q, false),
                n if is_scalar(n) => {
                    *r.scalar.entry(n.to_string()).or_default() += quantity(q, false)
                }
                _ => {}
            }
        }
        r
    }

    pub fn add(&mut self, o: &Resource) {
        self.milli_cpu += o.milli_cpu;
        self.memory += o.memory;
        self.ephemeral_storage += o.ephemeral_storage;
        self.pods += o.pods;
        for (k, v) in &o.scalar {
            *self.scalar.entry(k.clone()).or_default() += v;
        }
    }

    pub fn sub(&mut self, o: &Resource) {
        self.milli_cpu -= o.milli_cpu;
        self.memory -= o.memory;
        self.ephemeral_storage -= o.ephemeral_storage;
        self.pods -= o.pods;
        for (k, v) in &o.scalar {
            *self.scalar.entry(k.clone()).or_default() -= v;
        }
    }

    /// Each resource the larger of the two.
    pub fn max_with(&mut self, o: &Resource) {
        self.milli_cpu = self.milli_cpu.max(o.milli_cpu);
        self.memory = self.memory.max(o.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(o.ephemeral_storage);
        for (k, v) in &o.scalar {
            let e = self.scalar.entry(k.clone()).or_default();
            *e = (*e).max(*v);
        }
    }
}

fn requests(c: &Container) -> Resource {
    Resource::from_list(c.resources.as_ref().and_then(|r| r.requests.as_ref()))
}

/// What a pod needs on a node: the larger of its containers (with sidecars) and any init
/// container (with the sidecars started before it), plus the pod overhead, plus one pod slot.
pub fn pod_requests(spec: &PodSpec) -> Resource {
    let mut sum = Resource::default();
    for c in &spec.containers {
        sum.add(&requests(c));
    }
    let mut sidecars = Resource::default();
    let mut init_max = Resource::default();
    for c in spec.init_containers.iter().flatten() {
        let r = requests(c);
        if c.restart_policy.as_deref() == Some("Always") {
            sum.add(&r);
            sidecars.add(&r);
            init_max.max_with(&sidecars);
        } else {
            let mut with = r;
            with.add(&sidecars);
            init_max.max_with(&with);
        }
    }
    sum.max_with(&init_max);
    sum.add(&Resource::from_list(spec.overhead.as_ref()));
    sum.pods = 1;
    sum
}

/// The (cpu, memory) the scoring plugins count for a pod: requests, with 100m / 200Mi assumed
/// for containers that request nothing.
pub fn non_zero_requests(spec: &PodSpec) -> (i64, i64) {
    let (mut cpu, mut mem) = (0, 0);
    for c in &spec.containers {
        let list = c.resources.as_ref().and_then(|r| r.requests.as_ref());
        let r = requests(c);
        cpu += if list.is_some_and(|l| l.contains_key("cpu")) {
            r.milli_cpu
        } else {
            DEFAULT_MILLI_CPU
        };
        mem += if list.is_some_and(|l| l.contains_key("memory")) {
            r.memory
        } else {
            DEFAULT_MEMORY
        };
    }
    let overhead = Resource::from_list(spec.overhead.as_ref());
    (cpu + overhead.milli_cpu, mem + overhead.memory)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> PodSpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn init_containers_sidecars_and_overhead() {
        let s = spec(json!({
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "200m", "memory": "100Mi"}}},
                           {"name": "b", "resources": {"requests": {"cpu": "300m"}}}],
            "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "1", "example.com/gpu": "1"}}},
                               {"name": "s", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}}],
            "overhead": {"cpu": "50m"}
        }));
        let r = pod_requests(&s);
        assert_eq!(r.milli_cpu, 1050);
        assert_eq!(r.memory, 100 * 1024 * 1024);
        assert_eq!(r.scalar.get("example.com/gpu"), Some(&1));
        assert_eq!(r.pods, 1);
        let (cpu, mem) = non_zero_requests(&s);
        assert_eq!((cpu, mem), (550, 100 * 1024 * 1024 + DEFAULT_MEMORY));
    }
}
