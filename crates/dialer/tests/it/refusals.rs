//! Everything the analyser or the client must refuse, each with an error that says
//! what to do, and nothing served.

use std::net::{IpAddr, Ipv4Addr};

use dialer::DialError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::analyser::{args, args_for, certs_for, localhost_certs, start, streamer, Mode};

#[tokio::test]
async fn wrong_password_and_unknown_user_are_refused_alike() {
    let certs = localhost_certs();
    let analyser = start(certs.path(), Mode::Tls).await;
    let wrong = certs.path().join("wrong");
    std::fs::write(&wrong, "not the password\n").expect("write");
    let mut bad_password = args(
        format!("localhost:{}", analyser.addr.port()),
        certs.path().join("ca.crt"),
        wrong,
    );
    let mut messages = Vec::new();
    for user in ["alice", "mallory"] {
        bad_password.user = Some(user.into());
        let err = dialer::connect(&bad_password, &streamer())
            .await
            .expect_err("refused");
        assert!(matches!(err, DialError::Refused { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("wrong user name or password") && text.contains("add-user"),
            "{text}"
        );
        messages.push(text.replace(user, "USER"));
    }
    assert_eq!(
        messages[0], messages[1],
        "unknown users must not be told apart"
    );
    assert!(
        analyser.sessions.is_empty(),
        "no session for a refused login"
    );
}

#[tokio::test]
async fn a_server_certificate_from_another_ca_is_refused() {
    let ours = localhost_certs();
    let theirs = localhost_certs();
    let analyser = start(theirs.path(), Mode::Tls).await;
    let args = args_for(ours.path(), "localhost", analyser.addr);
    let err = dialer::connect(&args, &streamer())
        .await
        .expect_err("other CA");
    assert!(matches!(err, DialError::UnknownCa { .. }), "{err}");
    assert!(err.needs_fixing(), "retrying cannot help");
    let text = err.to_string();
    assert!(
        text.contains("not signed by")
            && text.contains(&ours.path().join("ca.crt").display().to_string()),
        "{text}"
    );
    assert!(text.contains("copy the analyser's certs/ca.crt"), "{text}");
    assert!(analyser.sessions.is_empty());
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let certs = certs_for(&["analyser.example"], &[]);
    let analyser = start(certs.path(), Mode::Tls).await;
    let args = args_for(certs.path(), "127.0.0.1", analyser.addr);
    let err = dialer::connect(&args, &streamer())
        .await
        .expect_err("wrong name");
    assert!(matches!(err, DialError::WrongName { .. }), "{err}");
    assert!(
        err.to_string().contains("make-certs --host 127.0.0.1"),
        "{err}"
    );
}

#[tokio::test]
async fn plaintext_to_the_tls_port_is_refused_and_serves_nothing() {
    let certs = localhost_certs();
    let analyser = start(certs.path(), Mode::Tls).await;

    // A browser or curl without https: an explanation, then the connection closes.
    let mut tcp = tokio::net::TcpStream::connect(analyser.addr)
        .await
        .expect("connect");
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    let mut reply = String::new();
    tcp.read_to_string(&mut reply)
        .await
        .expect("read until closed");
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(reply.contains("TLS only"), "{reply}");

    // A streamer started with --test against a TLS analyser.
    let mut args = args_for(certs.path(), "127.0.0.1", analyser.addr);
    args.test = true;
    let err = dialer::connect(&args, &streamer())
        .await
        .expect_err("plaintext");
    assert!(matches!(err, DialError::NotPlaintext { .. }), "{err}");
    assert!(err.to_string().contains("drop --test"), "{err}");
    assert!(analyser.sessions.is_empty(), "nothing served");
}

#[tokio::test]
async fn tls_to_a_plaintext_analyser_says_so() {
    let certs = localhost_certs();
    let analyser = start(certs.path(), Mode::Plaintext).await;
    let err = dialer::connect(
        &args_for(certs.path(), "127.0.0.1", analyser.addr),
        &streamer(),
    )
    .await
    .expect_err("not TLS");
    assert!(matches!(err, DialError::NotTls { .. }), "{err}");
    assert!(err.to_string().contains("pass --test here too"), "{err}");
}

#[tokio::test]
async fn a_missing_ca_file_names_make_certs() {
    let certs = certs_for(&["localhost"], &[IpAddr::V4(Ipv4Addr::LOCALHOST)]);
    let mut args = args_for(
        certs.path(),
        "localhost",
        "127.0.0.1:1".parse().expect("addr"),
    );
    args.ca = certs.path().join("nope.crt");
    let err = dialer::Dialer::from_args(&args).expect_err("no CA file");
    assert!(matches!(err, DialError::NoCa { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("nope.crt") && text.contains("copy the analyser's certs/ca.crt"),
        "{text}"
    );
}
