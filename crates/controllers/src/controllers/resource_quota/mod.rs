//! The resource quota controller: keeps every ResourceQuota's `status.hard` equal to its
//! `spec.hard` and its `status.used` equal to what the namespace's objects cost, as upstream's
//! does. A quota is synced when it is created or its limits change, when objects it counts go
//! away or stop counting (pods finishing or deleted, claims, services, config maps, secrets,
//! replication controllers deleted: [`triggers`]), and every five minutes for all quotas.
//! Usage is measured by [`usage`]; the status write carries the quota's resourceVersion, so a
//! charge the API server's quota admission made meanwhile is never overwritten blindly.

mod triggers;
mod usage;

use crate::manager::Context;
use crate::runtime::{Informer, Key, WorkQueue, informer::forward};
use k8s_openapi::api::core::v1::ResourceQuota;
use kube::api::PostParams;
use kube::{Api, ResourceExt};
use rkube_machinery::quota::resource_list::{self, ResourceList, equals, mask};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Upstream's `--resource-quota-sync-period`.
pub const FULL_RESYNC: Duration = Duration::from_secs(300);

/// Start the controller.
pub fn start(ctx: &Arc<Context>) {
    let quotas: Arc<Informer<ResourceQuota>> = Informer::start(Api::all(ctx.client.clone()));
    let queue = WorkQueue::new();
    forward(&quotas, queue.clone(), |c| {
        let q = c.object();
        match c {
            crate::runtime::Change::Applied(_) if needs_sync(q) => vec![Key::of(q.as_ref())],
            _ => vec![],
        }
    });
    triggers::start(ctx, &quotas, &queue);
    let all = quotas.clone();
    let resync = queue.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(FULL_RESYNC).await;
            for q in all.list() {
                resync.add(Key::of(q.as_ref()));
            }
        }
    });
    let ctx = ctx.clone();
    queue.run("resourcequota-controller", 2, move |key| {
        let ctx = ctx.clone();
        async move { sync(&ctx, &key).await }
    });
}

/// A quota whose limits changed or whose usage is not fully known yet. Status changes alone
/// (the admission's charges, this controller's writes) do not call for a recount.
fn needs_sync(q: &ResourceQuota) -> bool {
    let json = serde_json::to_value(q).unwrap_or_default();
    let spec_hard = resource_list::from_json(&json["spec"]["hard"]);
    let status = &json["status"];
    let hard = resource_list::from_json(&status["hard"]);
    let used = resource_list::from_json(&status["used"]);
    status["hard"].is_null()
        || status["used"].is_null()
        || !equals(&spec_hard, &hard)
        || hard.keys().any(|k| !used.contains_key(k))
}

/// Recount one quota and write its status when it changed.
async fn sync(ctx: &Arc<Context>, key: &Key) -> anyhow::Result<Option<Duration>> {
    let api: Api<ResourceQuota> = Api::namespaced(ctx.client.clone(), &key.namespace);
    let Some(quota) = api.get_opt(&key.name).await? else {
        return Ok(None);
    };
    let mut json = serde_json::to_value(&quota)?;
    let hard = resource_list::from_json(&json["spec"]["hard"]);
    let old_hard = resource_list::from_json(&json["status"]["hard"]);
    let old_used = resource_list::from_json(&json["status"]["used"]);
    let measured = usage::measure(ctx, &key.namespace, &json).await?;
    let mut used: ResourceList = old_used.clone();
    used.extend(measured);
    let used = mask(&used, hard.keys());
    let dirty = json["status"]["hard"].is_null()
        || json["status"]["used"].is_null()
        || !equals(&hard, &old_hard)
        || !equals(&used, &old_used);
    if !dirty {
        return Ok(None);
    }
    json["status"] = serde_json::json!({
        "hard": resource_list::to_json(&hard),
        "used": resource_list::to_json(&used),
    });
    match api
        .replace_status(
            &quota.name_any(),
            &PostParams::default(),
            &serde_json::from_value::<ResourceQuota>(json)?,
        )
        .await
    {
        Ok(_) => Ok(None),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The quotas of a namespace, as keys.
fn quota_keys(quotas: &Informer<ResourceQuota>, ns: &str) -> Vec<Key> {
    quotas
        .list_namespaced(ns)
        .iter()
        .map(|q| Key::of(q.as_ref()))
        .collect()
}

/// A JSON view of a typed object (the quota library reads JSON).
fn to_json<T: serde::Serialize>(o: &T) -> Value {
    serde_json::to_value(o).unwrap_or_default()
}
