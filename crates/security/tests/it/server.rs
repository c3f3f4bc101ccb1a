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
