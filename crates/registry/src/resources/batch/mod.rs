//! Resources of the `batch` API group.

pub mod cron;
pub mod cron_job;
pub mod job;

use crate::catalog::ResourceInfo;
use crate::strategy::{Strategy, typed};

/// The strategy of a resource of this group.
pub(crate) fn lookup(info: &'static ResourceInfo) -> Option<Box<dyn Strategy>> {
    match (info.version, info.plural) {
        ("v1", "cronjobs") => Some(typed(info, cron_job::CronJobStrategy)),
        ("v1", "jobs") => Some(typed(info, job::JobStrategy)),
        _ => None,
    }
}
