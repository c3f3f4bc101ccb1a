//! The one TLS port: HTTP/1.1 for browsers next to gRPC, connection facts for
//! handlers, shutdown. (gRPC login over it is tested in crates/dialer/tests.)

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::{Extension, Router};
use rustls_pki_types::ServerName;
use security::server::{serve, Peer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Generous guard against a hang; never a timing assertion.
const GUARD: Duration = Duration::from_secs(30);

async fn peer_info(Extension(peer): Extension<Peer>) -> String {
    format!(
        "tls={} client_cert={}",
        peer.tls,
        peer.client_cert.is_some()
    )
}

/// gRPC (Auth) and a plain HTTP route in one router, as the analyser serves them.
fn app() -> Router {
    let auth = security::AuthService::test_mode(security::Sessions::default()).expect("auth");
    tonic::service::Routes::new(auth.into_server())
        .into_axum_router()
        .route("/peer", get(peer_info))
}

async fn tls_client(
    certs: &std::path::Path,
    addr: std::net::SocketAddr,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let config = security::tls::client_config(&certs.join("ca.crt"), None).expect("client config");
    let mut config = Arc::unwrap_or_clone(config);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("name");
    connector.connect(name, tcp).await.expect("TLS handshake")
}

#[tokio::test]
async fn http1_over_tls_shares_the_port_and_sees_the_peer() {
    let certs = tempfile::tempdir().expect("temp dir");
    security::certs::make_certs(certs.path(), &["localhost".into()], &[], false).expect("certs");
    let tls = security::tls::server_config(certs.path(), false).expect("server config");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, Some(tls), app(), async {
        let _ = stopped.await;
    }));

    let mut stream = tls_client(certs.path(), addr).await;
    stream
        .write_all(b"GET /peer HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut reply = String::new();
    tokio::time::timeout(GUARD, stream.read_to_string(&mut reply))
        .await
        .expect("reply in time")
        .ok();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.ends_with("tls=true client_cert=false"), "{reply}");

    // An idle connection must not hold up shutdown beyond the grace period.
    let _idle = tls_client(certs.path(), addr).await;
    stop.send(()).expect("stop");
    tokio::time::timeout(GUARD, server)
        .await
        .expect("serve returned")
        .expect("no panic");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the port is closed after shutdown"
    );
}

#[tokio::test]
async fn test_mode_serves_plain_http1() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, None, app(), async {
        let _ = stopped.await;
    }));
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(b"GET /peer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut reply = String::new();
    tokio::time::timeout(GUARD, tcp.read_to_string(&mut reply))
        .await
        .expect("in time")
        .ok();
    assert!(reply.ends_with("tls=false client_cert=false"), "{reply}");
    stop.send(()).expect("stop");
    tokio::time::timeout(GUARD, server)
        .await
        .expect("serve returned")
        .expect("no panic");
}

#[tokio::test]
async fn shutdown_closes_connections_with_calls_that_never_end() {
    let certs = tempfile::tempdir().expect("temp dir");
    security::certs::make_certs(certs.path(), &["localhost".into()], &[], false).expect("certs");
    let tls = security::tls::server_config(certs.path(), false).expect("server config");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let entered = Arc::new(tokio::sync::Notify::new());
    let in_handler = entered.clone();
    let hang = Router::new().route(
        "/hang",
        get(move || async move {
            in_handler.notify_one();
            std::future::pending::<()>().await
        }),
    );
    let server = tokio::spawn(serve(listener, Some(tls), hang, async {
        let _ = stopped.await;
    }));
    let mut stream = tls_client(certs.path(), addr).await;
    stream
        .write_all(b"GET /hang HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    stream.flush().await.expect("flush");
    // The request is in flight when the server stops; a successful read of the
    // (absent) answer would block forever, so it must end with EOF or an error.
    let reader = tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = stream.read_to_end(&mut buf).await;
        buf
    });
    stop.send(()).expect("stop");
    tokio::time::timeout(GUARD, server)
        .await
        .expect("serve returned")
        .expect("no panic");
    let answer = tokio::time::timeout(GUARD, reader)
        .await
        .expect("connection cut")
        .expect("reader");
    assert!(
        answer.is_empty(),
        "no answer to the hanging call: {answer:?}"
    );
}

