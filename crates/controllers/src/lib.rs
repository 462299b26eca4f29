//! The controller manager of rkube: the controllers that keep the cluster's objects in their
//! desired state, each an API client built on kube-rs (watchers and reflector stores shared
//! through [`runtime`]), running inside `rkube server` or alone.
//!
//! [`manager`] owns the client, the shared informers and the event recorder, and starts every
//! controller; each controller is one module under [`controllers`].

pub mod controllers;
pub mod discovery;
pub mod events;
pub mod leader;
pub mod manager;
pub mod ownership;
pub mod pod_status;
pub mod pods;
pub mod runtime;

pub use manager::{Options, run};

/// A kube client from kubeconfig YAML (what `Running::component_kubeconfig` hands out).
pub async fn client_from_kubeconfig(yaml: &str) -> anyhow::Result<kube::Client> {
    use anyhow::Context;
    let kubeconfig = kube::config::Kubeconfig::from_yaml(yaml).context("parsing the kubeconfig")?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .context("loading the kubeconfig")?;
    kube::Client::try_from(config).context("building the API client")
}

/// The message of an API error as upstream's controllers quote it in events and conditions.
pub fn error_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}
