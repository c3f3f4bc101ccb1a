//! The analyser's one port: TLS (tokio-rustls), then HTTP/1.1 or HTTP/2 on the same
//! connection (hyper-util auto), serving one axum `Router` into which the tonic
//! services are merged. So gRPC from streamers and listeners, and the web UI for
//! browsers, share a single port and a single certificate.
//!
//! A client speaking plaintext to the TLS port is told so (an HTTP/1.1 400 with an
//! explanation), logged, and served nothing. `tls = None` is `--test`: plaintext h2c
//! and HTTP/1.1, announced with a loud warning.
//!
//! A stranger must not be able to fill the port ([`Limits`]): each address may hold only
//! a few connections that have not logged in, checked before TLS; a connection that has
//! not authenticated within [`Limits::login_deadline`] is closed (also an idle HTTP/2
//! connection that answers pings); and some room is kept for addresses that logged in
//! before, so the streamer and the listener get back in during a flood. A connection
//! counts as authenticated once a request on it carried a valid session token, a login
//! succeeded on it, or it presented a client certificate (see [`Peer::authenticated`]).
//!
//! Every answer carries the security headers ([`SECURITY_HEADERS`], HSTS over TLS), and
//! a path nothing serves is a 404 (a gRPC call to an unknown method still gets gRPC's
//! UNIMPLEMENTED).
//!
//! This module binds nothing itself (the caller passes a bound listener, so tests use
//! port 0) and never decides on its own to drop TLS.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tonic::transport::server::TcpConnectInfo;
use tower::ServiceExt;
use tower_http::set_header::SetResponseHeaderLayer;

/// A client has this long to start and finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
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

/// How many connections the port holds, and for how long strangers may hold them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once (authenticated or not).
    pub max_connections: usize,
    /// Of those, kept for addresses that logged in before (streamer, listener, the
    /// experimenter's browser): strangers never get these.
    pub reserved: usize,
    /// Connections one address may hold while they have not authenticated (an
    /// address that authenticated before is bounded only by the total).
    pub per_address: usize,
    /// A connection that has not authenticated this long after it was accepted is
    /// closed (handshake, login and the first authenticated call must fit in it).
    pub login_deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: MAX_CONNECTIONS,
            reserved: 64,
            per_address: 16,
            login_deadline: Duration::from_secs(10),
        }
    }
}

/// An address that authenticated is let into the reserved room for this long.
const REMEMBER_AUTHENTICATED: Duration = Duration::from_secs(24 * 3600);
/// Addresses remembered as having authenticated, at most.
const MAX_REMEMBERED: usize = 1024;
/// After the login deadline, a connection gets this long to finish its answers.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Headers on every answer of the port (the web pages may set stricter ones).
pub const SECURITY_HEADERS: [(HeaderName, &str); 5] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::CACHE_CONTROL, "no-store"),
];
/// Browsers that saw the analyser over TLS never try plain HTTP for it again.
pub const HSTS: &str = "max-age=31536000";

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
    /// Whether this connection has authenticated; login paths mark it.
    pub authenticated: Authenticated,
}

/// The "has this connection authenticated" mark of one connection. Everything that
/// accepts a credential (session token, login, web cookie, link token) calls
/// [`Authenticated::mark`]; a connection still unmarked at the login deadline is closed.
#[derive(Debug, Clone, Default)]
pub struct Authenticated {
    flag: Arc<AtomicBool>,
    place: Option<Arc<Place>>,
}

impl Authenticated {
    /// This connection authenticated: it may stay, and its address gets the reserved
    /// room from now on.
    pub fn mark(&self) {
        if self.flag.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(place) = &self.place {
            place.give_back();
            place.admission.remember(place.addr);
        }
    }

    /// True once [`Authenticated::mark`] was called.
    pub fn is_marked(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }
}

/// Marks the connection of a request authenticated (no-op outside [`serve`]).
pub fn mark_authenticated(extensions: &axum::http::Extensions) {
    if let Some(peer) = extensions.get::<Peer>() {
        peer.authenticated.mark();
    }
}

/// Who holds the port's connections: unauthenticated ones per address, and the
/// addresses that authenticated lately.
#[derive(Debug, Default)]
struct Admission {
    state: Mutex<AdmissionState>,
}

