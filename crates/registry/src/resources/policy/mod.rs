//! Resources of the `policy` API group.

pub mod pod_disruption_budget;

use crate::catalog::ResourceInfo;
use crate::strategy::{Strategy, typed};

/// The strategy of a resource of this group.
pub(crate) fn lookup(info: &'static ResourceInfo) -> Option<Box<dyn Strategy>> {
    match (info.version, info.plural) {
        ("v1", "poddisruptionbudgets") => Some(typed(
            info,
            pod_disruption_budget::PodDisruptionBudgetStrategy,
        )),
        _ => None,
    }
}
