//! Mutual TLS: an analyser with --require-client-certs admits only clients presenting
//! a certificate signed by its own CA.

use dialer::DialError;

use crate::analyser::{args_for, localhost_certs, start, streamer, Mode};

#[tokio::test]
async fn missing_client_certificate_is_refused() {
    let certs = localhost_certs();
    let analyser = start(certs.path(), Mode::MutualTls).await;
    let err = dialer::connect(
        &args_for(certs.path(), "localhost", analyser.addr),
        &streamer(),
    )
    .await
    .expect_err("no client cert");
    assert!(matches!(err, DialError::ClientCertRequired { .. }), "{err}");
    assert!(err.to_string().contains("--client-cert"), "{err}");
    assert!(analyser.sessions.is_empty());
}

#[tokio::test]
async fn client_certificate_of_the_analysers_ca_is_admitted() {
    let certs = localhost_certs();
    let (cert, key) =
        security::certs::make_client_cert(certs.path(), "scanner1").expect("client cert");
    let analyser = start(certs.path(), Mode::MutualTls).await;
    let mut args = args_for(certs.path(), "localhost", analyser.addr);
    args.client_cert = Some(cert);
    args.client_key = Some(key);
    dialer::connect(&args, &streamer())
        .await
        .expect("login with client cert");
    assert_eq!(analyser.sessions.len(), 1);
}

#[tokio::test]
async fn client_certificate_of_another_ca_is_refused() {
    let certs = localhost_certs();
    let other = localhost_certs();
    let (cert, key) =
        security::certs::make_client_cert(other.path(), "intruder").expect("client cert");
    let analyser = start(certs.path(), Mode::MutualTls).await;
    let mut args = args_for(certs.path(), "localhost", analyser.addr);
    args.client_cert = Some(cert);
    args.client_key = Some(key);
    let err = dialer::connect(&args, &streamer())
        .await
        .expect_err("foreign client cert");
    assert!(matches!(err, DialError::ClientCertRejected { .. }), "{err}");
    assert!(analyser.sessions.is_empty());
}