#[derive(Debug, Default)]
struct AdmissionState {
    /// Open connections not yet authenticated, per address.
    strangers: HashMap<IpAddr, usize>,
    unauthenticated: usize,
    authenticated_at: HashMap<IpAddr, Instant>,
}

impl Admission {
    fn lock(&self) -> std::sync::MutexGuard<'_, AdmissionState> {
        // Counter updates only: a poisoned lock still holds consistent numbers.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes an unauthenticated place for `addr`, or says why not.
    fn admit(&self, addr: IpAddr, limits: &Limits) -> Result<(), &'static str> {
        let mut state = self.lock();
        let known = state
            .authenticated_at
            .get(&addr)
            .is_some_and(|t| t.elapsed() < REMEMBER_AUTHENTICATED);
        let mine = state.strangers.get(&addr).copied().unwrap_or(0);
        // An address that logged in before is bounded only by the total.
        if mine >= limits.per_address && !known {
            return Err("too many unauthenticated connections from this address");
        }
        let shared = limits.max_connections.saturating_sub(limits.reserved);
        if state.unauthenticated >= shared && !known {
            return Err("no room for unauthenticated connections");
        }
        *state.strangers.entry(addr).or_default() += 1;
        state.unauthenticated += 1;
        Ok(())
    }

    /// Gives back the unauthenticated place of `addr` (authenticated or closed).
    fn release(&self, addr: IpAddr) {
        let mut state = self.lock();
        if let Some(n) = state.strangers.get_mut(&addr) {
            *n -= 1;
            if *n == 0 {
                state.strangers.remove(&addr);
            }
            state.unauthenticated = state.unauthenticated.saturating_sub(1);
        }
    }

    fn remember(&self, addr: IpAddr) {
        let mut state = self.lock();
        if state.authenticated_at.len() >= MAX_REMEMBERED
            && !state.authenticated_at.contains_key(&addr)
        {
            if let Some(oldest) = state
                .authenticated_at
                .iter()
                .min_by_key(|(_, t)| **t)
                .map(|(a, _)| *a)
            {
                state.authenticated_at.remove(&oldest);
            }
        }
        state.authenticated_at.insert(addr, Instant::now());
    }
}

/// The unauthenticated place of one connection: given back when the connection
/// authenticates or ends, whichever comes first.
#[derive(Debug)]
struct Place {
    addr: IpAddr,
    admission: Arc<Admission>,
    held: AtomicBool,
}

impl Place {
    fn give_back(&self) {
        if self.held.swap(false, Ordering::AcqRel) {
            self.admission.release(self.addr);
        }
    }
}

/// Gives the place back when the connection's task ends, however it ends.
struct PlaceGuard(Arc<Place>);

impl Drop for PlaceGuard {
    fn drop(&mut self) {
        self.0.give_back();
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then asks open connections
/// to finish (HTTP/2 GOAWAY: running calls may complete), waits up to
/// [`SHUTDOWN_GRACE`], and cuts every connection still open (long streams such as a
/// streamer's link would otherwise outlive the server). `tls = None` serves
/// plaintext (`--test` only). Returns only after shutdown, with every connection
/// closed; per-connection errors are logged, never returned. Uses [`Limits::default`].
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    app: Router,
    shutdown: impl Future<Output = ()>,
) {
    serve_with(listener, tls, app, Limits::default(), shutdown).await
}

/// [`serve`] with explicit connection [`Limits`].
pub async fn serve_with(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let local = listener.local_addr().ok();
    if tls.is_none() {
        tracing::warn!(
            addr = ?local,
            "TEST MODE: serving WITHOUT TLS. Passwords and scanner data travel in plaintext. Never use --test on a real network."
        );
    }
    let app = with_headers(app, tls.is_some());
    let acceptor = tls.map(TlsAcceptor::from);
    let (stop, stopping) = watch::channel(false);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let admission = Arc::new(Admission::default());
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
                    // Before TLS: a stranger's connections cost us nothing more than this.
                    if let Err(why) = admission.admit(addr.ip(), &limits) {
                        tracing::debug!(peer = %addr, "connection refused: {why}");
                        drop(stream);
                        continue;
                    }
                    let place = Arc::new(Place {
                        addr: addr.ip(),
                        admission: admission.clone(),
                        held: AtomicBool::new(true),
                    });
                    let conn = Connection {
                        acceptor: acceptor.clone(),
                        app: app.clone(),
                        local,
                        addr,
                        deadline: tokio::time::Instant::now() + limits.login_deadline,
                        authenticated: Authenticated {
                            flag: Arc::default(),
                            place: Some(place.clone()),
                        },
                    };
                    let stopping = stopping.clone();
                    connections.spawn(async move {
                        let _place = PlaceGuard(place);
                        conn.run(stream, stopping).await;
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
    tracing::info!(
        open = connections.len(),
        "shutting down: no new connections"
    );
    let _ = stop.send(true);
    let finished = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, finished)
        .await
        .is_err()
    {
        tracing::warn!("connections still open after {SHUTDOWN_GRACE:?}; closing them");
    }
    connections.shutdown().await;
}

/// The security headers on every answer, HSTS over TLS, and 404 for unknown paths.
fn with_headers(app: Router, tls: bool) -> Router {
    let mut app = app.fallback(not_found);
    for (name, value) in SECURITY_HEADERS {
        app = app.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ));
    }
    if tls {
        app = app.layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        ));
    }
    app
}

