//! `componentstatuses` (core v1, deprecated since v1.19 but still served): the health of the
//! scheduler, the controller manager and the store, probed on every request as upstream does.
//! Nothing is stored; GET and LIST build the objects, other verbs are refused.
//!
//! Upstream probes `https://127.0.0.1:10259/healthz` (scheduler) and `:10257` (controller manager)
//! and asks etcd. Here the scheduler and controller manager usually run inside this process: the
//! binary registers an in-process check for each ([`Components::register`]). A component with no
//! running in-process check is probed at upstream's address, so a disabled one is reported as
//! upstream reports an unreachable one (`Unknown`, with the dial error). The store is healthy when
//! a read of it succeeds.

use crate::handler::{Api, ApiRequest};
use crate::http::json;
use axum::response::Response;
use rkube_machinery::selector::{FieldSelector, LabelSelector};
use rkube_machinery::{ApiError, StatusReason};
use rkube_registry::printers;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The warning upstream attaches to every request for the resource.
pub const DEPRECATION_WARNING: &str = "v1 ComponentStatus is deprecated in v1.19+";

/// Upstream's probe timeout.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// The components upstream reports besides the store, and where upstream probes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Component {
    Scheduler,
    ControllerManager,
}

impl Component {
    /// The object's name.
    pub fn name(self) -> &'static str {
        match self {
            Component::Scheduler => "scheduler",
            Component::ControllerManager => "controller-manager",
        }
    }

    /// Upstream's default secure port of the component (kube-scheduler, kube-controller-manager).
    fn port(self) -> u16 {
        match self {
            Component::Scheduler => 10259,
            Component::ControllerManager => 10257,
        }
    }
}

/// The object name of the store's entry (upstream numbers its etcd servers from 0).
const STORE_NAME: &str = "etcd-0";

/// The reported order: scheduler, controller manager, store.
const NAMES: [&str; 3] = ["scheduler", "controller-manager", STORE_NAME];

type Check = Arc<dyn Fn() -> bool + Send + Sync>;

/// The in-process components' health checks, registered by whoever starts them.
#[derive(Default)]
pub struct Components {
    checks: RwLock<BTreeMap<Component, Check>>,
}

impl Components {
    /// Report `component` as running in this process while `running()` says so; once it says
    /// no, the component is probed at upstream's address like an external one.
    pub fn register(
        &self,
        component: Component,
        running: impl Fn() -> bool + Send + Sync + 'static,
    ) {
        self.checks
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(component, Arc::new(running));
    }

    fn running_in_process(&self, component: Component) -> bool {
        let check = self
            .checks
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&component)
            .cloned();
        check.is_some_and(|running| running())
    }
}

/// The outcome of one probe, as upstream's probe results map to a condition status.
#[derive(Debug, Clone, PartialEq)]
enum Probe {
    /// `True`, with the component's answer.
    Success(String),
    /// `False`, with the answer (if any) and what went wrong.
    Failure(String, String),
    /// `Unknown`: the component could not be asked.
    Unknown(String),
}

/// The `ComponentStatus` object of one component.
fn object(name: &str, probe: &Probe) -> Value {
    let (status, message, error) = match probe {
        Probe::Success(m) => ("True", m.as_str(), ""),
        Probe::Failure(m, e) => ("False", m.as_str(), e.as_str()),
        Probe::Unknown(e) => ("Unknown", "", e.as_str()),
    };
    let mut condition = json!({"type": "Healthy", "status": status});
    if !message.is_empty() {
        condition["message"] = json!(message);
    }
    if !error.is_empty() {
        condition["error"] = json!(error);
    }
    json!({
        "kind": "ComponentStatus",
        "apiVersion": "v1",
        "metadata": {"name": name, "creationTimestamp": null},
        "conditions": [condition],
    })
}

/// Answer a request for `componentstatuses`: GET and LIST probe, every other verb is refused as
/// upstream refuses a method it has no route for.
pub async fn handle(components: &Components, api: &Api, req: ApiRequest) -> Response {
    // Upstream's routes (GET of the list and of one object) carry the deprecation warning,
    // whatever they answer; a method without a route is refused before any of them.
    let result = match (req.info.verb.as_str(), req.info.name.as_deref()) {
        ("get", Some(name)) => get(components, api, &req, name).await,
        ("list", None) => list(components, api, &req).await,
        ("watch", _) => Err(ApiError::method_not_supported(&req.gr(), "watch")),
        _ => return crate::http::error(&method_not_allowed()),
    };
    with_deprecation_warning(result.unwrap_or_else(|e| crate::http::error(&e)))
}

