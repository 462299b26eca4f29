//! What the server serves, from API discovery, cached for a short while: the namespace
//! controller deletes every namespaced resource and the garbage collector watches every
//! resource, including ones added later (custom resources).

use kube::Client;
use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope, verbs};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// A served resource with its capabilities.
pub type Served = (ApiResource, ApiCapabilities);

/// Discovery results, refreshed when older than [`MAX_AGE`].
pub struct ResourceCatalog {
    client: Client,
    cached: Mutex<Option<(Instant, Arc<Vec<Served>>)>>,
}

/// How long a discovery answer is reused.
pub const MAX_AGE: Duration = Duration::from_secs(30);

impl ResourceCatalog {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            cached: Mutex::new(None),
        }
    }

    /// Every served resource in its group's preferred version.
    pub async fn resources(&self) -> anyhow::Result<Arc<Vec<Served>>> {
        let mut cached = self.cached.lock().await;
        if let Some((at, r)) = cached.as_ref()
            && at.elapsed() < MAX_AGE
        {
            return Ok(r.clone());
        }
        let d = match Discovery::new(self.client.clone()).run_aggregated().await {
            Ok(d) => d,
            Err(_) => Discovery::new(self.client.clone()).run().await?,
        };
        let all: Vec<Served> = d
            .groups()
            .flat_map(|g| g.recommended_resources())
            .filter(|(ar, _)| !ar.plural.contains('/'))
            .collect();
        let all = Arc::new(all);
        *cached = Some((Instant::now(), all.clone()));
        Ok(all)
    }

    /// Namespaced resources that can be listed and deleted.
    pub async fn namespaced_deletable(&self) -> anyhow::Result<Vec<Served>> {
        Ok(self
            .resources()
            .await?
            .iter()
            .filter(|(_, c)| {
                c.scope == Scope::Namespaced
                    && c.supports_operation(verbs::LIST)
                    && c.supports_operation(verbs::DELETE)
            })
            .cloned()
            .collect())
    }

    /// The resource serving `api_version`/`kind`, if any.
    pub async fn resolve(&self, api_version: &str, kind: &str) -> anyhow::Result<Option<Served>> {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let all = self.resources().await?;
        if let Some(found) = all
            .iter()
            .find(|(ar, _)| ar.group == group && ar.version == version && ar.kind == kind)
        {
            return Ok(Some(found.clone()));
        }
        // Another version of the same group and kind shares its storage.
        Ok(all
            .iter()
            .find(|(ar, _)| ar.group == group && ar.kind == kind)
            .map(|(ar, c)| {
                let mut ar = ar.clone();
                ar.version = version.to_string();
                ar.api_version = api_version.to_string();
                (ar, c.clone())
            }))
    }
}
