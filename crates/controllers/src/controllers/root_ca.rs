//! The root-CA publisher: every active namespace has the `kube-root-ca.crt` ConfigMap holding
//! the cluster CA, so pods can verify the API server.

use crate::manager::Context;
use crate::runtime::{Change, Key, WorkQueue, informer::forward};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The ConfigMap's name.
pub const NAME: &str = "kube-root-ca.crt";
/// Upstream's description annotation.
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

pub fn start(ctx: &Arc<Context>) {
    if ctx.options.root_ca_pem.is_empty() {
        tracing::warn!("no root CA given; not publishing kube-root-ca.crt");
        return;
    }
    let queue = WorkQueue::new();
    forward(&ctx.informers.namespaces, queue.clone(), |c| match c {
        Change::Applied(ns) => vec![Key::new("", ns.name_any())],
        Change::Deleted(_) => vec![],
    });
    forward(&ctx.informers.root_ca_config_maps, queue.clone(), |c| {
        vec![Key::new("", c.object().namespace().unwrap_or_default())]
    });
    let ctx = ctx.clone();
    queue.run("root-ca-cert-publisher", 1, move |key| {
        let ctx = ctx.clone();
        async move { sync(&ctx, &key.name).await.map(|_| None) }
    });
}

async fn sync(ctx: &Context, ns: &str) -> anyhow::Result<()> {
    let Some(namespace) = ctx.informers.namespaces.get(None, ns) else {
        return Ok(());
    };
    if namespace.metadata.deletion_timestamp.is_some() {
        return Ok(());
    }
    let data = BTreeMap::from([("ca.crt".to_string(), ctx.options.root_ca_pem.clone())]);
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), ns);
    let result = match ctx.informers.root_ca_config_maps.get(Some(ns), NAME) {
        Some(cm) if cm.data.as_ref() == Some(&data) => return Ok(()),
        Some(_) => api
            .patch(
                NAME,
                &PatchParams::default(),
                &Patch::Merge(json!({"data": data, "metadata": {"annotations": {"kubernetes.io/description": DESCRIPTION}}})),
            )
            .await
            .map(|_| ()),
        None => {
            let cm = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(NAME.into()),
                    annotations: Some(BTreeMap::from([(
                        "kubernetes.io/description".to_string(),
                        DESCRIPTION.to_string(),
                    )])),
                    ..Default::default()
                },
                data: Some(data),
                ..Default::default()
            };
            api.create(&PostParams::default(), &cm).await.map(|_| ())
        }
    };
    match result {
        Ok(()) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 || s.code == 403 || s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}