/// What upstream answers for a method without a route on the path (its generic 405).
fn method_not_allowed() -> ApiError {
    ApiError::new(
        405,
        StatusReason::MethodNotAllowed,
        "the server does not allow this method on the requested resource",
    )
}

fn with_deprecation_warning(mut resp: Response) -> Response {
    let text = format!("299 - \"{DEPRECATION_WARNING}\"");
    if let Ok(v) = http::HeaderValue::from_str(&text) {
        resp.headers_mut().append("Warning", v);
    }
    resp
}

async fn get(
    components: &Components,
    api: &Api,
    req: &ApiRequest,
    name: &str,
) -> Result<Response, ApiError> {
    if !NAMES.contains(&name) {
        // Upstream's REST returns a plain error here, which becomes a reason-less 500.
        return Err(ApiError::new(
            500,
            StatusReason::Unknown,
            format!("Component not found: {name}"),
        ));
    }
    let obj = object(name, &probe(components, api, name).await);
    if crate::table::wants_table(&req.headers) {
        return Ok(json(200, &table(req, std::slice::from_ref(&obj))));
    }
    Ok(json(200, &obj))
}

async fn list(components: &Components, api: &Api, req: &ApiRequest) -> Result<Response, ApiError> {
    let labels = match req.query.get("labelSelector") {
        Some(s) if !s.is_empty() => Some(LabelSelector::parse(s).map_err(ApiError::bad_request)?),
        _ => None,
    };
    let fields = match req.query.get("fieldSelector") {
        Some(s) if !s.is_empty() => Some(FieldSelector::parse(s).map_err(ApiError::bad_request)?),
        _ => None,
    };
    // Only the metadata fields select, as for every resource without field conversions.
    for r in fields.iter().flat_map(|f| &f.requirements) {
        if r.field != "metadata.name" && r.field != "metadata.namespace" {
            return Err(ApiError::bad_request(format!(
                "{:?} is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                r.field
            )));
        }
    }
    let (scheduler, controllers, store) = tokio::join!(
        probe(components, api, NAMES[0]),
        probe(components, api, NAMES[1]),
        probe(components, api, NAMES[2]),
    );
    // The objects carry no labels, and only metadata.name is a field, as upstream filters them.
    let no_labels = BTreeMap::new();
    let items: Vec<Value> = NAMES
        .iter()
        .zip([scheduler, controllers, store])
        .filter(|_| labels.as_ref().is_none_or(|l| l.matches(&no_labels)))
        .filter(|(name, _)| {
            fields.as_ref().is_none_or(|f| {
                f.matches(|field| match field {
                    "metadata.name" => Some(name.to_string()),
                    "metadata.namespace" => Some(String::new()),
                    _ => None,
                })
            })
        })
        .map(|(name, probe)| object(name, &probe))
        .collect();
    if crate::table::wants_table(&req.headers) {
        return Ok(json(200, &table(req, &items)));
    }
    Ok(json(
        200,
        &json!({"kind": "ComponentStatusList", "apiVersion": "v1", "metadata": {}, "items": items}),
    ))
}

/// Upstream's Table of component statuses (NAME, STATUS, MESSAGE, ERROR); the list has no
/// resourceVersion, so neither has the Table.
fn table(req: &ApiRequest, objs: &[Value]) -> Value {
    let include = req.query.get("includeObject").unwrap_or("Metadata");
    let columns: Vec<Value> = printers::columns(req.resource)
        .iter()
        .map(printers::Column::definition)
        .collect();
    let rows: Vec<Value> = objs
        .iter()
        .map(|o| {
            let object = match include {
                "Object" => o.clone(),
                "None" => Value::Null,
                _ => json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"].clone()}),
            };
            json!({"cells": printers::cells(req.resource, o), "object": object})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}, "columnDefinitions": columns, "rows": rows})
}

async fn probe(components: &Components, api: &Api, name: &str) -> Probe {
    let component = match name {
        "scheduler" => Component::Scheduler,
        "controller-manager" => Component::ControllerManager,
        _ => return probe_store(api).await,
    };
    if components.running_in_process(component) {
        // What the component's own /healthz answers while it runs.
        return Probe::Success("ok".into());
    }
    probe_https(component.port()).await
}