/// A plaintext HTTP/1.1 request on `stream`; the reply's head and body.
async fn ask(stream: &mut TcpStream, path: &str, close: bool) -> String {
    let connection = if close { "close" } else { "keep-alive" };
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: {connection}\r\n\r\n")
                .as_bytes(),
        )
        .await
        .expect("write");
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(GUARD, stream.read(&mut buf))
        .await
        .expect("answer in time")
        .unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// True when the server closed `stream` (EOF or reset) within the guard.
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 256];
    loop {
        match tokio::time::timeout(GUARD, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

async fn connect_from(ip: [u8; 4], addr: std::net::SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(std::net::SocketAddr::from((ip, 0)))
        .expect("bind a loopback source");
    socket.connect(addr).await.expect("connect")
}

/// A route that marks its connection authenticated, like a login would.
async fn mark(Extension(peer): Extension<Peer>) -> &'static str {
    peer.authenticated.mark();
    "marked"
}

/// A plaintext server with `limits` and a `/mark` route, and its stop.
struct Limited {
    addr: std::net::SocketAddr,
    stop: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

impl Limited {
    async fn start(limits: security::server::Limits) -> Limited {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let app = app().route("/mark", get(mark));
        let server = tokio::spawn(security::server::serve_with(
            listener,
            None,
            app,
            limits,
            async {
                let _ = stopped.await;
            },
        ));
        Limited { addr, stop, server }
    }

    async fn end(self) {
        self.stop.send(()).expect("stop");
        tokio::time::timeout(GUARD, self.server)
            .await
            .expect("serve returned")
            .expect("no panic");
    }
}

#[tokio::test]
async fn strangers_get_few_connections_and_lose_them_at_the_login_deadline() {
    let served = Limited::start(security::server::Limits {
        max_connections: 16,
        reserved: 4,
        per_address: 3,
        login_deadline: Duration::from_millis(1500),
    })
    .await;
    let addr = served.addr;

    // One address: three connections get in, the fourth is closed at once.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = connect_from([127, 0, 0, 2], addr).await;
        assert!(ask(&mut s, "/peer", false)
            .await
            .starts_with("HTTP/1.1 200"));
        held.push(s);
    }
    let mut fourth = connect_from([127, 0, 0, 2], addr).await;
    assert!(closed_by_server(&mut fourth).await);
    // Another address is not affected by the first one's.
    let mut other = connect_from([127, 0, 0, 3], addr).await;
    assert!(ask(&mut other, "/peer", false)
        .await
        .starts_with("HTTP/1.1 200"));
    // A connection that authenticates stays past the deadline.
    let mut owner = connect_from([127, 0, 0, 4], addr).await;
    assert!(ask(&mut owner, "/mark", false).await.ends_with("marked"));

    // Unauthenticated connections are closed at the deadline although they were used.
    for s in held.iter_mut() {
        assert!(
            closed_by_server(s).await,
            "still open after the login deadline"
        );
    }
    assert!(closed_by_server(&mut other).await);
    let reply = ask(&mut owner, "/peer", false).await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");

    served.end().await;
}

#[tokio::test]
async fn room_is_kept_for_addresses_that_logged_in_before() {
    let served = Limited::start(security::server::Limits {
        max_connections: 6,
        reserved: 2,
        per_address: 2,
        login_deadline: Duration::from_secs(60),
    })
    .await;
    let addr = served.addr;
    // The streamer's address logs in once (and leaves).
    let mut first = connect_from([127, 0, 0, 5], addr).await;
    assert!(ask(&mut first, "/mark", true).await.ends_with("marked"));
    drop(first);
    // Strangers from two addresses take all the unreserved room (4 = 6 - 2).
    let mut flood = Vec::new();
    for ip in [[127, 0, 0, 6], [127, 0, 0, 7]] {
        for _ in 0..2 {
            let mut s = connect_from(ip, addr).await;
            assert!(ask(&mut s, "/peer", false)
                .await
                .starts_with("HTTP/1.1 200"));
            flood.push(s);
        }
    }
    // A third stranger finds no room ...
    let mut late = connect_from([127, 0, 0, 8], addr).await;
    assert!(closed_by_server(&mut late).await);
    // ... but the streamer's address still gets in.
    let mut back = connect_from([127, 0, 0, 5], addr).await;
    let reply = ask(&mut back, "/peer", false).await;
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");

    served.end().await;
}
