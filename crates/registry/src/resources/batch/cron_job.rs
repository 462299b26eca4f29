//! CronJob (batch/v1): the rules of `cronjobs`.

use crate::strategy::TypedStrategy;
use k8s_openapi::api::batch::v1::CronJob;

/// The rules of CronJob objects.
pub struct CronJobStrategy;

impl TypedStrategy for CronJobStrategy {
    type Object = CronJob;
}