/// The store is healthy when a read of it succeeds (upstream asks etcd the same way).
async fn probe_store(api: &Api) -> Probe {
    match tokio::time::timeout(PROBE_TIMEOUT, api.store.store.current_revision()).await {
        Ok(Ok(_)) => Probe::Success("ok".into()),
        Ok(Err(e)) => Probe::Failure(String::new(), format!("{e:#}")),
        Err(_) => Probe::Failure(String::new(), "context deadline exceeded".into()),
    }
}

/// Upstream's HTTPS probe of `https://127.0.0.1:<port>/healthz` (certificate not verified):
/// 2xx/3xx is success with the body as message; an unreachable component is `Unknown` with the
/// error as Go's HTTP client words it.
async fn probe_https(port: u16) -> Probe {
    let addr = format!("127.0.0.1:{port}");
    let url = format!("https://{addr}/healthz");
    match tokio::time::timeout(PROBE_TIMEOUT, fetch_healthz(&addr)).await {
        Ok(Ok((code, body))) if (200..400).contains(&code) => Probe::Success(body),
        Ok(Ok((code, _))) => Probe::Failure(
            format!("HTTP probe failed with statuscode: {code}"),
            String::new(),
        ),
        Ok(Err(e)) => Probe::Unknown(format!("Get \"{url}\": {e}")),
        Err(_) => Probe::Unknown(format!(
            "Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        )),
    }
}

/// GET /healthz over TLS without verifying the certificate, as upstream's probe does; the status
/// code and body of the answer.
async fn fetch_healthz(addr: &str) -> Result<(u16, String), String> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| dial_error(addr, &e))?;
    let config = rustls::ClientConfig::builder()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(insecure::AcceptAnyCertificate::new()))
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let server_name = rustls::pki_types::ServerName::try_from("127.0.0.1")
        .map_err(|e| e.to_string())?
        .to_owned();
    let mut tls = connector
        .connect(server_name, tcp)
        .await
        .map_err(|e| format!("remote error: tls: {e}"))?;
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: kube-probe/1.33\r\nConnection: close\r\n\r\n"
    );
    tls.write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    tls.read_to_end(&mut raw).await.map_err(|e| e.to_string())?;
    parse_response(&raw).ok_or_else(|| "malformed HTTP response".to_string())
}

/// Go's `net.Dial` wording of a failed connection.
fn dial_error(addr: &str, e: &std::io::Error) -> String {
    let why = match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connect: connection refused".to_string(),
        _ => e.to_string(),
    };
    format!("dial tcp {addr}: {why}")
}

/// The status code and body of an HTTP/1.1 answer (plain or chunked).
fn parse_response(raw: &[u8]) -> Option<(u16, String)> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = head
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.contains("chunked"));
    if !chunked {
        return Some((code, body.to_string()));
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).ok()?;
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    Some((code, out))
}

/// The certificate check upstream's probe skips (`InsecureSkipVerify`).
mod insecure {
    use rustls::DigitallySignedStruct;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

    #[derive(Debug)]
    pub struct AcceptAnyCertificate(rustls::crypto::WebPkiSupportedAlgorithms);

    impl AcceptAnyCertificate {
        pub fn new() -> Self {
            Self(rustls::crypto::ring::default_provider().signature_verification_algorithms)
        }
    }

    impl ServerCertVerifier for AcceptAnyCertificate {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.supported_schemes()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_carry_one_healthy_condition() {
        let ok = object("scheduler", &Probe::Success("ok".into()));
        assert_eq!(
            ok,
            json!({"kind": "ComponentStatus", "apiVersion": "v1",
                "metadata": {"name": "scheduler", "creationTimestamp": null},
                "conditions": [{"type": "Healthy", "status": "True", "message": "ok"}]})
        );
        let down = object("scheduler", &Probe::Unknown("dial".into()));
        assert_eq!(
            down["conditions"],
            json!([{"type": "Healthy", "status": "Unknown", "error": "dial"}])
        );
    }

    #[test]
    fn http_answers_are_read_plain_and_chunked() {
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
            Some((200, "ok".into()))
        );
        assert_eq!(
            parse_response(
                b"HTTP/1.1 500 Internal\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nno\r\n0\r\n\r\n"
            ),
            Some((500, "no".into()))
        );
    }

    #[tokio::test]
    async fn nothing_listening_is_unknown_with_gos_dial_error() {
        // A port that was just free: bind, learn it, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert_eq!(
            probe_https(port).await,
            Probe::Unknown(format!(
                "Get \"https://127.0.0.1:{port}/healthz\": dial tcp 127.0.0.1:{port}: connect: connection refused"
            ))
        );
    }
}
