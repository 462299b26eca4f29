//! Job (batch/v1): the rules of `jobs`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::batch::v1::Job;

/// The rules of Job objects.
pub struct JobStrategy;

impl TypedStrategy for JobStrategy {
    type Object = Job;
}
