//! Deployment (apps/v1): the rules of `deployments`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::apps::v1::Deployment;

/// The rules of Deployment objects.
pub struct DeploymentStrategy;

impl TypedStrategy for DeploymentStrategy {
    type Object = Deployment;
}
