//! Service cluster IPs and node ports.
//!
//! Cluster IPs come from `--service-cidr` (default 10.96.0.0/12); the first address belongs to
//! the `kubernetes` Service. Allocation looks at the Services in the watch cache plus addresses
//! handed out but not yet visible there, under one lock, so concurrent creates never collide.

use crate::handler::{Api, ApiRequest};
use crate::object;
use axum::response::Response;
use rkube_machinery::{ApiError, ErrorList, FieldError, FieldPath};
use serde_json::Value;
use std::collections::HashSet;
use std::net::Ipv4Addr;
use tokio::sync::Mutex;

mod update;
pub use update::allocate_on_update;

/// The node port range (upstream's `--service-node-port-range` default).
pub const NODE_PORTS: std::ops::RangeInclusive<u16> = 30000..=32767;

/// An IPv4 CIDR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub base: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        let (ip, len) = s
            .split_once('/')
            .ok_or_else(|| anyhow::anyhow!("{s:?} is not a CIDR (want a.b.c.d/n)"))?;
        let ip: Ipv4Addr = ip.parse().map_err(|e| anyhow::anyhow!("{s:?}: {e}"))?;
        let prefix: u8 = len.parse().map_err(|e| anyhow::anyhow!("{s:?}: {e}"))?;
        anyhow::ensure!(prefix <= 30, "{s:?}: the range is too small for services");
        let mask = u32::MAX.checked_shl(32 - prefix as u32).unwrap_or(0);
        Ok(Self {
            base: Ipv4Addr::from(u32::from(ip) & mask),
            prefix,
        })
    }

    pub fn size(&self) -> u32 {
        1u32 << (32 - self.prefix as u32)
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = u32::MAX.checked_shl(32 - self.prefix as u32).unwrap_or(0);
        u32::from(ip) & mask == u32::from(self.base)
    }

    /// The n-th address of the range.
    pub fn nth(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base) + n)
    }
}

/// Hands out cluster IPs and node ports.
pub struct ServiceAllocator {
    pub cidr: Cidr,
    lock: Mutex<()>,
}

impl ServiceAllocator {
    pub fn new(cidr: Cidr) -> Self {
        Self {
            cidr,
            lock: Mutex::new(()),
        }
    }

    /// Hold the allocation lock (while an update may hand out node ports).
    pub async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.lock.lock().await
    }

    /// The `kubernetes` Service's address: the first of the range.
    pub fn api_service_ip(&self) -> Ipv4Addr {
        self.cidr.nth(1)
    }
}

fn used(api: &Api) -> (HashSet<Ipv4Addr>, HashSet<u16>) {
    let mut ips = HashSet::new();
    let mut ports = HashSet::new();
    if let Some(info) = rkube_registry::catalog::find("", "v1", "services")
        && let Some(cache) = api.caches.get(info)
    {
        for o in cache.list(&Default::default()).items {
            let Ok(svc) = serde_json::from_slice::<Value>(&o.json) else {
                continue;
            };
            for ip in svc["spec"]["clusterIPs"].as_array().into_iter().flatten() {
                if let Some(ip) = ip.as_str().and_then(|s| s.parse().ok()) {
                    ips.insert(ip);
                }
            }
            for p in svc["spec"]["ports"].as_array().into_iter().flatten() {
                if let Some(np) = p["nodePort"].as_u64() {
                    ports.insert(np as u16);
                }
            }
        }
    }
    (ips, ports)
}

/// A node port nobody has, from a pseudo-random start so ports spread like upstream's.
fn free_node_port(taken: &HashSet<u16>) -> Option<u16> {
    let span = (*NODE_PORTS.end() - *NODE_PORTS.start()) as u32 + 1;
    let start = (uuid::Uuid::new_v4().as_u128() % u128::from(span)) as u32;
    (0..span)
        .map(|k| *NODE_PORTS.start() + ((start + k) % span) as u16)
        .find(|p| !taken.contains(p))
}

fn invalid(
    req: &ApiRequest,
    name: &str,
    field: FieldPath,
    value: impl Into<rkube_machinery::Value>,
    detail: &str,
) -> ApiError {
    let mut errs = ErrorList::new();
    errs.push(FieldError::invalid(field, value, detail));
    ApiError::invalid("Service", req.resource.group, name, &errs)
}