/// Unknown paths: gRPC clients get UNIMPLEMENTED (as gRPC defines), others a 404.
async fn not_found(request: axum::extract::Request) -> axum::response::Response {
    let grpc = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if grpc {
        return tonic::Status::unimplemented(format!("no such method {}", request.uri().path()))
            .into_http::<axum::body::Body>()
            .into_response();
    }
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

/// One accepted TCP connection, before and after TLS.
struct Connection {
    acceptor: Option<TlsAcceptor>,
    app: Router,
    local: Option<SocketAddr>,
    addr: SocketAddr,
    /// Closed at this instant unless it authenticated by then.
    deadline: tokio::time::Instant,
    authenticated: Authenticated,
}

impl Connection {
    async fn run(self, stream: TcpStream, stopping: watch::Receiver<bool>) {
        let _ = stream.set_nodelay(true);
        let Some(acceptor) = self.acceptor.clone() else {
            let peer = Peer {
                addr: self.addr,
                tls: false,
                client_cert: None,
                authenticated: self.authenticated.clone(),
            };
            return self.http(stream, peer, stopping).await;
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
        if client_cert.is_some() {
            // rustls checked it against our CA: as good as a login.
            self.authenticated.mark();
        }
        let peer = Peer {
            addr: self.addr,
            tls: true,
            client_cert,
            authenticated: self.authenticated.clone(),
        };
        self.http(tls, peer, stopping).await
    }

    /// HTTP/1.1 or HTTP/2 (told apart by the client's first bytes) over `io`, until
    /// the client leaves, the server stops, or the login deadline passes unauthenticated.
    async fn http<I>(self, io: I, peer: Peer, mut stopping: watch::Receiver<bool>)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let connect_info = TcpConnectInfo {
            local_addr: self.local,
            remote_addr: Some(peer.addr),
        };
        let addr = peer.addr;
        let authenticated = peer.authenticated.clone();
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
            .serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(service));
        tokio::pin!(connection);
        let deadline = tokio::time::sleep_until(self.deadline);
        tokio::pin!(deadline);
        let mut closing: Option<&'static str> = None;
        loop {
            tokio::select! {
                ended = connection.as_mut() => {
                    if let Err(e) = ended {
                        tracing::debug!(peer = %addr, "connection ended: {e}");
                    }
                    return;
                }
                () = &mut deadline => match closing {
                    Some(why) => {
                        tracing::debug!(peer = %addr, "{why}: connection cut");
                        return;
                    }
                    None if authenticated.is_marked() => {
                        // Far future: the arm stays pending without a second branch.
                        deadline.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(365 * 24 * 3600));
                    }
                    None => {
                        tracing::info!(peer = %addr, "closing a connection that did not authenticate within the login deadline");
                        connection.as_mut().graceful_shutdown();
                        closing = Some("not authenticated");
                        deadline.as_mut().reset(tokio::time::Instant::now() + CLOSE_GRACE);
                    }
                },
                changed = stopping.changed(), if closing.is_none() => {
                    if changed.is_err() || *stopping.borrow() {
                        connection.as_mut().graceful_shutdown();
                        closing = Some("server shutting down");
                        deadline.as_mut().reset(tokio::time::Instant::now() + SHUTDOWN_GRACE);
                    }
                }
            }
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
