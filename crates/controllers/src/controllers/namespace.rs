//! The namespace controller: a terminating namespace has everything in it deleted (every
//! namespaced resource discovery reports), its deletion status conditions kept up to date after
//! each pass (see [`conditions`]), then its `kubernetes` finalizer removed through `/finalize`,
//! after which the API server deletes it.

mod conditions;

use crate::manager::Context;
use crate::runtime::{Change, Key, WorkQueue, informer::forward};
use conditions::DeletionReport;
use k8s_openapi::api::core::v1::{Namespace, NamespaceSpec, Pod};
use kube::api::{DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::discovery::{ApiResource, verbs};
use kube::{Api, ResourceExt};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

pub fn start(ctx: &Arc<Context>) {
    let queue = WorkQueue::new();
    forward(&ctx.informers.namespaces, queue.clone(), |c| match c {
        Change::Applied(ns) if ns.metadata.deletion_timestamp.is_some() => {
            vec![Key::new("", ns.name_any())]
        }
        _ => vec![],
    });
    let ctx = ctx.clone();
    queue.run("namespace", 2, move |key| {
        let ctx = ctx.clone();
        async move { sync(&ctx, &key.name).await }
    });
}

/// Delete the namespace's content and report on it in the status; once none is left,
/// finalize. Returns when to look again.
async fn sync(ctx: &Context, name: &str) -> anyhow::Result<Option<Duration>> {
    let api: Api<Namespace> = Api::all(ctx.client.clone());
    let Some(ns) = api.get_opt(name).await? else {
        return Ok(None);
    };
    if ns.metadata.deletion_timestamp.is_none() {
        return Ok(None);
    }
    let holds_ours = ns
        .spec
        .as_ref()
        .and_then(|s| s.finalizers.as_ref())
        .is_some_and(|f| f.iter().any(|f| f == "kubernetes"));
    if !holds_ours {
        return Ok(None);
    }
    let report = delete_content(ctx, &ns).await?;
    write_conditions(&api, &ns, &report).await;
    if let Some(failure) = report.failure() {
        anyhow::bail!("deleting the content of namespace {name}: {failure}");
    }
    if !report.remaining.is_empty() {
        tracing::debug!(namespace = name, remaining = ?report.remaining, "waiting for content to be deleted");
        return Ok(Some(Duration::from_millis(500)));
    }
    let mut done = ns.clone();
    let finalizers: Vec<String> = ns
        .spec
        .and_then(|s| s.finalizers)
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f != "kubernetes")
        .collect();
    done.spec = Some(NamespaceSpec {
        finalizers: Some(finalizers),
    });
    match api
        .replace_subresource("finalize", name, &PostParams::default(), &done)
        .await
    {
        Ok(_) => Ok(None),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Record the pass in the namespace's conditions, when they change. A failed write is only
/// logged: the next pass writes again, as upstream.
async fn write_conditions(api: &Api<Namespace>, ns: &Namespace, report: &DeletionReport) {
    let mut conditions = ns
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    if !report.apply(&mut conditions, rkube_machinery::time::now_seconds()) {
        return;
    }
    let patch = json!({"status": {"conditions": conditions}});
    if let Err(e) = api
        .patch_status(
            &ns.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        tracing::warn!(namespace = ns.name_any(), error = %e, "couldn't update the namespace's status conditions");
    }
}

/// Ask every namespaced resource's objects to go, then count what is left. Errors per
/// resource type are collected in the report rather than ending the pass.
async fn delete_content(ctx: &Context, ns: &Namespace) -> anyhow::Result<DeletionReport> {
    let mut report = DeletionReport::default();
    let name = ns.name_any();
    let resources = match ctx.resources.namespaced_deletable().await {
        Ok(r) => r,
        Err(e) => {
            report.discovery_error = Some(format!("{e:#}"));
            return Ok(report);
        }
    };
    let grace = pod_grace_estimate(ctx, ns).await?;
    for (ar, caps) in resources {
        let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), &name, &ar);
        match delete_resource(&api, caps.supports_operation(verbs::DELETE_COLLECTION)).await {
            Ok(None) => {}
            Ok(Some(left)) => {
                let estimate = if ar.group.is_empty() && ar.plural == "pods" {
                    grace
                } else {
                    0
                };
                count_leftovers(&mut report, &ar, &name, &left, estimate);
            }
            Err(e) => {
                report
                    .content_errors
                    .push(format!("{}: {}", gvr(&ar), crate::error_message(&e)))
            }
        }
    }
    Ok(report)
}

/// Delete a resource type's objects (as a collection when possible); returns what is still
/// listed afterwards (`None`: nothing, or the type cannot be listed).
async fn delete_resource(
    api: &Api<DynamicObject>,
    collection: bool,
) -> Result<Option<Vec<kube::core::PartialObjectMeta<DynamicObject>>>, kube::Error> {
    let items = match api.list_metadata(&ListParams::default()).await {
        Ok(l) => l.items,
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 405 => return Ok(None),
        Err(e) => return Err(e),
    };
    if items.is_empty() {
        return Ok(None);
    }
    if items
        .iter()
        .any(|i| i.metadata.deletion_timestamp.is_none())
    {
        let by_collection = collection
            && api
                .delete_collection(&DeleteParams::default(), &ListParams::default())
                .await
                .is_ok();
        if !by_collection {
            for item in items
                .iter()
                .filter(|i| i.metadata.deletion_timestamp.is_none())
            {
                match api.delete(&item.name_any(), &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if matches!(s.code, 404 | 405 | 409) => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    let left = api.list_metadata(&ListParams::default()).await?.items;
    Ok((!left.is_empty()).then_some(left))
}

/// Note what is left of a resource type. Objects held by finalizers, or pods still within
/// their grace period, are expected to take a while; anything else left is a failure.
fn count_leftovers(
    report: &mut DeletionReport,
    ar: &ApiResource,
    ns: &str,
    left: &[kube::core::PartialObjectMeta<DynamicObject>],
    grace_estimate: i64,
) {
    report
        .remaining
        .insert((ar.plural.clone(), ar.group.clone()), left.len());
    let mut finalized = false;
    for f in left.iter().flat_map(|i| i.finalizers()) {
        *report.finalizers.entry(f.clone()).or_default() += 1;
        finalized = true;
    }
    if grace_estimate == 0 && !finalized {
        report.content_errors.push(format!(
            "unexpected items still remain in namespace: {ns} for gvr: {}",
            gvr(ar)
        ));
    }
}

/// A group/version/resource as upstream prints it (`apps/v1, Resource=deployments`).
fn gvr(ar: &ApiResource) -> String {
    format!("{}/{}, Resource={}", ar.group, ar.version, ar.plural)
}

/// How long the namespace's running pods may still take to stop: their longest termination
/// grace period, unless the namespace has been terminating longer than that (then 0).
async fn pod_grace_estimate(ctx: &Context, ns: &Namespace) -> anyhow::Result<i64> {
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns.name_any());
    let longest = match pods.list(&ListParams::default()).await {
        Ok(l) => l
            .items
            .iter()
            .filter(|p| !matches!(crate::pods::phase(p), "Succeeded" | "Failed"))
            .filter_map(|p| p.spec.as_ref()?.termination_grace_period_seconds)
            .max()
            .unwrap_or(0),
        Err(kube::Error::Api(s)) if s.code == 404 => 0,
        Err(e) => return Err(e.into()),
    };
    let since = ns
        .metadata
        .deletion_timestamp
        .as_ref()
        .map_or(0, |t| t.0.duration_until(jiff::Timestamp::now()).as_secs());
    Ok(if since >= longest { 0 } else { longest })
}
