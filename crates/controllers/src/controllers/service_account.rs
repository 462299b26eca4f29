//! The service-account controller: every active namespace has a `default` ServiceAccount.

use crate::manager::Context;
use crate::runtime::{Change, Key, WorkQueue, informer::forward};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::PostParams;
use kube::{Api, ResourceExt};
use std::sync::Arc;

/// The account every namespace gets.
pub const DEFAULT: &str = "default";

pub fn start(ctx: &Arc<Context>) {
    let queue = WorkQueue::new();
    forward(&ctx.informers.namespaces, queue.clone(), |c| match c {
        Change::Applied(ns) => vec![Key::new("", ns.name_any())],
        Change::Deleted(_) => vec![],
    });
    forward(
        &ctx.informers.service_accounts,
        queue.clone(),
        |c| match c {
            Change::Deleted(sa) if sa.name_any() == DEFAULT => {
                vec![Key::new("", sa.namespace().unwrap_or_default())]
            }
            _ => vec![],
        },
    );
    let ctx = ctx.clone();
    queue.run("serviceaccount", 1, move |key| {
        let ctx = ctx.clone();
        async move { sync(&ctx, &key.name).await.map(|_| None) }
    });
}

async fn sync(ctx: &Context, ns: &str) -> anyhow::Result<()> {
    let Some(namespace) = ctx.informers.namespaces.get(None, ns) else {
        return Ok(());
    };
    if namespace.metadata.deletion_timestamp.is_some()
        || ctx
            .informers
            .service_accounts
            .get(Some(ns), DEFAULT)
            .is_some()
    {
        return Ok(());
    }
    let sa = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(DEFAULT.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let api: Api<ServiceAccount> = Api::namespaced(ctx.client.clone(), ns);
    match api.create(&PostParams::default(), &sa).await {
        Ok(_) => Ok(()),
        // Exists already, or the namespace started terminating.
        Err(kube::Error::Api(s)) if s.code == 409 || s.code == 403 || s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}
