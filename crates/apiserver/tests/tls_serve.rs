//! End-to-end checks of the PKI, authentication and the HTTPS listener together: a real TLS
//! server on a loopback port, driven by a minimal HTTP/1.1 client over tokio-rustls, by `curl`
//! (HTTP/2) and by the real `kubectl` with the written admin kubeconfig.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::{HeaderMap, StatusCode};
use rkube_apiserver::authn::{Authenticator, UserInfo};
use rkube_apiserver::pki::{self, Pki, PkiOptions};
use rkube_apiserver::serve::{ConnInfo, ServeOptions, serve_with_options};
use rustls::pki_types::ServerName;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;

async fn whoami(
    Extension(conn): Extension<Arc<ConnInfo>>,
    State(auth): State<Arc<Authenticator>>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = auth.authenticate_request(&conn, &headers) {
        return (StatusCode::UNAUTHORIZED, e.to_string()).into_response();
    }
    let user = auth.authenticate(&conn, &headers);
    Json(json!({
        "user": user.as_ref().map(|u| u.name.clone()),
        "groups": user.map(|u| u.groups).unwrap_or_default(),
        "remote_is_loopback": conn.remote.ip().is_loopback(),
    }))
    .into_response()
}

async fn version() -> Json<Value> {
    Json(json!({
        "major": "1", "minor": "33", "gitVersion": "v1.33.0", "gitCommit": "", "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64"
    }))
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(700)).await;
    "slow done"
}

async fn stream() -> axum::body::Body {
    let s = futures::stream::unfold((), |()| async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Some((
            Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"tick\n")),
            (),
        ))
    });
    axum::body::Body::from_stream(s)
}

struct TestServer {
    addr: SocketAddr,
    pki: Arc<Pki>,
    dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    async fn start(token_file: Option<&str>, options: ServeOptions) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let pki = Arc::new(pki::load_or_create(dir.path(), &PkiOptions::default()).unwrap());
        let token_path = token_file.map(|text| {
            let p = dir.path().join("tokens.csv");
            std::fs::write(&p, text).unwrap();
            p
        });
        let auth = Arc::new(Authenticator::new(token_path.as_deref()).unwrap());
        let app = Router::new()
            .route("/whoami", get(whoami))
            .route("/version", get(version))
            .route("/slow", get(slow))
            .route("/stream", get(stream))
            .with_state(auth);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(serve_with_options(
            listener,
            pki.server_config(),
            app,
            async move {
                let _ = rx.await;
            },
            options,
        ));
        TestServer {
            addr,
            pki,
            dir,
            stop: Some(tx),
            handle: Some(handle),
        }
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    /// Stops the server and returns how long `serve` took to return.
    async fn stop(&mut self) -> Duration {
        let t = Instant::now();
        let _ = self.stop.take().unwrap().send(());
        self.handle.take().unwrap().await.unwrap().unwrap();
        t.elapsed()
    }

    fn client(&self, identity: Option<(&str, &str)>) -> Arc<rustls::ClientConfig> {
        let mut c = (*self.pki.client_config(identity).unwrap()).clone();
        c.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(c)
    }

    fn admin(&self) -> Arc<rustls::ClientConfig> {
        let (cert, key) = self.pki.admin_identity_pem();
        self.client(Some((cert, key)))
    }

    fn write(&self, name: &str, data: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, data).unwrap();
        p
    }
}

/// One HTTP/1.1 GET over TLS with `Connection: close`; returns status and body.
async fn https_get(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    path: &str,
    headers: &[(&str, &str)],
) -> anyhow::Result<(u16, String)> {
    let tcp = TcpStream::connect(addr).await?;
    let mut tls = TlsConnector::from(config)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await?;
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    tls.write_all(req.as_bytes()).await?;
    let mut buf = Vec::new();
    match tls.read_to_end(&mut buf).await {
        Ok(_) => {}
        // Some peers close without close_notify; what was read still counts.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !buf.is_empty() => {}
        Err(e) => return Err(e.into()),
    }
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("no HTTP response: {text:?}"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("bad status line: {head:?}"))?;
    Ok((status, body.to_string()))
}

fn json_body(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test]
async fn admin_certificate_is_admin_in_system_masters() {
    let mut s = TestServer::start(None, ServeOptions::default()).await;
    let (status, body) = https_get(s.addr, s.admin(), "/whoami", &[]).await.unwrap();
    assert_eq!(status, 200, "{body}");
    let v = json_body(&body);
    assert_eq!(v["user"], "admin");
    assert_eq!(
        v["groups"],
        json!(["system:masters", "system:authenticated"])
    );
    assert_eq!(v["remote_is_loopback"], true);
    s.stop().await;
}

