//! The analyser's one port: TLS (tokio-rustls), then HTTP/1.1 or HTTP/2 on the same
//! connection (hyper-util auto), serving one axum `Router` into which the tonic
//! services are merged. So gRPC from streamers and listeners, and the web UI for
//! browsers, share a single port and a single certificate.
//!
//! A client speaking plaintext to the TLS port is told so (an HTTP/1.1 400 with an
//! explanation), logged, and served nothing. `tls = None` is `--test`: plaintext h2c
//! and HTTP/1.1, announced with a loud warning.
//!
//! This module binds nothing itself (the caller passes a bound listener, so tests use
//! port 0) and never decides on its own to drop TLS.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tonic::transport::server::TcpConnectInfo;
use tower::ServiceExt;

/// A client has this long to start and finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The analyser pings idle clients this often over HTTP/2 ...
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(2);
/// ... and drops a client whose answer takes longer than this, so a streamer that
/// vanished (cable, crash, sleep) is noticed within about 5 s.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(3);
/// On shutdown, open connections get this long to finish their calls.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Flow-control windows large enough that a 1.4 MB volume is not throttled by the
/// default 64 KiB windows on a link with some latency.
const STREAM_WINDOW: u32 = 4 * 1024 * 1024;
const CONNECTION_WINDOW: u32 = 8 * 1024 * 1024;
/// Largest HTTP/2 frame clients may send. With the default 16 KiB a 457 KB volume is
/// cut into 28 frames; 1 MiB frames halve the upload time over TLS on loopback
/// (release, `cargo bench -p dialer`: 457 KB p50 0.67 -> 0.35 ms, 1.4 MB 1.70 -> 0.79 ms).
const MAX_FRAME: u32 = 1 << 20;

/// Connections served at once; further clients wait in the kernel's accept queue, so
/// a flood of idle sockets cannot exhaust the analyser's memory or file descriptors.
pub const MAX_CONNECTIONS: usize = 1024;

/// The first byte of every TLS connection: a handshake record.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Facts about the connection a request arrived on, in the request extensions
/// (tonic: `request.extensions().get::<Peer>()`; axum: `Extension<Peer>`).
#[derive(Debug, Clone)]
pub struct Peer {
    /// The client's address.
    pub addr: SocketAddr,
    /// False only in `--test` mode.
    pub tls: bool,
    /// The client's certificate (leaf), when it presented one (mTLS).
    pub client_cert: Option<CertificateDer<'static>>,
}

/// Serves `app` on `listener` until `shutdown` completes, then asks open connections
/// to finish (HTTP/2 GOAWAY: running calls may complete), waits up to
/// [`SHUTDOWN_GRACE`], and cuts every connection still open (long streams such as a
/// streamer's link would otherwise outlive the server). `tls = None` serves
/// plaintext (`--test` only). Returns only after shutdown, with every connection
/// closed; per-connection errors are logged, never returned.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    app: Router,
    shutdown: impl Future<Output = ()>,
) {
    let local = listener.local_addr().ok();
    if tls.is_none() {
        tracing::warn!(
            addr = ?local,
            "TEST MODE: serving WITHOUT TLS. Passwords and scanner data travel in plaintext. Never use --test on a real network."
        );
    }
    let acceptor = tls.map(TlsAcceptor::from);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // Wait for a free slot before accepting (the semaphore is never closed).
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slot else { break };
        // Forget connections that have ended.
        while connections.try_join_next().is_some() {}
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    let conn = Connection { acceptor: acceptor.clone(), app: app.clone(), local, addr };
                    let watcher = graceful.watcher();
                    connections.spawn(async move {
                        conn.run(stream, watcher).await;
                        drop(slot);
                    });
                }
                Err(e) => {
                    // Usually out of file descriptors: wait a little instead of spinning.
                    tracing::error!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!(open = graceful.count(), "shutting down: no new connections");
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after {SHUTDOWN_GRACE:?}; closing them");
    }
    connections.shutdown().await;
}

/// One accepted TCP connection, before and after TLS.
struct Connection {
    acceptor: Option<TlsAcceptor>,
    app: Router,
    local: Option<SocketAddr>,
    addr: SocketAddr,
}

impl Connection {
    async fn run(self, stream: TcpStream, watcher: Watcher) {
        let _ = stream.set_nodelay(true);
        let Some(acceptor) = self.acceptor.clone() else {
            let peer = Peer {
                addr: self.addr,
                tls: false,
                client_cert: None,
            };
            return self.http(stream, peer, watcher).await;
        };
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, first_byte(&stream)).await {
            Ok(Some(TLS_HANDSHAKE_RECORD)) => {}
            Ok(Some(_)) => return refuse_plaintext(stream, self.addr).await,
            Ok(None) => return, // closed before saying anything (port scan, health check)
            Err(_) => {
                tracing::debug!(peer = %self.addr, "no TLS handshake within {HANDSHAKE_TIMEOUT:?}");
                return;
            }
        }
        let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                tracing::warn!(peer = %self.addr, "TLS handshake failed: {e}");
                return;
            }
            Err(_) => {
                tracing::warn!(peer = %self.addr, "TLS handshake not finished within {HANDSHAKE_TIMEOUT:?}");
                return;
            }
        };
        let client_cert = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|certs| certs.first())
            .map(|c| c.clone().into_owned());
        let peer = Peer {
            addr: self.addr,
            tls: true,
            client_cert,
        };
        self.http(tls, peer, watcher).await
    }

    /// HTTP/1.1 or HTTP/2 (told apart by the client's first bytes) over `io`.
    async fn http<I>(self, io: I, peer: Peer, watcher: Watcher)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let connect_info = TcpConnectInfo {
            local_addr: self.local,
            remote_addr: Some(peer.addr),
        };
        let addr = peer.addr;
        // Every request carries the connection facts, so handlers can log the peer and
        // tonic's `remote_addr()` works as with tonic's own server.
        let service = self.app.map_request(
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(connect_info.clone());
                request.extensions_mut().insert(peer.clone());
                request
            },
        );
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(KEEPALIVE_INTERVAL)
            .keep_alive_timeout(KEEPALIVE_TIMEOUT)
            .initial_stream_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .max_frame_size(MAX_FRAME);
        builder.http1().timer(TokioTimer::new());
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(service))
            .into_owned();
        if let Err(e) = watcher.watch(connection).await {
            tracing::debug!(peer = %addr, "connection ended: {e}");
        }
    }
}

/// The first byte the client sent, without consuming it; None if it closed.
async fn first_byte(stream: &TcpStream) -> Option<u8> {
    let mut byte = [0u8; 1];
    match stream.peek(&mut byte).await {
        Ok(1) => Some(byte[0]),
        _ => None,
    }
}

/// Answers a plaintext client on the TLS port with an explanation and closes.
async fn refuse_plaintext(mut stream: TcpStream, addr: SocketAddr) {
    tracing::warn!(
        peer = %addr,
        "plaintext connection to the TLS port refused: the client must use TLS (https://, or data_streamer/analysis_listener without --test and with --ca certs/ca.crt)"
    );
    let body = "This port speaks TLS only: use https://, or connect without --test and with --ca certs/ca.crt.\n";
    let reply = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        let _ = stream.write_all(reply.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}
