//! A link that goes silent (cable pulled, analyser frozen) must be noticed by the
//! HTTP/2 keepalive: a pending call fails instead of hanging forever.

use std::time::Duration;

use protocol::v1::auth_client::AuthClient;
use protocol::v1::LoginRequest;
use test_support::{LinkState, Proxy};

use crate::analyser::{args_for, localhost_certs, start, streamer, Mode, PASSWORD, USER};

/// Failure guard only: keepalive should notice within about 4 s.
const GUARD: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_silent_link_fails_pending_calls() {
    let certs = localhost_certs();
    let analyser = start(certs.path(), Mode::Tls).await;
    let proxy = Proxy::start(analyser.addr);
    let args = args_for(certs.path(), "localhost", proxy.addr);
    let (channel, _token) = dialer::connect(&args, &streamer())
        .await
        .expect("login via proxy");
    // A dead network path: bytes vanish both ways, nobody is told.
    proxy.set_state(LinkState::Blackhole);
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
    let proxy = Proxy::start(analyser.addr);
    let args = args_for(certs.path(), "localhost", proxy.addr);
    let (_channel, _token) = dialer::connect(&args, &streamer())
        .await
        .expect("login via proxy");
    proxy.set_state(LinkState::Blackhole);
    // The analyser's pings go unanswered, so it closes the connection by itself.
    let deadline = tokio::time::Instant::now() + GUARD;
    while proxy.target_closed() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the analyser did not notice the silent client"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
