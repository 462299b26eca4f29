//! NodeResourcesFit (filter and least-allocated score) and NodeResourcesBalancedAllocation.

use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;

/// Filter: every resource the pod requests must fit in what the node has left.
pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Vec<String> {
    let mut reasons = Vec::new();
    let used = &node.requested;
    let count = node.pods.len() as i64;
    if count + 1 > node.allocatable.pods {
        reasons.push("Too many pods".to_string());
    }
    let req = &pod.requests;
    let free = |alloc: i64, used: i64| alloc - used;
    if req.milli_cpu > 0 && req.milli_cpu > free(node.allocatable.milli_cpu, used.milli_cpu) {
        reasons.push("Insufficient cpu".into());
    }
    if req.memory > 0 && req.memory > free(node.allocatable.memory, used.memory) {
        reasons.push("Insufficient memory".into());
    }
    if req.ephemeral_storage > 0
        && req.ephemeral_storage > free(node.allocatable.ephemeral_storage, used.ephemeral_storage)
    {
        reasons.push("Insufficient ephemeral-storage".into());
    }
    for (name, want) in &req.scalar {
        if *want == 0 {
            continue;
        }
        let alloc = node.allocatable.scalar.get(name).copied().unwrap_or(0);
        let taken = used.scalar.get(name).copied().unwrap_or(0);
        if *want > alloc - taken {
            reasons.push(format!("Insufficient {name}"));
        }
    }
    reasons
}

fn fractions(pod: &PodInfo, node: &NodeInfo) -> [(i64, i64); 2] {
    [
        (
            node.non_zero_cpu + pod.non_zero.0,
            node.allocatable.milli_cpu,
        ),
        (
            node.non_zero_memory + pod.non_zero.1,
            node.allocatable.memory,
        ),
    ]
}

/// LeastAllocated: 0–100, higher when more cpu and memory stay free after placing the pod.
pub fn least_allocated(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let parts = fractions(pod, node);
    let sum: i64 = parts
        .iter()
        .map(|(req, alloc)| {
            if *alloc == 0 || req > alloc {
                0
            } else {
                (alloc - req) * 100 / alloc
            }
        })
        .sum();
    sum / parts.len() as i64
}

/// BalancedAllocation: 0–100, higher when cpu and memory would be used in equal proportion.
pub fn balanced_allocation(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let f: Vec<f64> = fractions(pod, node)
        .iter()
        .map(|(req, alloc)| {
            if *alloc == 0 {
                1.0
            } else {
                (*req as f64 / *alloc as f64).min(1.0)
            }
        })
        .collect();
    let std = (f[0] - f[1]).abs() / 2.0;
    ((1.0 - std) * 100.0) as i64
}
