//! DaemonSet (apps/v1): the rules of `daemonsets`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::apps::v1::DaemonSet;

/// The rules of DaemonSet objects.
pub struct DaemonSetStrategy;

impl TypedStrategy for DaemonSetStrategy {
    type Object = DaemonSet;
}
