//! `rkube controller-manager`: the controllers alone, against any cluster (they also run inside
//! `rkube server` unless `--disable-controllers`). With leader election (the default) several
//! managers may run; the one holding the `kube-system/kube-controller-manager` Lease acts, and
//! when it stops renewing, another takes over.

use clap::Args;
use std::path::PathBuf;

/// Options of `rkube controller-manager`.
#[derive(Args, Debug)]
pub struct ControllerManagerArgs {
    /// Kubeconfig of the cluster.
    #[arg(long, env = "KUBECONFIG")]
    kubeconfig: PathBuf,
    /// Take the kube-system/kube-controller-manager Lease before acting.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    leader_elect: bool,
    /// This manager's identity in the Lease (default: `<hostname>_<uuid>`).
    #[arg(long)]
    identity: Option<String>,
    /// The cluster CA certificate (PEM) to publish as `kube-root-ca.crt` in every namespace
    /// (default: the kubeconfig's certificate-authority-data).
    #[arg(long)]
    root_ca_file: Option<PathBuf>,
    /// Where the built-in `rancher.io/local-path` provisioner makes volume directories.
    #[arg(long, default_value = "/var/lib/rkube/storage")]
    local_path_root: PathBuf,
}

/// The CA of the kubeconfig's current cluster, PEM.
fn kubeconfig_ca(text: &str) -> anyhow::Result<String> {
    use anyhow::Context;
    let kubeconfig = kube::config::Kubeconfig::from_yaml(text).context("parsing the kubeconfig")?;
    let current = kubeconfig.current_context.clone().unwrap_or_default();
    let cluster_name = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == current)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone());
    let cluster = kubeconfig
        .clusters
        .iter()
        .find(|c| Some(&c.name) == cluster_name.as_ref())
        .or_else(|| kubeconfig.clusters.first())
        .and_then(|c| c.cluster.as_ref())
        .context("the kubeconfig names no cluster")?;
    if let Some(data) = &cluster.certificate_authority_data {
        use base64::Engine;
        let pem = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .context("decoding certificate-authority-data")?;
        return String::from_utf8(pem).context("certificate-authority-data is not PEM text");
    }
    if let Some(path) = &cluster.certificate_authority {
        return std::fs::read_to_string(path).with_context(|| format!("reading {path}"));
    }
    anyhow::bail!("the kubeconfig has no certificate authority; pass --root-ca-file")
}

pub async fn run(args: ControllerManagerArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    rkube_apiserver::pki::install_default_crypto_provider();
    let text = std::fs::read_to_string(&args.kubeconfig)
        .with_context(|| format!("reading {}", args.kubeconfig.display()))?;
    let root_ca_pem = match &args.root_ca_file {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
        }
        None => kubeconfig_ca(&text)?,
    };
    let client = rkube_controllers::client_from_kubeconfig(&text).await?;
    let options = rkube_controllers::Options {
        root_ca_pem,
        leader_elect: args.leader_elect,
        identity: args.identity,
        local_path_root: Some(args.local_path_root),
    };
    eprintln!("rkube controller-manager running");
    tokio::select! {
        // Upstream's controller manager exits when it loses its lease (an error here).
        r = rkube_controllers::run(client, options) => r,
        _ = tokio::signal::ctrl_c() => Ok(()),
        _ = crate::sim_nodes::terminate() => Ok(()),
    }
}
