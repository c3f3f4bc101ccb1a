//! Logging in over real TLS, and using the token.

use dialer::DialError;

use crate::analyser::{args_for, localhost_certs, start, streamer, Mode};

#[tokio::test]
async fn login_over_tls_gives_a_token_the_analyser_accepts() {
    let certs = localhost_certs();
    let analyser = start(certs.path(), Mode::Tls).await;
    for host in ["localhost", "127.0.0.1"] {
        let args = args_for(certs.path(), host, analyser.addr);
        let (_channel, token) = dialer::connect(&args, &streamer()).await.expect("login");
        assert_eq!(token.secret().len(), 64, "256 bits as hex");
        let mut request = tonic::Request::new(());
        token.authorize(&mut request);
        let identity = analyser
            .sessions
            .check(request.metadata())
            .expect("token accepted");
        assert_eq!(identity.user, "alice");
        assert_eq!(identity.station, "skyra");
        assert_eq!(identity.client_kind, "streamer");
    }
    assert_eq!(analyser.sessions.len(), 2);
    assert!(
        !format!(
            "{:?}",
            dialer::Dialer::from_args(&args_for(certs.path(), "localhost", analyser.addr))
                .expect("dialer")
        )
        .contains("horse"),
        "Debug must not show the password"
    );
}

#[tokio::test]
async fn the_interceptor_and_a_foreign_token() {
    use tonic::service::Interceptor;
    let certs = localhost_certs();
    let analyser = start(certs.path(), Mode::Tls).await;
    let (_channel, token) = dialer::connect(
        &args_for(certs.path(), "localhost", analyser.addr),
        &streamer(),
    )
    .await
    .expect("login");
    let request = token
        .interceptor()
        .call(tonic::Request::new(()))
        .expect("intercepted");
    analyser
        .sessions
        .check(request.metadata())
        .expect("token accepted");
    let forged = dialer::Token::new("00".repeat(32));
    let request = forged
        .interceptor()
        .call(tonic::Request::new(()))
        .expect("intercepted");
    let status = analyser
        .sessions
        .check(request.metadata())
        .expect_err("forged token");
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert!(
        status.message().contains("log in again"),
        "{}",
        status.message()
    );
    assert_eq!(format!("{token:?}"), "Token(..)");
}

#[tokio::test]
async fn test_mode_logs_in_as_test_without_tls() {
    let certs = localhost_certs();
    let analyser = start(certs.path(), Mode::Plaintext).await;
    let mut args = args_for(certs.path(), "127.0.0.1", analyser.addr);
    args.test = true;
    args.user = None;
    let (_channel, token) = dialer::connect(&args, &streamer())
        .await
        .expect("test login");
    let mut request = tonic::Request::new(());
    token.authorize(&mut request);
    assert_eq!(
        analyser
            .sessions
            .check(request.metadata())
            .expect("token")
            .user,
        "test"
    );
}

#[tokio::test]
async fn a_bad_server_address_names_the_format() {
    let certs = localhost_certs();
    let mut args = args_for(
        certs.path(),
        "localhost",
        "127.0.0.1:1".parse().expect("addr"),
    );
    args.server = "localhost".into();
    let err = dialer::Dialer::from_args(&args).expect_err("no port");
    assert!(matches!(err, DialError::BadServer { .. }), "{err}");
    assert!(err.to_string().contains("HOST:PORT"), "{err}");
}

#[tokio::test]
async fn nothing_listening_is_unreachable() {
    let certs = localhost_certs();
    // A port that was just free: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let args = args_for(
        certs.path(),
        "127.0.0.1",
        format!("127.0.0.1:{port}").parse().expect("addr"),
    );
    let err = dialer::connect(&args, &streamer())
        .await
        .expect_err("nobody there");
    assert!(matches!(err, DialError::Unreachable { .. }), "{err}");
    assert!(!err.needs_fixing(), "an outage is waited out");
    assert!(
        err.to_string().contains("data_analyser runs there"),
        "{err}"
    );
}

#[tokio::test]
async fn a_station_name_that_could_forge_log_lines_is_refused() {
    let certs = localhost_certs();
    let analyser = start(certs.path(), Mode::Tls).await;
    let client = dialer::ClientInfo {
        kind: "streamer".into(),
        station: "skyra\nERROR forged line".into(),
    };
    let err = dialer::connect(&args_for(certs.path(), "localhost", analyser.addr), &client)
        .await
        .expect_err("bad station");
    match &err {
        DialError::Login { status, .. } => {
            assert_eq!(status.code(), tonic::Code::InvalidArgument, "{err}")
        }
        other => panic!("expected a refused login, got {other}"),
    }
    assert!(err.to_string().contains("station must be"), "{err}");
    assert!(analyser.sessions.is_empty());
}
