//! One module per API group, one file per resource: the rules of each built-in resource.
//!
//! Each file holds a [`TypedStrategy`](crate::TypedStrategy) for its resource, like upstream's
//! `pkg/registry/<group>/<resource>/strategy.go`. Resources whose only rules are the generic
//! metadata ones keep an empty strategy.

pub mod admissionregistration;
pub mod apiextensions;
pub mod apiregistration;
pub mod apps;
pub mod autoscaling;
pub mod batch;
pub mod certificates;
pub mod coordination;
pub mod core;
pub mod discovery;
pub mod events;
pub mod flowcontrol;
pub mod networking;
pub mod node;
pub mod policy;
pub mod rbac;
pub mod scheduling;
pub mod storage;

use crate::catalog::ResourceInfo;
use crate::strategy::Strategy;

/// The strategy of a stored resource.
pub(crate) fn lookup(info: &'static ResourceInfo) -> Option<Box<dyn Strategy>> {
    match info.group {
        "" => core::lookup(info),
        "apiregistration.k8s.io" => apiregistration::lookup(info),
        "apps" => apps::lookup(info),
        "events.k8s.io" => events::lookup(info),
        "autoscaling" => autoscaling::lookup(info),
        "batch" => batch::lookup(info),
        "certificates.k8s.io" => certificates::lookup(info),
        "networking.k8s.io" => networking::lookup(info),
        "policy" => policy::lookup(info),
        "rbac.authorization.k8s.io" => rbac::lookup(info),
        "storage.k8s.io" => storage::lookup(info),
        "admissionregistration.k8s.io" => admissionregistration::lookup(info),
        "apiextensions.k8s.io" => apiextensions::lookup(info),
        "scheduling.k8s.io" => scheduling::lookup(info),
        "coordination.k8s.io" => coordination::lookup(info),
        "node.k8s.io" => node::lookup(info),
        "discovery.k8s.io" => discovery::lookup(info),
        "flowcontrol.apiserver.k8s.io" => flowcontrol::lookup(info),
        _ => None,
    }
}
