//! The small filters: NodeUnschedulable, NodeName, NodePorts and VolumeRestrictions.

use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use k8s_openapi::api::core::v1::Taint;

pub const UNSCHEDULABLE: &str = "node(s) were unschedulable";
pub const NODE_NAME: &str = "node(s) didn't match the requested node name";
pub const PORTS: &str = "node(s) didn't have free ports for the requested pod ports";
pub const DISK: &str = "node(s) had no available disk";

/// NodeUnschedulable: cordoned nodes take only pods tolerating `node.kubernetes.io/unschedulable`.
pub fn node_unschedulable(pod: &PodInfo, node: &NodeInfo) -> Option<&'static str> {
    if !node.unschedulable {
        return None;
    }
    let taint = Taint {
        key: "node.kubernetes.io/unschedulable".into(),
        effect: "NoSchedule".into(),
        ..Default::default()
    };
    let tolerated = pod
        .tolerations
        .iter()
        .any(|t| super::taint_toleration::tolerates(t, &taint));
    (!tolerated).then_some(UNSCHEDULABLE)
}

/// NodeName: a pod naming a node fits only there. (Such pods are normally not ours to place;
/// this keeps the rule for pods that set it through a nominated binding.)
pub fn node_name(pod: &PodInfo, node: &NodeInfo) -> Option<&'static str> {
    pod.node_name
        .as_ref()
        .filter(|n| **n != node.name)
        .map(|_| NODE_NAME)
}

/// NodePorts: a host port (protocol, IP) must be free; 0.0.0.0 conflicts with every IP.
pub fn node_ports(pod: &PodInfo, node: &NodeInfo) -> Option<&'static str> {
    let conflict = pod.host_ports.iter().any(|(proto, ip, port)| {
        node.ports.iter().any(|(p2, ip2, port2)| {
            port == port2 && proto == p2 && (ip == ip2 || ip == "0.0.0.0" || ip2 == "0.0.0.0")
        })
    });
    conflict.then_some(PORTS)
}

/// VolumeRestrictions: the same GCE PD, RBD image or iSCSI LUN may be shared only read-only;
/// an AWS EBS volume not at all.
pub fn volume_restrictions(pod: &PodInfo, node: &NodeInfo) -> Option<&'static str> {
    if pod.disks.is_empty() {
        return None;
    }
    let conflict = pod.disks.iter().any(|d| {
        node.pods
            .iter()
            .flat_map(|p| p.disks.iter())
            .any(|e| e.id == d.id && (d.id.starts_with("aws/") || !(d.read_only && e.read_only)))
    });
    conflict.then_some(DISK)
}
