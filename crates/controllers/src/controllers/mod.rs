//! One module per controller, each with a `start` that subscribes to the informers it needs
//! and runs its work queue.

pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod disruption;
pub mod garbage_collector;
pub mod job;
pub mod namespace;
pub mod node_lifecycle;
pub mod persistent_volume;
pub mod pod_gc;
pub mod replicaset;
pub mod resource_quota;
pub mod revisions;
pub mod root_ca;
pub mod service_account;
pub mod statefulset;

use crate::manager::Context;
use std::sync::Arc;

/// Start every controller.
pub fn start_all(ctx: &Arc<Context>) {
    namespace::start(ctx);
    service_account::start(ctx);
    root_ca::start(ctx);
    replicaset::start(ctx);
    deployment::start(ctx);
    garbage_collector::start(ctx);
    job::start(ctx);
    cronjob::start(ctx);
    statefulset::start(ctx);
    daemonset::start(ctx);
    node_lifecycle::start(ctx);
    pod_gc::start(ctx);
    disruption::start(ctx);
    persistent_volume::start(ctx);
    resource_quota::start(ctx);
}