/// Give `svc` the cluster IP it asks for (`spec.clusterIP`), or a free one when it names none
/// (`None` stays headless); `used` are the addresses other Services hold.
fn set_cluster_ip(
    alloc: &ServiceAllocator,
    req: &ApiRequest,
    svc: &mut Value,
    used: &HashSet<Ipv4Addr>,
) -> Result<(), ApiError> {
    let name = object::name(svc).to_string();
    let path = FieldPath::new("spec").child("clusterIPs").index(0);
    let requested = svc["spec"]["clusterIP"].as_str().unwrap_or("").to_string();
    let ip = match requested.as_str() {
        "None" => None,
        "" => {
            let size = alloc.cidr.size();
            // Start at a pseudo-random offset so addresses spread like upstream's.
            let start = (uuid::Uuid::new_v4().as_u128() % u128::from(size.max(4) - 3)) as u32 + 2;
            let found = (0..size - 3)
                .map(|i| alloc.cidr.nth(2 + (start - 2 + i) % (size - 3)))
                .find(|ip| !used.contains(ip));
            match found {
                Some(ip) => Some(ip),
                None => {
                    return Err(ApiError::internal(
                        "failed to allocate a serviceIP: range is full",
                    ));
                }
            }
        }
        s => {
            let ip: Ipv4Addr = s.parse().map_err(|_| {
                invalid(
                    req,
                    &name,
                    path.clone(),
                    s,
                    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                )
            })?;
            if !alloc.cidr.contains(ip) {
                return Err(invalid(
                    req,
                    &name,
                    path,
                    s,
                    &format!(
                        "failed to allocate IP {s}: the provided IP ({s}) is not in the valid range. The range of valid IPs is {}/{}",
                        alloc.cidr.base, alloc.cidr.prefix
                    ),
                ));
            }
            if used.contains(&ip) {
                return Err(invalid(
                    req,
                    &name,
                    path,
                    s,
                    &format!("failed to allocate IP {s}: provided IP is already allocated"),
                ));
            }
            Some(ip)
        }
    };
    let ip_str = ip.map(|i| i.to_string()).unwrap_or_else(|| "None".into());
    svc["spec"]["clusterIP"] = Value::String(ip_str.clone());
    svc["spec"]["clusterIPs"] = Value::from(vec![ip_str]);
    Ok(())
}

/// Create a Service: allocate its cluster IP(s) and node ports, then store it.
pub async fn create_service(
    api: &Api,
    req: &ApiRequest,
    mut svc: Value,
    key: &str,
    dry_run: bool,
    warnings: Vec<String>,
) -> Result<Response, ApiError> {
    let name = object::name(&svc).to_string();
    let gr = req.gr();
    let alloc = &api.services;
    let _guard = alloc.lock.lock().await;
    if api.store.get(key, req.resource, &name).await?.is_some() {
        return Err(ApiError::already_exists(&gr, &name));
    }
    api.caches.sync().await?;
    let (used_ips, used_ports) = used(api);
    let spec_type = svc["spec"]["type"]
        .as_str()
        .unwrap_or("ClusterIP")
        .to_string();
    let path = FieldPath::new("spec");
    if spec_type != "ExternalName" {
        set_cluster_ip(alloc, req, &mut svc, &used_ips)?;
    }
    if spec_type == "NodePort" || spec_type == "LoadBalancer" {
        let mut taken = used_ports.clone();
        if let Some(ports) = svc["spec"]["ports"].as_array_mut() {
            for (i, p) in ports.iter_mut().enumerate() {
                match p["nodePort"].as_u64() {
                    Some(np) if np > 0 => {
                        let np = np as u16;
                        if taken.contains(&np) {
                            return Err(invalid(
                                req,
                                &name,
                                path.child("ports").index(i).child("nodePort"),
                                i64::from(np),
                                "provided port is already allocated",
                            ));
                        }
                        taken.insert(np);
                    }
                    _ => {
                        let Some(np) = free_node_port(&taken) else {
                            return Err(ApiError::internal(
                                "failed to allocate a nodePort: range is full",
                            ));
                        };
                        taken.insert(np);
                        p["nodePort"] = Value::from(np);
                    }
                }
            }
        }
    }
    if dry_run {
        return Ok(crate::handler::create_with_warnings(
            crate::http::json(201, &svc),
            &warnings,
        ));
    }
    let created = api
        .store
        .create(key, svc, None, req.resource, &name)
        .await?;
    Ok(crate::handler::create_with_warnings(
        crate::http::json(201, &created),
        &warnings,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_math() {
        let c = Cidr::parse("10.96.0.0/12").unwrap();
        assert_eq!(c.nth(1), Ipv4Addr::new(10, 96, 0, 1));
        assert_eq!(c.size(), 1 << 20);
        assert!(c.contains(Ipv4Addr::new(10, 111, 255, 254)));
        assert!(!c.contains(Ipv4Addr::new(10, 112, 0, 1)));
    }
}
