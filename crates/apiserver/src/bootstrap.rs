//! Objects every cluster has from its first start: the four system namespaces, the system
//! priority classes, the `kubernetes` Service with the endpoints of the API server in `default`,
//! and (as k3s ships it) the default StorageClass `local-path` served by the controller
//! manager's built-in provisioner.
//!
//! The class is created here rather than by the controller manager: it is cluster
//! configuration, so it exists from the first start whichever process runs the controllers,
//! a `rkube controller-manager` pointed at another cluster does not plant a default class there,
//! and like everything here it is created once (a user who un-defaults or edits it keeps
//! their change).

use crate::handler::Api;
use http::Method;
use rkube_machinery::ApiError;
use serde_json::json;
use std::net::IpAddr;

/// Namespaces upstream creates at start-up.
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// The priority classes upstream creates for system pods.
const SYSTEM_PRIORITY_CLASSES: &[(&str, i64, &str)] = &[
    (
        "system-node-critical",
        2_000_001_000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        2_000_000_000,
        "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
    ),
];

/// The default StorageClass: node-local directories, provisioned once a pod using the claim is
/// scheduled (so the volume is on the pod's node), deleted with their claim.
pub const LOCAL_PATH_CLASS: &str = "local-path";
/// The provisioner name of [`LOCAL_PATH_CLASS`] (k3s's local-path-provisioner's).
pub const LOCAL_PATH_PROVISIONER: &str = "rancher.io/local-path";

/// Create what is missing; existing objects are left alone (a restart changes nothing).
pub async fn run(api: &Api, endpoint_ip: Option<IpAddr>, port: u16) -> Result<(), ApiError> {
    for ns in SYSTEM_NAMESPACES {
        api.ensure(
            "/api/v1/namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        )
        .await?;
    }
    for (name, value, description) in SYSTEM_PRIORITY_CLASSES {
        api.ensure(
            "/apis/scheduling.k8s.io/v1/priorityclasses",
            json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                "metadata": {"name": name}, "value": value, "description": description}),
        )
        .await?;
    }
    api.ensure(
        "/apis/storage.k8s.io/v1/storageclasses",
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": LOCAL_PATH_CLASS,
                "annotations": {crate::admission::storage_class::IS_DEFAULT_CLASS: "true"}},
            "provisioner": LOCAL_PATH_PROVISIONER, "reclaimPolicy": "Delete",
            "volumeBindingMode": "WaitForFirstConsumer"}),
    )
    .await?;
    let svc = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": api.services.api_service_ip().to_string(),
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}],
                 "sessionAffinity": "None"}
    });
    api.ensure("/api/v1/namespaces/default/services", svc)
        .await?;
    // The API server's own endpoints, at a routable address (validation refuses loopback, as
    // upstream's); a server with no such address publishes none.
    match endpoint_ip {
        Some(ip) => endpoints(api, &ip.to_string(), port).await?,
        None => tracing::warn!("no routable address: not publishing the kubernetes endpoints"),
    }
    Ok(())
}

async fn endpoints(api: &Api, advertise_ip: &str, port: u16) -> Result<(), ApiError> {
    let subsets = json!([{"addresses": [{"ip": advertise_ip}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]);
    let endpoints = json!({"apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}}, "subsets": subsets});
    match api
        .call(
            Method::GET,
            "/api/v1/namespaces/default/endpoints/kubernetes",
            "",
            None,
        )
        .await
    {
        Ok(current) if current.get("subsets") == Some(&subsets) => {}
        Ok(_) => {
            api.call(
                Method::PATCH,
                "/api/v1/namespaces/default/endpoints/kubernetes",
                "",
                Some(&json!({"subsets": subsets})),
            )
            .await?;
        }
        Err(_) => {
            api.ensure("/api/v1/namespaces/default/endpoints", endpoints)
                .await?
        }
    }
    let slice = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "labels": {"kubernetes.io/service-name": "kubernetes", "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [advertise_ip], "conditions": {"ready": true}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}]});
    api.ensure(
        "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
        slice,
    )
    .await?;
    Ok(())
}
