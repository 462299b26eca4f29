//! Leader election through a coordination.k8s.io Lease, with upstream's timings (lease 15 s,
//! renew deadline 10 s, retry every 2 s): when several controller managers run, one holds the
//! Lease and acts; the others wait for it to expire.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::PostParams;
use kube::{Api, Client};
use std::time::{Duration, Instant};

/// How long a Lease stays valid without renewal.
pub const LEASE_DURATION: Duration = Duration::from_secs(15);
/// A leader that could not renew for this long gives up.
pub const RENEW_DEADLINE: Duration = Duration::from_secs(10);
/// How often to try to acquire or renew.
pub const RETRY_PERIOD: Duration = Duration::from_secs(2);

/// Upstream's identity: the host name and a random suffix.
pub fn default_identity() -> String {
    identity_with(&uuid::Uuid::new_v4().to_string())
}

/// The host name and a chosen suffix: a manager that restarts under the same identity takes
/// its own Lease back at once instead of waiting for it to expire.
pub fn identity_with(suffix: &str) -> String {
    let host = hostname::get()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "localhost".into());
    format!("{host}_{suffix}")
}

/// Takes and keeps one Lease.
pub struct LeaderElector {
    api: Api<Lease>,
    name: String,
    identity: String,
}

impl LeaderElector {
    pub fn new(client: Client, namespace: &str, name: &str, identity: String) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: name.to_string(),
            identity,
        }
    }

    /// The identity written into the Lease.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Wait until this process holds the Lease.
    pub async fn acquire(&self) {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => {
                    tracing::info!(lease = %self.name, identity = %self.identity, "acquired the lease");
                    return;
                }
                Ok(false) => {}
                Err(e) => tracing::debug!(error = %e, "acquiring the lease failed"),
            }
            tokio::time::sleep(RETRY_PERIOD).await;
        }
    }

    /// Keep renewing; returns when the Lease could not be renewed within the renew deadline
    /// or another holder took it.
    pub async fn hold(&self) {
        let mut last_renew = Instant::now();
        loop {
            tokio::time::sleep(RETRY_PERIOD).await;
            match self.try_acquire_or_renew().await {
                Ok(true) => last_renew = Instant::now(),
                Ok(false) => {
                    tracing::error!(lease = %self.name, "another holder took the lease");
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "renewing the lease failed");
                    if last_renew.elapsed() > RENEW_DEADLINE {
                        return;
                    }
                }
            }
        }
    }

    /// One attempt: `Ok(true)` when this process holds the Lease afterwards.
    pub async fn try_acquire_or_renew(&self) -> anyhow::Result<bool> {
        let now = MicroTime(jiff::Timestamp::now());
        let current = match self.api.get_opt(&self.name).await? {
            Some(l) => l,
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.name.clone()),
                        ..Default::default()
                    },
                    spec: Some(self.spec(now.clone(), now, 0)),
                };
                return match self.api.create(&PostParams::default(), &lease).await {
                    Ok(_) => Ok(true),
                    Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                    Err(e) => Err(e.into()),
                };
            }
        };
        let spec = current.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let transitions = spec.lease_transitions.unwrap_or(0);
        let next = if holder == self.identity {
            let acquired = spec.acquire_time.clone().unwrap_or_else(|| now.clone());
            self.spec(acquired, now, transitions)
        } else {
            let duration = spec.lease_duration_seconds.unwrap_or(15) as i64;
            let expired = match &spec.renew_time {
                Some(t) => t.0.as_second() + duration < now.0.as_second(),
                None => true,
            };
            if !holder.is_empty() && !expired {
                return Ok(false);
            }
            self.spec(now.clone(), now, transitions + 1)
        };
        let mut lease = current;
        lease.spec = Some(next);
        // The resourceVersion in `lease` makes this a compare-and-swap.
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    fn spec(&self, acquired: MicroTime, renewed: MicroTime, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(LEASE_DURATION.as_secs() as i32),
            acquire_time: Some(acquired),
            renew_time: Some(renewed),
            lease_transitions: Some(transitions),
            ..Default::default()
        }
    }
}