#[tokio::test]
async fn issued_certificate_carries_all_groups() {
    let mut s = TestServer::start(None, ServeOptions::default()).await;
    let groups = vec!["system:nodes".to_string(), "team-a".to_string()];
    let (cert, key) = s.pki.issue_client_cert("system:node:n1", &groups).unwrap();
    let (status, body) = https_get(s.addr, s.client(Some((&cert, &key))), "/whoami", &[])
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let v = json_body(&body);
    assert_eq!(v["user"], "system:node:n1");
    assert_eq!(
        v["groups"],
        json!(["system:nodes", "team-a", "system:authenticated"])
    );
    s.stop().await;
}

#[tokio::test]
async fn bearer_tokens_from_the_token_file() {
    let mut s = TestServer::start(
        Some("tok-alice,alice,u-1,\"dev,ops\"\ntok-bob,bob,u-2\n"),
        ServeOptions::default(),
    )
    .await;
    let anon = s.client(None);
    let (status, body) = https_get(
        s.addr,
        anon.clone(),
        "/whoami",
        &[("Authorization", "Bearer tok-alice")],
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let v = json_body(&body);
    assert_eq!(v["user"], "alice");
    assert_eq!(v["groups"], json!(["dev", "ops", "system:authenticated"]));

    let (_, body) = https_get(
        s.addr,
        anon.clone(),
        "/whoami",
        &[("Authorization", "Bearer tok-bob")],
    )
    .await
    .unwrap();
    assert_eq!(json_body(&body)["groups"], json!(["system:authenticated"]));

    let (status, _) = https_get(
        s.addr,
        anon.clone(),
        "/whoami",
        &[("Authorization", "Bearer wrong")],
    )
    .await
    .unwrap();
    assert_eq!(status, 401);
    s.stop().await;
}

#[tokio::test]
async fn no_credentials_means_no_user() {
    let mut s = TestServer::start(None, ServeOptions::default()).await;
    let (status, body) = https_get(s.addr, s.client(None), "/whoami", &[])
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let v = json_body(&body);
    assert_eq!(v["user"], Value::Null);
    assert_eq!(v["groups"], json!([]));
    s.stop().await;
}

#[tokio::test]
async fn certificate_from_another_ca_is_rejected_at_the_handshake() {
    let mut s = TestServer::start(None, ServeOptions::default()).await;
    let other_dir = tempfile::tempdir().unwrap();
    let other = pki::load_or_create(other_dir.path(), &PkiOptions::default()).unwrap();
    let (cert, key) = other
        .issue_client_cert("admin", &["system:masters".into()])
        .unwrap();
    let result = https_get(s.addr, s.client(Some((&cert, &key))), "/whoami", &[]).await;
    let err = result.expect_err("a foreign client certificate must not get a response");
    let text = format!("{err:#}");
    assert!(text.contains("UnknownCA"), "unexpected error: {text}");
    // The server keeps serving others.
    let (status, _) = https_get(s.addr, s.admin(), "/whoami", &[]).await.unwrap();
    assert_eq!(status, 200);
    s.stop().await;
}

#[tokio::test]
async fn server_certificate_is_trusted_only_through_our_ca() {
    let mut s = TestServer::start(None, ServeOptions::default()).await;
    let other_dir = tempfile::tempdir().unwrap();
    let other = pki::load_or_create(other_dir.path(), &PkiOptions::default()).unwrap();
    let mut c = (*other.client_config(None).unwrap()).clone();
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    assert!(
        https_get(s.addr, Arc::new(c), "/whoami", &[])
            .await
            .is_err()
    );
    s.stop().await;
}

#[tokio::test]
async fn stalled_and_garbage_clients_do_not_block_others() {
    let mut s = TestServer::start(
        None,
        ServeOptions {
            handshake_timeout: Duration::from_millis(500),
            grace: Duration::from_secs(1),
        },
    )
    .await;
    // A client that connects and never says anything.
    let mut stalled = TcpStream::connect(s.addr).await.unwrap();
    // A client that speaks plain HTTP to the TLS port.
    let mut garbage = TcpStream::connect(s.addr).await.unwrap();
    garbage
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (status, _) = https_get(s.addr, s.admin(), "/whoami", &[]).await.unwrap();
    assert_eq!(status, 200);
    // The garbage connection is closed by the server.
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), garbage.read(&mut buf))
        .await
        .expect("garbage connection not closed");
    assert!(matches!(n, Ok(_) | Err(_)));
    // The stalled one is dropped once the handshake timeout passes.
    let t = Instant::now();
    let r = tokio::time::timeout(Duration::from_secs(5), stalled.read(&mut buf))
        .await
        .expect("stalled handshake not timed out");
    assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
    assert!(t.elapsed() < Duration::from_secs(3));
    s.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_requests_and_bounds_streams() {
    let mut s = TestServer::start(
        None,
        ServeOptions {
            handshake_timeout: Duration::from_secs(10),
            grace: Duration::from_millis(1500),
        },
    )
    .await;
    let addr = s.addr;
    let slow = tokio::spawn(https_get(addr, s.admin(), "/slow", &[]));
    // A never-ending streaming response, like a watch.
    let admin = s.admin();
    let streaming = tokio::spawn(async move {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut tls = TlsConnector::from(admin)
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        tls.write_all(b"GET /stream HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&got).to_string()
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let took = s.stop().await;
    assert!(
        took < Duration::from_secs(4),
        "shutdown took {took:?} despite a 1.5 s grace period"
    );
    assert!(
        took >= Duration::from_millis(400),
        "shutdown did not wait for /slow: {took:?}"
    );
    let (status, body) = slow.await.unwrap().unwrap();
    assert_eq!((status, body.as_str()), (200, "slow done"));
    let streamed = tokio::time::timeout(Duration::from_secs(5), streaming)
        .await
        .expect("stream not closed after shutdown")
        .unwrap();
    assert!(streamed.contains("tick"), "{streamed}");
    // The listener is closed.
    assert!(TcpStream::connect(addr).await.is_err());
}

fn have(tool: &str) -> bool {
    Path::new(tool).exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_uses_the_admin_kubeconfig() {
    if !have("/usr/bin/kubectl") {
        eprintln!("skipping: no /usr/bin/kubectl");
        return;
    }
    let mut s = TestServer::start(None, ServeOptions::default()).await;
    let kubeconfig = s.dir.path().join("admin.kubeconfig");
    s.pki.write_admin_kubeconfig(&kubeconfig, &s.url()).unwrap();
    let out = tokio::process::Command::new("/usr/bin/kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["get", "--raw", "/whoami"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "kubectl failed: {stderr}\n{stdout}");
    let v = json_body(&stdout);
    assert_eq!(v["user"], "admin", "{stdout}");
    assert_eq!(
        v["groups"],
        json!(["system:masters", "system:authenticated"])
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_speaks_http2_with_the_admin_certificate() {
    if !have("/usr/bin/curl") {
        eprintln!("skipping: no curl");
        return;
    }
    let mut s = TestServer::start(None, ServeOptions::default()).await;
    let ca = s.write("ca.pem", s.pki.ca_cert_pem());
    let (cert, key) = s.pki.admin_identity_pem();
    let cert = s.write("admin.pem", cert);
    let key = s.write("admin-key.pem", key);
    let out = tokio::process::Command::new("/usr/bin/curl")
        .args(["-sS", "--http2", "--cacert"])
        .arg(&ca)
        .arg("--cert")
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .args(["-w", "\nhttp_version=%{http_version}"])
        .arg(format!("https://localhost:{}/whoami", s.addr.port()))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (body, version) = stdout.rsplit_once('\n').unwrap();
    assert_eq!(version, "http_version=2");
    assert_eq!(json_body(body)["user"], "admin");
    s.stop().await;
}

#[tokio::test]
async fn minted_tokens_work_while_serving() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Arc::new(pki::load_or_create(dir.path(), &PkiOptions::default()).unwrap());
    let auth = Arc::new(Authenticator::new(None).unwrap());
    let app = Router::new()
        .route("/whoami", get(whoami))
        .with_state(auth.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(rkube_apiserver::serve::serve(
        listener,
        pki.server_config(),
        app,
        async move {
            let _ = rx.await;
        },
    ));
    auth.add_token(
        "node-token",
        UserInfo::new("system:node:n1", ["system:nodes"]),
    );
    let mut c = (*pki.client_config(None).unwrap()).clone();
    c.alpn_protocols = vec![b"http/1.1".to_vec()];
    let (status, body) = https_get(
        addr,
        Arc::new(c),
        "/whoami",
        &[("Authorization", "Bearer node-token")],
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(json_body(&body)["user"], "system:node:n1");
    tx.send(()).unwrap();
    handle.await.unwrap().unwrap();
}
