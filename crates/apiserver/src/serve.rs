//! The HTTPS listener: accepts TCP connections, performs the TLS handshake of each in a task of
//! its own, serves HTTP/1.1 and HTTP/2 with an axum `Router`, and tells every request who is on
//! the other end of the connection.
//!
//! Handlers find the connection's details as an `Arc<ConnInfo>` request extension
//! (`axum::Extension<Arc<ConnInfo>>`): the peer address and, when the client presented a
//! certificate that chains to the cluster CA, the user it names.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls::pki_types::CertificateDer;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::authn::UserInfo;

/// What the server knows about a connection before looking at any request on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnInfo {
    /// The client's address, for logs, audit and `SelfSubjectReview`-style answers.
    pub remote: SocketAddr,
    /// The user named by the verified client certificate (CN → name, O → groups), if the
    /// client presented one. The TLS layer has already checked it against the cluster CA.
    pub client_user: Option<UserInfo>,
}

/// Tunables of [`serve_with_options`]. The defaults suit a real server; tests shorten them.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// How long a client may take to complete the TLS handshake before it is dropped, so
    /// stalled or malicious clients cannot hold connections forever.
    pub handshake_timeout: Duration,
    /// After shutdown is requested, how long in-flight requests may run before their
    /// connections are closed. Watches never finish on their own, so this bounds shutdown.
    pub grace: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            handshake_timeout: Duration::from_secs(10),
            grace: Duration::from_secs(5),
        }
    }
}

/// Serves `app` over TLS on `listener` until `shutdown` completes, with default
/// [`ServeOptions`]. See [`serve_with_options`].
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with_options(listener, tls, app, shutdown, ServeOptions::default()).await
}

/// Serves `app` over TLS on `listener` until `shutdown` completes.
///
/// Each accepted connection gets its own task: the TLS handshake (bounded by
/// `handshake_timeout`), then HTTP/1.1 or HTTP/2 (whichever the client speaks; ALPN offers
/// both) with upgrades enabled for exec/attach/port-forward. Every request carries an
/// `Arc<ConnInfo>` extension.
///
/// When `shutdown` completes the listener is closed at once, every connection is asked to
/// finish gracefully (HTTP/2 GOAWAY, HTTP/1 close after the current response), and whatever
/// still runs after `grace` is dropped. Dropping the returned future drops all connections.
pub async fn serve_with_options(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: ServeOptions,
) -> anyhow::Result<()> {
    let acceptor = TlsAcceptor::from(tls);
    let builder = http_builder();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let local = listener.local_addr().ok();
    tracing::debug!(?local, "serving HTTPS");

    loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            Some(done) = conns.join_next(), if !conns.is_empty() => log_task_end(done),
            accepted = listener.accept() => match accepted {
                Ok((tcp, remote)) => {
                    conns.spawn(handle_connection(
                        acceptor.clone(),
                        builder.clone(),
                        tcp,
                        remote,
                        app.clone(),
                        stop_rx.clone(),
                        options.handshake_timeout,
                    ));
                }
                Err(e) => {
                    if !is_per_connection_error(&e) {
                        // Out of file descriptors or similar: back off instead of spinning.
                        tracing::warn!("accepting a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            },
        }
    }

    drop(listener);
    tracing::debug!(
        ?local,
        open = conns.len(),
        "shutting down the HTTPS listener"
    );
    let _ = stop_tx.send(true);
    let deadline = tokio::time::sleep(options.grace);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => {
                if !conns.is_empty() {
                    tracing::debug!(open = conns.len(), "grace period over, closing connections");
                }
                break;
            }
            next = conns.join_next() => match next {
                Some(done) => log_task_end(done),
                None => break,
            },
        }
    }
    conns.shutdown().await;
    Ok(())
}

/// One HTTP builder shared by all connections: HTTP/1.1 with upgrades and HTTP/2, with timers
/// so idle header reads time out and dead HTTP/2 peers are detected by pings.
fn http_builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30));
    builder
        .http2()
        .timer(TokioTimer::new())
        // Upstream's apiserver allows 250 concurrent streams per connection by default.
        .max_concurrent_streams(250)
        .keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(20));
    builder
}

async fn handle_connection(
    acceptor: TlsAcceptor,
    builder: auto::Builder<TokioExecutor>,
    tcp: TcpStream,
    remote: SocketAddr,
    app: axum::Router,
    mut stop: watch::Receiver<bool>,
    handshake_timeout: Duration,
) {
    let _ = tcp.set_nodelay(true);
    let handshake = tokio::time::timeout(handshake_timeout, acceptor.accept(tcp));
    let tls = tokio::select! {
        r = handshake => match r {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::debug!(%remote, "TLS handshake failed: {e}");
                return;
            }
            Err(_) => {
                tracing::debug!(%remote, "TLS handshake timed out");
                return;
            }
        },
        _ = stop.wait_for(|s| *s) => return,
    };

    let client_user = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(user_from_certificate);
    let info = Arc::new(ConnInfo {
        remote,
        client_user,
    });

    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(info.clone());
        app.clone().oneshot(req)
    });
    let io = crate::write_behind::WriteBehind::new(tls);
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(%remote, "connection ended: {e}");
            }
            return;
        }
        _ = stop.wait_for(|s| *s) => conn.as_mut().graceful_shutdown(),
    }
    if let Err(e) = conn.await {
        tracing::debug!(%remote, "connection ended during shutdown: {e}");
    }
}

/// The user a verified client certificate names, as upstream's x509 authenticator reads it:
/// CN is the user name (a certificate without one authenticates nobody), each O a group.
pub fn user_from_certificate(der: &CertificateDer<'_>) -> Option<UserInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let (cn, groups) = crate::pki::subject_identity(&cert);
    let name = cn.filter(|cn| !cn.is_empty())?;
    Some(UserInfo {
        name,
        groups,
        ..Default::default()
    })
}

/// Accept errors that concern only the connection being accepted, not the listener.
fn is_per_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock
    )
}

fn log_task_end(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done
        && e.is_panic()
    {
        tracing::error!("a connection task panicked: {e}");
    }
}
