//! The controller manager: one API client, the informers every controller shares, the event
//! recorder, and the controllers themselves, started once this process leads (see [`leader`]).
//!
//! [`leader`]: crate::leader

use crate::discovery::ResourceCatalog;
use crate::events::Recorder;
use crate::runtime::Informer;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod,
    ReplicationController, ServiceAccount,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::runtime::watcher;
use kube::{Api, Client};
use std::path::PathBuf;
use std::sync::Arc;

/// How the controller manager runs.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The cluster CA (PEM) published in every namespace's `kube-root-ca.crt` ConfigMap.
    pub root_ca_pem: String,
    /// Take the `kube-system/kube-controller-manager` Lease before running, so only one of
    /// several managers acts at a time.
    pub leader_elect: bool,
    /// This manager's identity in the Lease (default: `<hostname>_<uuid>`).
    pub identity: Option<String>,
    /// Where the built-in `rancher.io/local-path` provisioner makes volume directories
    /// (default `/var/lib/rkube/storage`).
    pub local_path_root: Option<PathBuf>,
}

/// Caches of the resources controllers read, one watch per resource type.
pub struct Informers {
    pub namespaces: Arc<Informer<Namespace>>,
    pub service_accounts: Arc<Informer<ServiceAccount>>,
    /// Only the `kube-root-ca.crt` ConfigMaps.
    pub root_ca_config_maps: Arc<Informer<ConfigMap>>,
    pub pods: Arc<Informer<Pod>>,
    pub nodes: Arc<Informer<Node>>,
    pub replica_sets: Arc<Informer<ReplicaSet>>,
    pub replication_controllers: Arc<Informer<ReplicationController>>,
    pub deployments: Arc<Informer<Deployment>>,
    pub stateful_sets: Arc<Informer<StatefulSet>>,
    pub daemon_sets: Arc<Informer<DaemonSet>>,
    pub jobs: Arc<Informer<Job>>,
    pub cron_jobs: Arc<Informer<CronJob>>,
    pub disruption_budgets: Arc<Informer<PodDisruptionBudget>>,
    /// Claims, for the StatefulSet controller's claim templates and retention policy, and the
    /// PersistentVolume controller.
    pub persistent_volume_claims: Arc<Informer<PersistentVolumeClaim>>,
    pub persistent_volumes: Arc<Informer<PersistentVolume>>,
    pub storage_classes: Arc<Informer<StorageClass>>,
}

impl Informers {
    fn start(client: &Client) -> Self {
        let c = client.clone();
        Self {
            namespaces: Informer::start(Api::all(c.clone())),
            service_accounts: Informer::start(Api::all(c.clone())),
            root_ca_config_maps: Informer::start_with(
                Api::all(c.clone()),
                watcher::Config::default().fields("metadata.name=kube-root-ca.crt"),
            ),
            pods: Informer::start(Api::all(c.clone())),
            nodes: Informer::start(Api::all(c.clone())),
            replica_sets: Informer::start(Api::all(c.clone())),
            replication_controllers: Informer::start(Api::all(c.clone())),
            deployments: Informer::start(Api::all(c.clone())),
            stateful_sets: Informer::start(Api::all(c.clone())),
            daemon_sets: Informer::start(Api::all(c.clone())),
            jobs: Informer::start(Api::all(c.clone())),
            cron_jobs: Informer::start(Api::all(c.clone())),
            disruption_budgets: Informer::start(Api::all(c.clone())),
            persistent_volume_claims: Informer::start(Api::all(c.clone())),
            persistent_volumes: Informer::start(Api::all(c.clone())),
            storage_classes: Informer::start(Api::all(c)),
        }
    }

    async fn synced(&self) {
        self.namespaces.synced().await;
        self.service_accounts.synced().await;
        self.root_ca_config_maps.synced().await;
        self.pods.synced().await;
        self.nodes.synced().await;
        self.replica_sets.synced().await;
        self.replication_controllers.synced().await;
        self.deployments.synced().await;
        self.stateful_sets.synced().await;
        self.daemon_sets.synced().await;
        self.jobs.synced().await;
        self.cron_jobs.synced().await;
        self.disruption_budgets.synced().await;
        self.persistent_volume_claims.synced().await;
        self.persistent_volumes.synced().await;
        self.storage_classes.synced().await;
    }
}

/// What every controller gets.
pub struct Context {
    pub client: Client,
    pub informers: Informers,
    pub recorder: Recorder,
    pub resources: ResourceCatalog,
    pub options: Options,
}

/// Run the controller manager until leadership is lost (an error) or forever.
pub async fn run(client: Client, options: Options) -> anyhow::Result<()> {
    let lost = if options.leader_elect {
        let identity = options
            .identity
            .clone()
            .unwrap_or_else(crate::leader::default_identity);
        let elector = crate::leader::LeaderElector::new(
            client.clone(),
            "kube-system",
            "kube-controller-manager",
            identity,
        );
        elector.acquire().await;
        Some(elector)
    } else {
        None
    };
    let ctx = Arc::new(Context {
        informers: Informers::start(&client),
        recorder: Recorder::start(client.clone()),
        resources: ResourceCatalog::new(client.clone()),
        client,
        options,
    });
    ctx.informers.synced().await;
    crate::controllers::start_all(&ctx);
    tracing::info!("controller manager started");
    match lost {
        Some(elector) => {
            elector.hold().await;
            anyhow::bail!("leader election lost")
        }
        None => std::future::pending().await,
    }
}
