//! PriorityLevelConfiguration (flowcontrol.apiserver.k8s.io/v1): the rules of `prioritylevelconfigurations`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::flowcontrol::v1::PriorityLevelConfiguration;

/// The rules of PriorityLevelConfiguration objects.
pub struct PriorityLevelConfigurationStrategy;

impl TypedStrategy for PriorityLevelConfigurationStrategy {
    type Object = PriorityLevelConfiguration;
}
