//! The Kubernetes v1.33 API server of rkube.
//!
//! A request flows: [`serve`] (TLS, client certificate) → [`server`] (routing, [`authn`],
//! impersonation, [`authz`]) → [`handler`] (the generic REST verbs, with each resource's
//! strategy from `rkube-registry`) → [`storage`] (objects in the `rkube-store` key-value store).
//! Lists and watches are answered from the [`watchcache`]. [`bootstrap`] creates the objects every
//! cluster starts with; everything that reconciles afterwards (namespace lifecycle included) is
//! a controller in `rkube-controllers`, a client of this server.

pub mod admission;
pub mod authn;
pub mod authz;
pub mod bootstrap;
pub mod componentstatus;
pub mod fieldmanager;
pub mod handler;
pub mod http;
pub mod internal;
pub mod object;
pub mod patch;
pub mod pki;
pub mod request;
pub mod reviews;
pub mod serve;
pub mod server;
pub mod services;
pub mod storage;
pub mod table;
pub mod watchcache;
pub mod write_behind;

use anyhow::Context;
use rkube_store::Store;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// How `rkube server` configures the API server.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub bind_address: IpAddr,
    pub port: u16,
    pub service_cidr: String,
    /// A static token file (`token,user,uid,"group1,group2"` lines).
    pub token_auth_file: Option<PathBuf>,
    /// Extra names and addresses for the serving certificate.
    pub extra_sans: Vec<String>,
    /// The address published in the `kubernetes` Service's endpoints (pods reach the API
    /// there). Default: the bind address, or for a server bound to every interface the
    /// address of the interface the default route leaves through.
    pub advertise_address: Option<IpAddr>,
}

impl Config {
    /// A server on a free loopback port with upstream's default service range: what in-process
    /// tests and tools start.
    pub fn loopback(data_dir: PathBuf) -> Config {
        Config {
            data_dir,
            bind_address: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            service_cidr: "10.96.0.0/12".into(),
            token_auth_file: None,
            extra_sans: Vec::new(),
            advertise_address: None,
        }
    }
}

/// A running API server.
pub struct Running {
    pub addr: SocketAddr,
    pub api: Arc<handler::Api>,
    pub pki: Arc<pki::Pki>,
    /// The URL in-process clients use (loopback when bound to every interface).
    pub url: String,
    /// Where in-process components (scheduler, controller manager) register the health check
    /// `componentstatuses` reports.
    pub components: Arc<componentstatus::Components>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Wait until the server has shut down.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await.context("server task panicked")?
    }

    /// A kubeconfig (YAML text, nothing written to disk) for an in-process component such as
    /// the scheduler or the controller manager: a fresh client certificate for `user` in
    /// `groups`, signed by the cluster CA, pointing at this server. Components build their
    /// `kube::Client` from it, so they reach the cluster only through the API, as upstream's do.
    pub fn component_kubeconfig(&self, user: &str, groups: &[&str]) -> anyhow::Result<String> {
        let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        let (cert, key) = self.pki.issue_client_cert(user, &groups)?;
        self.pki.kubeconfig_yaml(&self.url, user, &cert, &key)
    }
}

/// The address clients on this machine use: loopback when bound to every interface.
fn advertise_ip(bind: IpAddr) -> IpAddr {
    if bind.is_unspecified() {
        IpAddr::from([127, 0, 0, 1])
    } else {
        bind
    }
}

/// The address for the `kubernetes` endpoints: routable, never loopback (upstream's validation
/// refuses loopback endpoints). Finding the default route's source address sends nothing: a
/// UDP socket is only connected, to a documentation-only address.
fn endpoint_ip(config: &Config) -> Option<IpAddr> {
    let chosen = match config.advertise_address {
        Some(ip) => ip,
        None if !config.bind_address.is_unspecified() => config.bind_address,
        None => {
            let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
            socket.connect("192.0.2.1:9").ok()?;
            socket.local_addr().ok()?.ip()
        }
    };
    (!chosen.is_loopback() && !chosen.is_unspecified()).then_some(chosen)
}

/// Start the API server over `store`; it stops when `shutdown` completes.
pub async fn start(
    config: Config,
    store: Arc<dyn Store>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Running> {
    pki::install_default_crypto_provider();
    let cidr = services::Cidr::parse(&config.service_cidr).context("--service-cidr")?;
    let allocator = services::ServiceAllocator::new(cidr);
    let advertise = advertise_ip(config.bind_address);

    let endpoint_ip = endpoint_ip(&config);
    let mut ips = vec![IpAddr::V4(allocator.api_service_ip()), advertise];
    ips.extend(endpoint_ip);
    if !config.bind_address.is_unspecified() {
        ips.push(config.bind_address);
    }
    let mut hostnames = Vec::new();
    for san in &config.extra_sans {
        match san.parse::<IpAddr>() {
            Ok(ip) => ips.push(ip),
            Err(_) => hostnames.push(san.clone()),
        }
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
    let pki = Arc::new(pki::load_or_create(
        &config.data_dir,
        &pki::PkiOptions { hostnames, ips },
    )?);

    let listener = tokio::net::TcpListener::bind(SocketAddr::new(config.bind_address, config.port))
        .await
        .with_context(|| format!("binding {}:{}", config.bind_address, config.port))?;
    let addr = listener.local_addr()?;
    let url = format!("https://{}", SocketAddr::new(advertise, addr.port()));
    pki.write_admin_kubeconfig(&config.data_dir.join("admin.kubeconfig"), &url)?;

    let strategies: Vec<_> = rkube_registry::catalog::RESOURCES
        .iter()
        .filter_map(|info| {
            rkube_registry::strategy_for(info)
                .map(|s| (info, Arc::<dyn rkube_registry::Strategy>::from(s)))
        })
        .collect();
    let caches = watchcache::WatchCaches::start(store.clone(), strategies.clone()).await?;
    let api = Arc::new(handler::Api::new(
        storage::ObjectStore::new(store),
        caches,
        strategies,
        allocator,
    ));
    let authn = authn::Authenticator::new(config.token_auth_file.as_deref())?;
    let components = Arc::new(componentstatus::Components::default());
    let app = Arc::new(server::App {
        api: api.clone(),
        authn,
        authz: Arc::new(authz::Bootstrap),
        advertise_address: SocketAddr::new(advertise, addr.port()).to_string(),
        ready: Default::default(),
        components: components.clone(),
    });
    let router = server::router(app.clone());
    let task = tokio::spawn(serve::serve(
        listener,
        pki.server_config(),
        router,
        shutdown,
    ));

    bootstrap::run(&api, endpoint_ip, addr.port())
        .await
        .map_err(|e| anyhow::anyhow!("bootstrap: {e}"))?;
    app.ready.store(true, Ordering::SeqCst);
    tracing::info!(%addr, "rkube API server ready");
    Ok(Running {
        addr,
        api,
        pki,
        url,
        components,
        task,
    })
}
