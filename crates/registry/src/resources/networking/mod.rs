//! Resources of the `networking.k8s.io` API group.

pub mod ingress;
pub mod ingress_class;
pub mod ip_address;
pub mod net;
pub mod network_policy;
pub mod service_cidr;

use crate::catalog::ResourceInfo;
use crate::strategy::{Strategy, typed};

/// The strategy of a resource of this group.
pub(crate) fn lookup(info: &'static ResourceInfo) -> Option<Box<dyn Strategy>> {
    match (info.version, info.plural) {
        ("v1", "ingressclasses") => Some(typed(info, ingress_class::IngressClassStrategy)),
        ("v1", "ingresses") => Some(typed(info, ingress::IngressStrategy)),
        ("v1", "ipaddresses") => Some(typed(info, ip_address::IPAddressStrategy)),
        ("v1", "networkpolicies") => Some(typed(info, network_policy::NetworkPolicyStrategy)),
        ("v1", "servicecidrs") => Some(typed(info, service_cidr::ServiceCIDRStrategy)),
        _ => None,
    }
}
