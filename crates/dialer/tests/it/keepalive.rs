//! A link that goes silent (cable pulled, analyser frozen) must be noticed by the
//! HTTP/2 keepalive: a pending call fails instead of hanging forever.

use std::net::SocketAddr;
use std::time::Duration;

use protocol::v1::auth_client::AuthClient;
use protocol::v1::LoginRequest;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use crate::analyser::{args_for, localhost_certs, start, streamer, Mode, PASSWORD, USER};

/// Failure guard only: keepalive should notice within about 4 s.
const GUARD: Duration = Duration::from_secs(30);

/// Forwards one connection to `upstream` until told to freeze; then it keeps both
/// sockets open but forwards no more bytes, like a dead network path. What the
/// analyser still sends is swallowed; the returned receiver fires when the analyser
/// hangs up.
async fn freezing_proxy(
    upstream: SocketAddr,
) -> (SocketAddr, oneshot::Sender<()>, oneshot::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let addr = listener.local_addr().expect("addr");
    let (freeze, frozen) = oneshot::channel::<()>();
    let (closed, server_closed) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let Ok((mut client, _)) = listener.accept().await else {
            return;
        };
        // Later reconnects are refused: the path is dead.
        drop(listener);
        let Ok(mut server) = TcpStream::connect(upstream).await else {
            return;
        };
        tokio::select! {
            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
            _ = frozen => {}
        }
        let mut sink = [0u8; 4096];
        while matches!(server.read(&mut sink).await, Ok(n) if n > 0) {}
        let _ = closed.send(());
        std::future::pending::<()>().await;
        drop(client);
    });
    (addr, freeze, server_closed)
}

#[tokio::test]
async fn a_silent_link_fails_pending_calls() {
    let certs = localhost_certs();
    let analyser = start(certs.path(), Mode::Tls).await;
    let (proxy, freeze, _) = freezing_proxy(analyser.addr).await;
    let args = args_for(certs.path(), "localhost", proxy);
    let (channel, _token) = dialer::connect(&args, &streamer())
        .await
        .expect("login via proxy");
    freeze.send(()).expect("freeze");
    let mut client = AuthClient::new(channel);
    let call = client.login(LoginRequest {
        user: USER.into(),
        password: PASSWORD.into(),
        client_kind: "streamer".into(),
        station: "skyra".into(),
    });
    let result = tokio::time::timeout(GUARD, call)
        .await
        .expect("keepalive ended the call");
    let status = result.expect_err("no answer through a frozen link");
    assert!(
        matches!(
            status.code(),
            tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
        ),
        "{status}"
    );
}

#[tokio::test]
async fn the_analyser_drops_a_client_that_went_silent() {
    let certs = localhost_certs();
    let analyser = start(certs.path(), Mode::Tls).await;
    let (proxy, freeze, server_closed) = freezing_proxy(analyser.addr).await;
    let args = args_for(certs.path(), "localhost", proxy);
    let (_channel, _token) = dialer::connect(&args, &streamer())
        .await
        .expect("login via proxy");
    freeze.send(()).expect("freeze");
    // The analyser's pings go unanswered, so it closes the connection by itself.
    tokio::time::timeout(GUARD, server_closed)
        .await
        .expect("the analyser noticed the silent client")
        .expect("proxy still running");
}
