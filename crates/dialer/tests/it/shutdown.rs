//! An analyser that stops must not leave clients hanging on calls that never end
//! (the data link is one such call): they are cut after the grace period.

use std::time::Duration;

use tower::ServiceExt;

use crate::analyser::{args_for, localhost_certs, start, streamer, Mode};

/// Failure guard only.
const GUARD: Duration = Duration::from_secs(30);

#[tokio::test]
async fn stopping_the_analyser_ends_a_never_ending_call() {
    let certs = localhost_certs();
    let mut analyser = start(certs.path(), Mode::Tls).await;
    let args = args_for(certs.path(), "localhost", analyser.addr);
    let (channel, _token) = dialer::connect(&args, &streamer()).await.expect("login");
    let request = http::Request::get(format!("http://localhost:{}/hang", analyser.addr.port()))
        .body(tonic::body::Body::default())
        .expect("request");
    let call = tokio::spawn(channel.oneshot(request));
    // Login above went through this connection, so the call is on the wire.
    tokio::time::timeout(GUARD, analyser.shut_down())
        .await
        .expect("serve returned");
    let outcome = tokio::time::timeout(GUARD, call)
        .await
        .expect("the call ended")
        .expect("no panic");
    assert!(
        outcome.is_err(),
        "a hanging call cannot succeed: {outcome:?}"
    );
}
