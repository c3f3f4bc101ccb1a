//! A stranger must not be able to stop a session (issue 16, items 6-8): the real
//! analyser (`record`, TLS from `make-certs`) and the real streamer, attacked from other
//! loopback addresses (127.0.0.2, 127.0.0.3) so that the analyser can tell the stranger
//! from the streamer (127.0.0.1), as it would on a network. Every loop is bounded in
//! count and time; everything stays on loopback.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::v1::auth_client::AuthClient;
use protocol::v1::{LoginReply, LoginRequest};
use rustls_pki_types::ServerName;
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::client::TlsStream;

use crate::site::{skyra_run, Running, Site, PATTERN, WAIT};
use crate::support::shared_testdata;
use test_support::Proxy;

const STRANGER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const STRANGER_H2: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);
const STRANGER_NAMES: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 4);
/// Guard for one stranger's connect or handshake (never a timing assertion).
const STEP: Duration = Duration::from_secs(5);

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A client TLS config trusting the site's CA, speaking HTTP/2.
pub(crate) fn h2_tls(ca: &Path) -> tokio_rustls::TlsConnector {
    let config = security::tls::client_config(ca, None).expect("client config");
    let mut config = Arc::unwrap_or_clone(config);
    config.alpn_protocols = vec![b"h2".to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// A TCP connection to the analyser from `from` (a loopback address of our choice).
async fn tcp_from(from: Ipv4Addr, port: u16) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((from, 0)))?;
    tokio::time::timeout(
        STEP,
        socket.connect(SocketAddr::from(([127, 0, 0, 1], port))),
    )
    .await
    .map_err(|_| std::io::Error::other("connect timed out"))?
}

pub(crate) async fn tls_from(
    tls: &tokio_rustls::TlsConnector,
    from: Ipv4Addr,
    port: u16,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = tcp_from(from, port).await?;
    let name = ServerName::try_from("localhost").expect("name");
    tokio::time::timeout(STEP, tls.connect(name, tcp))
        .await
        .map_err(|_| std::io::Error::other("handshake timed out"))?
}

/// An idle HTTP/2 connection from `from`: TLS and the HTTP/2 preface, then nothing but
/// answers to the server's pings. None if it never got in; Some(true) when the server
/// closed it, Some(false) if it was still open after `hold`.
async fn idle_h2(
    tls: tokio_rustls::TlsConnector,
    from: Ipv4Addr,
    port: u16,
    hold: Duration,
) -> Option<bool> {
    let io = tls_from(&tls, from, port).await.ok()?;
    let (send, connection) = tokio::time::timeout(STEP, h2::client::handshake(io))
        .await
        .ok()?
        .ok()?;
    // Keep the handle: dropping it would let the client close the connection itself.
    let _send = send;
    // The connection future answers pings while it runs and ends when the server closes.
    Some(tokio::time::timeout(hold, connection).await.is_ok())
}

/// A gRPC channel from `from` over its own TLS connection.
pub(crate) async fn channel_from(
    tls: tokio_rustls::TlsConnector,
    from: Ipv4Addr,
    port: u16,
) -> Result<tonic::transport::Channel, tonic::Status> {
    let connector = tower::service_fn(move |_: tonic::transport::Uri| {
        let tls = tls.clone();
        async move {
            tls_from(&tls, from, port)
                .await
                .map(hyper_util::rt::TokioIo::new)
        }
    });
    tonic::transport::Endpoint::from_static("http://localhost")
        .connect_with_connector(connector)
        .await
        .map_err(|e| tonic::Status::unavailable(format!("{e:?}")))
}

/// A streamer's login for `station` on `channel`: the reply or the refusal.
pub(crate) async fn login(
    channel: tonic::transport::Channel,
    user: &str,
    password: &str,
    station: &str,
) -> Result<LoginReply, tonic::Status> {
    let request = LoginRequest {
        user: user.to_owned(),
        password: password.to_owned(),
        client_kind: "streamer".to_owned(),
        station: station.to_owned(),
    };
    tokio::time::timeout(
        Duration::from_secs(30),
        AuthClient::new(channel).login(request),
    )
    .await
    .map_err(|_| tonic::Status::deadline_exceeded("login timed out"))?
    .map(|reply| reply.into_inner())
}

/// A login from `from` over its own TLS connection: Ok or the refusal.
async fn login_from(
    tls: tokio_rustls::TlsConnector,
    from: Ipv4Addr,
    port: u16,
    user: &str,
    password: &str,
) -> Result<(), tonic::Status> {
    let channel = channel_from(tls, from, port).await?;
    login(channel, user, password, "scanner").await.map(|_| ())
}

