//! A lean HTTPS client for the benchmark: one TLS connection per client, HTTP/2 or keep-alive
//! HTTP/1.1, authenticated with the admin client certificate from the data dir's kubeconfig.
//! Lean on purpose, so the figures measure the server rather than a client library.

use anyhow::{Context, bail};
use base64::Engine;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Which HTTP version a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    H2,
    H1,
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocol::H2 => "HTTP/2",
            Protocol::H1 => "HTTP/1.1",
        })
    }
}

/// Where the server is and how to talk to it.
#[derive(Clone)]
pub struct Target {
    pub addr: SocketAddr,
    tls_h2: Arc<rustls::ClientConfig>,
    tls_h1: Arc<rustls::ClientConfig>,
}

impl Target {
    /// The server at `addr`, trusted and authenticated as the kubeconfig at `path` says.
    pub fn from_kubeconfig(path: &Path, addr: SocketAddr) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let doc: serde_json::Value = serde_norway::from_str(&text).context("kubeconfig YAML")?;
        let field = |v: &serde_json::Value, key: &str| -> anyhow::Result<Vec<u8>> {
            let b64 = v
                .get(key)
                .and_then(|s| s.as_str())
                .with_context(|| format!("kubeconfig has no {key}"))?;
            Ok(base64::engine::general_purpose::STANDARD.decode(b64)?)
        };
        let cluster = &doc["clusters"][0]["cluster"];
        let user = &doc["users"][0]["user"];
        let ca = field(cluster, "certificate-authority-data")?;
        let cert = field(user, "client-certificate-data")?;
        let key = field(user, "client-key-data")?;

        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut ca.as_slice()) {
            roots.add(c?)?;
        }
        let chain: Vec<CertificateDer<'static>> =
            rustls_pemfile::certs(&mut cert.as_slice()).collect::<Result<_, _>>()?;
        let key: PrivateKeyDer<'static> =
            rustls_pemfile::private_key(&mut key.as_slice())?.context("no client key")?;
        let base = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)?;
        let mut h2 = base.clone();
        h2.alpn_protocols = vec![b"h2".to_vec()];
        let mut h1 = base;
        h1.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            addr,
            tls_h2: Arc::new(h2),
            tls_h1: Arc::new(h1),
        })
    }

    /// Open one connection.
    pub async fn connect(&self, protocol: Protocol) -> anyhow::Result<Conn> {
        let tcp = TcpStream::connect(self.addr).await?;
        tcp.set_nodelay(true)?;
        let config = match protocol {
            Protocol::H2 => self.tls_h2.clone(),
            Protocol::H1 => self.tls_h1.clone(),
        };
        let name = ServerName::IpAddress(self.addr.ip().into());
        let tls = TlsConnector::from(config).connect(name, tcp).await?;
        let io = TokioIo::new(tls);
        let sender = match protocol {
            Protocol::H2 => {
                let (sender, conn) = http2::handshake(TokioExecutor::new(), io).await?;
                tokio::spawn(conn);
                Sender::H2(sender)
            }
            Protocol::H1 => {
                let (sender, conn) = http1::handshake(io).await?;
                tokio::spawn(conn);
                Sender::H1(sender)
            }
        };
        Ok(Conn {
            sender,
            base: format!("https://{}", self.addr),
        })
    }
}

enum Sender {
    H2(http2::SendRequest<Full<Bytes>>),
    H1(http1::SendRequest<Full<Bytes>>),
}

/// One connection to the API server.
pub struct Conn {
    sender: Sender,
    base: String,
}

impl Conn {
    /// Another handle on the same HTTP/2 connection (a new stream per request).
    pub fn share(&self) -> Option<Conn> {
        match &self.sender {
            Sender::H2(s) => Some(Conn {
                sender: Sender::H2(s.clone()),
                base: self.base.clone(),
            }),
            Sender::H1(_) => None,
        }
    }

    /// Send a request and return the response with its body still streaming.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        accept: &str,
        body: Option<Bytes>,
    ) -> anyhow::Result<http::Response<Incoming>> {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path))
            .header(http::header::ACCEPT, accept);
        if body.is_some() {
            req = req.header(http::header::CONTENT_TYPE, "application/json");
        }
        let req = req.body(Full::new(body.unwrap_or_default()))?;
        Ok(match &mut self.sender {
            Sender::H2(s) => {
                s.ready().await?;
                s.send_request(req).await?
            }
            Sender::H1(s) => {
                s.ready().await?;
                s.send_request(req).await?
            }
        })
    }

    /// Send a request and read the whole answer.
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        self.call_accept(method, path, "application/json", body)
            .await
    }

    /// [`Conn::call`] with a chosen `Accept` header (for `as=Table`).
    pub async fn call_accept(
        &mut self,
        method: Method,
        path: &str,
        accept: &str,
        body: Option<Bytes>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let resp = self.send(method, path, accept, body).await?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        Ok((status, bytes))
    }

    /// A call that must answer `want`.
    pub async fn expect(
        &mut self,
        want: StatusCode,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> anyhow::Result<Bytes> {
        let (status, bytes) = self.call(method.clone(), path, body).await?;
        if status != want {
            bail!(
                "{method} {path}: {status}: {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        Ok(bytes)
    }
}
