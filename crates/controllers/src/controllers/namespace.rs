//! The namespace controller: a terminating namespace has everything in it deleted (every
//! namespaced resource discovery reports), then its `kubernetes` finalizer removed through
//! `/finalize`, after which the API server deletes it.

use crate::manager::Context;
use crate::runtime::{Change, Key, WorkQueue, informer::forward};
use k8s_openapi::api::core::v1::{Namespace, NamespaceSpec};
use kube::api::{DeleteParams, DynamicObject, ListParams, PostParams};
use kube::discovery::verbs;
use kube::{Api, ResourceExt};
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

/// Delete the namespace's content; once none is left, finalize. Returns when to look again.
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
    let remaining = delete_content(ctx, name).await?;
    if remaining > 0 {
        tracing::debug!(
            namespace = name,
            remaining,
            "waiting for content to be deleted"
        );
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

/// Ask every namespaced resource's objects to go; returns how many objects still exist.
async fn delete_content(ctx: &Context, ns: &str) -> anyhow::Result<usize> {
    let mut remaining = 0;
    for (ar, caps) in ctx.resources.namespaced_deletable().await? {
        let api: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), ns, &ar);
        let items = match api.list_metadata(&ListParams::default()).await {
            Ok(l) => l.items,
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 405 => continue,
            Err(e) => return Err(e.into()),
        };
        if items.is_empty() {
            continue;
        }
        remaining += items.len();
        if items
            .iter()
            .all(|i| i.metadata.deletion_timestamp.is_some())
        {
            continue;
        }
        if caps.supports_operation(verbs::DELETE_COLLECTION)
            && api
                .delete_collection(&DeleteParams::default(), &ListParams::default())
                .await
                .is_ok()
        {
            continue;
        }
        for item in items
            .iter()
            .filter(|i| i.metadata.deletion_timestamp.is_none())
        {
            match api.delete(&item.name_any(), &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(remaining)
}