/// Waits for `record` to end with all 10 volumes; a failure shows the streamer's log.
fn finish(site: &Site, record: &mut Running, streamer: &Running) {
    record.wait_line_or(
        "volume 10",
        |l| l.starts_with("volume 10 "),
        || format!("streamer:\n{}", streamer.stderr_text()),
    );
    assert!(record.wait_exit(), "{}", record.stderr_text());
    assert_all_recorded(site, 10);
}

/// The recorded volumes are exactly 1..=count, each once.
fn assert_all_recorded(site: &Site, count: u32) {
    let mut names: Vec<String> = std::fs::read_dir(site.path("out"))
        .expect("out folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let expected: Vec<String> = (1..=count)
        .map(|k| format!("001_000013_{k:06}.dcm"))
        .collect();
    assert_eq!(names, expected, "every volume, each once");
}

/// A running session: `record` of 10 Skyra volumes, its port, the streamer behind a
/// proxy whose cut makes it reconnect, and the replaying scanner. Every part runs
/// until dropped: bind every field (a `..` pattern would stop the rest at once).
struct Session {
    record: Running,
    port: u16,
    proxy: Proxy,
    streamer: Running,
    _replay: Running,
}

/// Starts a [`Session`] whose scanner writes a volume every `tr` seconds and returns
/// once volume 2 arrived (the attack must fit in the rest of the run).
fn session(site: &Site, tr: &str) -> Session {
    let td = shared_testdata().expect("checked by the caller");
    let skyra = skyra_run(&td, site);
    let scanner = site.arg("scanner");
    let record = site.record(0, &scanner, PATTERN, 10, "record.log");
    let port = record.port();
    let proxy = Proxy::start(([127, 0, 0, 1], port).into());
    let streamer = site.streamer(proxy.port(), "password", "streamer.log");
    let replay = site.replay(&skyra, 10, tr);
    record.wait_line("volume 2", |l| l.starts_with("volume 2 "));
    Session {
        record,
        port,
        proxy,
        streamer,
        _replay: replay,
    }
}

/// A site and a running [`Session`] (None without ../shared), the attacker's runtime
/// and its TLS connector trusting the site's CA.
fn attacked(
    tr: &str,
) -> Option<(
    Site,
    Session,
    tokio::runtime::Runtime,
    tokio_rustls::TlsConnector,
)> {
    shared_testdata()?;
    let site = Site::new();
    let session = session(&site, tr);
    let tls = h2_tls(&site.path("certs/ca.crt"));
    Some((site, session, runtime(), tls))
}

#[test]
fn a_connection_flood_does_not_keep_the_streamer_out() {
    let Some((site, mut session, rt, tls)) = attacked("1") else {
        return;
    };
    let port = session.port;

    // More idle HTTP/2 connections than the analyser serves at once (1024), and idle
    // TCP connections that never start TLS, held until the server closes them.
    let mut h2 = JoinSet::new();
    let mut tcp = Vec::new();
    rt.block_on(async {
        for _ in 0..1100 {
            h2.spawn(idle_h2(tls.clone(), STRANGER_H2, port, WAIT));
        }
        for _ in 0..200 {
            if let Ok(stream) = tcp_from(STRANGER, port).await {
                tcp.push(stream);
            }
        }
    });
    // Let the flood take its places, then make the streamer reconnect through it.
    std::thread::sleep(Duration::from_secs(1));
    session.proxy.cut();
    wait_for_logged(&session.streamer, "connected to the analyser", 2);
    finish(&site, &mut session.record, &session.streamer);

    // Every idle HTTP/2 connection that got in was closed by the analyser, although
    // it answered every ping: none is still open after the guard.
    let closed = rt.block_on(async {
        let mut closed = Vec::new();
        while let Some(result) = h2.join_next().await {
            closed.push(result.expect("no panic"));
        }
        closed
    });
    let admitted = closed.iter().filter(|c| c.is_some()).count();
    let held = closed.iter().filter(|c| **c == Some(false)).count();
    assert!(admitted > 0, "the flood got no connection in at all");
    assert_eq!(
        held, 0,
        "idle unauthenticated HTTP/2 connections still open"
    );
    drop(tcp);
}

#[test]
fn a_password_guesser_does_not_lock_out_the_streamer() {
    let Some((site, mut session, rt, tls)) = attacked("3") else {
        return;
    };
    let port = session.port;

    // 150 wrong passwords for the streamer's account from a stranger.
    let guesses = rt.block_on(logins(&tls, STRANGER, port, 150, |i| {
        ("scanner".to_owned(), format!("guess {i}"))
    }));
    let codes =
        |answers: &[tonic::Status], code| answers.iter().filter(|s| s.code() == code).count();
    assert_eq!(codes(&guesses, tonic::Code::Ok), 0, "a guess got in");
    assert!(
        codes(&guesses, tonic::Code::ResourceExhausted) > 0,
        "the guesser is throttled: {guesses:?}"
    );
    // Random user names from another address (once a way to make the throttle forget
    // the guessed account): that address is cut off after its 100 failures.
    let names = rt.block_on(logins(&tls, STRANGER_NAMES, port, 150, |i| {
        (format!("random-{i}"), "x".to_owned())
    }));
    let wrong = codes(&names, tonic::Code::Unauthenticated);
    // 100 checked (up to 7 more that were checked while the 100th was), the rest refused.
    assert!((100..108).contains(&wrong), "{names:?}");
    assert_eq!(
        wrong + codes(&names, tonic::Code::ResourceExhausted),
        150,
        "{names:?}"
    );
    // The streamer logs in again (from the address it used before) and goes on.
    session.proxy.cut();
    wait_for_logged(&session.streamer, "connected to the analyser", 2);
    finish(&site, &mut session.record, &session.streamer);
}

/// `count` logins from `from`, a few at a time (an address may hold 16 connections
/// that have not logged in; more are refused before TLS), with the user and password
/// `attempt(i)` gives: each answer (OK for a login that got in).
async fn logins(
    tls: &tokio_rustls::TlsConnector,
    from: Ipv4Addr,
    port: u16,
    count: usize,
    attempt: impl Fn(usize) -> (String, String),
) -> Vec<tonic::Status> {
    let mut running = JoinSet::new();
    let mut codes = Vec::new();
    for i in 0..count {
        if running.len() >= 8 {
            if let Some(done) = running.join_next().await {
                codes.push(done.expect("no panic"));
            }
        }
        let (tls, (user, password)) = (tls.clone(), attempt(i));
        running.spawn(async move {
            match login_from(tls, from, port, &user, &password).await {
                Ok(()) => tonic::Status::ok(""),
                Err(status) => status,
            }
        });
    }
    while let Some(done) = running.join_next().await {
        codes.push(done.expect("no panic"));
    }
    codes
}

/// Waits (bounded) until the log of `running` contains `text` `times` times.
fn wait_for_logged(running: &Running, text: &str, times: usize) {
    let deadline = Instant::now() + WAIT;
    while running.stderr_text().matches(text).count() < times {
        assert!(
            Instant::now() < deadline,
            "not {times} times {text:?} in:\n{}",
            running.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn another_user_cannot_take_the_scanners_station() {
    let Some(_) = shared_testdata() else { return };
    let site = Site::new();
    // The listener's account, and an old-style account that may be anything.
    site.add_user("stimulus", "listener pw", &["--roles", "listener"]);
    site.add_user("other", "other pw", &[]);
    std::fs::write(site.path("listener-pw"), "listener pw\n").expect("password file");
    std::fs::write(site.path("other-pw"), "other pw\n").expect("password file");
    let Session {
        mut record,
        port: _,
        proxy,
        streamer,
        _replay,
    } = session(&site, "1");

    // The listener's account may not be a streamer at all: refused at login.
    let intruder = site.streamer_as(proxy.port(), "stimulus", "listener-pw", "intruder.log");
    wait_for_logged(&intruder, "may not log in as a streamer", 1);
    // An account that may be a streamer cannot claim a station that is connected.
    let other = site.streamer_as(proxy.port(), "other", "other-pw", "other.log");
    wait_for_logged(&other, "connected by another user", 1);

    finish(&site, &mut record, &streamer);
    // The real streamer never lost its link to them.
    let log = streamer.stderr_text();
    assert_eq!(
        log.matches("connected to the analyser").count(),
        1,
        "the streamer connected once:\n{log}"
    );
    for running in [&intruder, &other] {
        assert!(
            !running.stderr_text().contains("connected to the analyser"),
            "{}",
            running.stderr_text()
        );
    }
}

#[test]
fn a_replaced_link_is_closed_so_its_streamer_reconnects() {
    let Some(_) = shared_testdata() else { return };
    let site = Site::new();
    let Session {
        mut record,
        port,
        streamer,
        proxy: _proxy,
        _replay,
    } = session(&site, "1");

    // A second streamer of the same user and station takes the station over (a
    // reconnect looks like this); then it stops.
    let second = site.streamer(port, "password", "second.log");
    wait_for_logged(&second, "connected to the analyser", 1);
    drop(second);

    // The first streamer's old link was closed, not left orphaned: it reconnects and
    // the session ends with every volume.
    wait_for_logged(&streamer, "connected to the analyser", 2);
    finish(&site, &mut record, &streamer);
}
