//! PodDisruptionBudget (policy/v1): the rules of `poddisruptionbudgets`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;

/// The rules of PodDisruptionBudget objects.
pub struct PodDisruptionBudgetStrategy;

impl TypedStrategy for PodDisruptionBudgetStrategy {
    type Object = PodDisruptionBudget;
}
