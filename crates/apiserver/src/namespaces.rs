//! Namespace lifecycle, run inside the server for now (it moves to the controllers crate with
//! the other controllers): every namespace gets its `default` ServiceAccount and the
//! `kube-root-ca.crt` ConfigMap; a terminating namespace has its contents deleted, then its
//! `kubernetes` finalizer removed, which deletes it.

use crate::handler::Api;
use http::Method;
use rkube_registry::catalog;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Run the lifecycle loop until the server stops.
pub async fn run(api: Arc<Api>, ca_pem: String) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        if let Err(e) = pass(&api, &ca_pem).await {
            tracing::debug!(error = %e, "namespace lifecycle pass failed; retrying");
        }
    }
}

async fn pass(api: &Api, ca_pem: &str) -> Result<(), rkube_machinery::ApiError> {
    let list = api
        .call(Method::GET, "/api/v1/namespaces", "resourceVersion=0", None)
        .await?;
    for ns in list["items"].as_array().into_iter().flatten() {
        let name = ns["metadata"]["name"].as_str().unwrap_or("").to_string();
        if ns["metadata"].get("deletionTimestamp").is_some() {
            finalize(api, &name).await?;
        } else {
            populate(api, &name, ca_pem).await?;
        }
    }
    Ok(())
}

async fn populate(api: &Api, ns: &str, ca_pem: &str) -> Result<(), rkube_machinery::ApiError> {
    let sa_path = format!("/api/v1/namespaces/{ns}/serviceaccounts/default");
    if api.call(Method::GET, &sa_path, "", None).await.is_err() {
        api.ensure(
            &format!("/api/v1/namespaces/{ns}/serviceaccounts"),
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}),
        )
        .await?;
    }
    let cm_path = format!("/api/v1/namespaces/{ns}/configmaps/kube-root-ca.crt");
    if api.call(Method::GET, &cm_path, "", None).await.is_err() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kube-root-ca.crt", "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}},
            "data": {"ca.crt": ca_pem}});
        api.ensure(&format!("/api/v1/namespaces/{ns}/configmaps"), cm)
            .await?;
    }
    Ok(())
}

/// Delete everything in a terminating namespace; once empty, drop its finalizer.
async fn finalize(api: &Api, ns: &str) -> Result<(), rkube_machinery::ApiError> {
    let mut remaining = 0usize;
    for info in catalog::RESOURCES
        .iter()
        .filter(|r| r.namespaced && r.is_stored() && r.has_verb("list"))
    {
        // Versions sharing storage are listed once, through the preferred version.
        if info.group == "autoscaling" && info.version == "v1" {
            continue;
        }
        let base = if info.group.is_empty() {
            format!("/api/{}", info.version)
        } else {
            format!("/apis/{}/{}", info.group, info.version)
        };
        let path = format!("{base}/namespaces/{ns}/{}", info.plural);
        let list = api.call(Method::GET, &path, "", None).await?;
        for item in list["items"].as_array().into_iter().flatten() {
            remaining += 1;
            let held = item["metadata"]["finalizers"]
                .as_array()
                .is_some_and(|f| !f.is_empty());
            if held && item["metadata"].get("deletionTimestamp").is_some() {
                continue;
            }
            let name = item["metadata"]["name"].as_str().unwrap_or("");
            let _ = api
                .call(
                    Method::DELETE,
                    &format!("{path}/{name}"),
                    "gracePeriodSeconds=0",
                    None,
                )
                .await;
        }
    }
    if remaining == 0 {
        let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}, "spec": {"finalizers": Value::Array(vec![])}});
        api.call(
            Method::PUT,
            &format!("/api/v1/namespaces/{ns}/finalize"),
            "",
            Some(&body),
        )
        .await?;
    }
    Ok(())
}
