//! ResourceQuota admission, as upstream's plugin: an object created in a namespace with quotas
//! must fit every quota that counts it, and is charged to them before it is stored.
//!
//! For each quota whose `status.hard` names something the object costs (and whose scopes the
//! object falls in): a pod must state every compute value the quota limits (`failed quota`),
//! the quota's usage must be known (`status unknown for quota`), and usage plus cost may not
//! exceed the limit (`exceeded quota`). The new usage is written to `status.used` with a write
//! guarded by the quota's resourceVersion, re-reading and re-checking on conflict; checks in
//! one namespace take turns (upstream runs one evaluator worker per namespace), so concurrent
//! creates cannot overshoot. The quota controller later recomputes usage from what exists.

use crate::handler::{Api, ApiRequest};
use rkube_machinery::quota::resource_list::{
    ResourceList, add, exceeding, mask, pretty_print, remove_zeros, subtract_non_negative, to_json,
};
use rkube_machinery::quota::{Evaluator, QuotaView};
use rkube_machinery::{ApiError, GroupResource};
use rkube_store::Revision;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

/// How many times conflicting quota writes are retried (upstream: 3 retries).
const RETRIES: usize = 4;

/// One quota as read from the store, with the revision a write must match.
struct StoredQuota {
    json: Value,
    revision: Revision,
    view: QuotaView,
}

/// Check `obj`, about to be created (`old` is `None`) or to replace `old`, against its
/// namespace's quotas and charge it (an update is charged what it adds).
pub(super) async fn admit(
    api: &Api,
    req: &ApiRequest,
    obj: &Value,
    old: Option<&Value>,
) -> Result<(), ApiError> {
    let r = req.resource;
    let Some(ns) = req.namespace() else {
        return Ok(());
    };
    if !r.namespaced || (r.group.is_empty() && r.plural == "events") {
        return Ok(());
    }
    let names: Vec<String> = super::cached_in_namespace(api, "resourcequotas", ns)?
        .iter()
        .map(|q| q.name.clone())
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    let dry_run = req.query.dry_run()?;
    let evaluator = Evaluator::of(r.group, r.plural);
    let turn = namespace_turn(ns);
    let _turn = turn.lock().await;
    let mut pending = read_quotas(api, ns, &names).await?;
    for _ in 0..RETRIES {
        let charged = check(req, &evaluator, &pending, obj, old)?;
        if dry_run || charged.is_empty() {
            return Ok(());
        }
        let mut conflicted = Vec::new();
        for (i, used) in charged {
            let q = &pending[i];
            let mut json = q.json.clone();
            json["status"]["used"] = to_json(&used);
            if !write_status(api, ns, &q.view.name, json, q.revision).await? {
                conflicted.push(q.view.name.clone());
            }
        }
        if conflicted.is_empty() {
            return Ok(());
        }
        // Only the quotas that changed underneath are checked again: the others are charged.
        pending = read_quotas(api, ns, &conflicted).await?;
    }
    Err(ApiError::conflict(
        &GroupResource::new("", "resourcequotas"),
        pending.first().map_or("", |q| q.view.name.as_str()),
        "the object has been modified; please apply your changes to the latest version and try again",
    ))
}

/// The quotas `obj` must be charged to, with their new usage; refuses what does not fit.
fn check(
    req: &ApiRequest,
    evaluator: &Evaluator,
    quotas: &[StoredQuota],
    obj: &Value,
    old: Option<&Value>,
) -> Result<Vec<(usize, ResourceList)>, ApiError> {
    let forbidden = |why: String| {
        ApiError::forbidden(
            &GroupResource::new(req.resource.group, req.resource.plural),
            crate::object::name(obj),
            &why,
        )
    };
    let mut counting = Vec::new();
    for (i, q) in quotas.iter().enumerate() {
        let view = &q.view;
        if !evaluator.quota_counts(&view.hard, &view.scopes, obj) {
            continue;
        }
        let mut restricted = evaluator.matching(view.hard.keys());
        if let Err(e) = evaluator.constraints(&restricted, obj) {
            return Err(forbidden(format!("failed quota: {}: {e}", view.name)));
        }
        if restricted.iter().any(|r| !view.used.contains_key(r)) {
            restricted.sort();
            return Err(forbidden(format!(
                "status unknown for quota: {}, resources: {}",
                view.name,
                restricted.join(",")
            )));
        }
        counting.push(i);
    }
    if counting.is_empty() {
        return Ok(Vec::new());
    }
    let now = jiff::Timestamp::now();
    let cost = evaluator.usage(obj, now);
    let negative: Vec<&str> = cost
        .iter()
        .filter(|(_, q)| q.is_negative())
        .map(|(k, _)| k.as_str())
        .collect();
    if !negative.is_empty() {
        return Err(forbidden(format!(
            "quota usage is negative for resource(s): {}",
            negative.join(",")
        )));
    }
    // An update costs what it adds, under the quotas that counted the old object already.
    let added = old.map(|o| (o, subtract_non_negative(&cost, &evaluator.usage(o, now))));
    let mut charged = Vec::new();
    for i in counting {
        let view = &quotas[i].view;
        let cost = match &added {
            Some((o, delta)) if evaluator.quota_counts(&view.hard, &view.scopes, o) => delta,
            _ => &cost,
        };
        let requested = remove_zeros(&mask(cost, view.hard.keys()));
        if requested.is_empty() {
            continue;
        }
        let used = add(&view.used, &requested);
        let over = exceeding(&mask(&used, requested.keys()), &view.hard);
        if !over.is_empty() {
            return Err(forbidden(format!(
                "exceeded quota: {}, requested: {}, used: {}, limited: {}",
                view.name,
                pretty_print(&mask(&requested, &over)),
                pretty_print(&mask(&view.used, &over)),
                pretty_print(&mask(&view.hard, &over)),
            )));
        }
        charged.push((i, used));
    }
    Ok(charged)
}

fn quota_info() -> Result<&'static rkube_registry::ResourceInfo, ApiError> {
    rkube_registry::catalog::find("", "v1", "resourcequotas")
        .ok_or_else(|| ApiError::internal("resourcequotas are not in the catalog"))
}

/// Fresh copies of the named quotas from the store (gone ones are skipped), sorted by name.
async fn read_quotas(api: &Api, ns: &str, names: &[String]) -> Result<Vec<StoredQuota>, ApiError> {
    let info = quota_info()?;
    let mut out = Vec::new();
    for name in names {
        if let Some(s) = api
            .store
            .get(&info.storage_key(Some(ns), name), info, name)
            .await?
        {
            let view = QuotaView::of(&s.object);
            out.push(StoredQuota {
                json: s.object,
                revision: s.revision,
                view,
            });
        }
    }
    out.sort_by(|a, b| a.view.name.cmp(&b.view.name));
    Ok(out)
}

/// Write a quota's new status if it is still at `revision`; false when someone wrote first.
async fn write_status(
    api: &Api,
    ns: &str,
    name: &str,
    json: Value,
    revision: Revision,
) -> Result<bool, ApiError> {
    let info = quota_info()?;
    Ok(api
        .store
        .update(
            &info.storage_key(Some(ns), name),
            json,
            revision,
            None,
            info,
            name,
        )
        .await?
        .is_some())
}

/// The lock quota checks in one namespace take turns on.
fn namespace_turn(ns: &str) -> Arc<tokio::sync::Mutex<()>> {
    static TURNS: LazyLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> =
        LazyLock::new(Default::default);
    TURNS
        .lock()
        .expect("quota turn lock")
        .entry(ns.to_string())
        .or_default()
        .clone()
}
