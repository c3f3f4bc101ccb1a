//! A streamer that the analyser refuses for good (wrong password, a foreign CA) tries
//! once and then only every `dialer::REFUSED_RETRY`, never every few seconds: it does
//! not lock its own account (issue 19). An outage is still retried at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use data_link::streamer::StreamerConfig;
use dialer::{ClientInfo, ConnectArgs, Dialer, Pace, Paced};
use filestore::AccessRules;
use tokio::sync::oneshot;

use crate::harness::{analyser, certs, USER};

/// Runs a streamer dialing with `args`; counts its attempts and keeps the last error.
fn counted_streamer(
    args: ConnectArgs,
    scans: &std::path::Path,
) -> (
    Arc<AtomicUsize>,
    Arc<std::sync::Mutex<Option<Pace>>>,
    oneshot::Sender<()>,
) {
    let dialer = Dialer::from_args(&args).expect("dialer");
    let attempts = Arc::new(AtomicUsize::new(0));
    let last = Arc::new(std::sync::Mutex::new(None));
    let client = ClientInfo {
        kind: "streamer".into(),
        station: "scanner".into(),
    };
    let connect = {
        let (attempts, last) = (attempts.clone(), last.clone());
        move || {
            let (dialer, client, attempts, last) = (
                dialer.clone(),
                client.clone(),
                attempts.clone(),
                last.clone(),
            );
            async move {
                attempts.fetch_add(1, Ordering::SeqCst);
                let result = dialer.connect(&client).await;
                if let Err(e) = &result {
                    *last.lock().expect("lock") = Some(e.pace());
                }
                result
            }
        }
    };
    let config = StreamerConfig::new(
        "scanner",
        AccessRules::new([scans], [".dcm"]).expect("rules"),
    );
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(data_link::streamer::run(config, connect, async {
        stopped.await.ok();
    }));
    (attempts, last, stop)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_streamer_does_not_hammer_the_analyser() {
    let certs = certs();
    let scans = tempfile::tempdir().expect("temp");
    let analyser = analyser(certs.path()).await;
    std::fs::write(certs.path().join("wrong"), "not the password\n").expect("file");
    let base = ConnectArgs {
        server: format!("localhost:{}", analyser.addr.port()),
        ca: certs.path().join("ca.crt"),
        client_cert: None,
        client_key: None,
        user: Some(USER.to_owned()),
        password_file: Some(certs.path().join("wrong")),
        test: false,
    };
    let wrong_password = counted_streamer(base.clone(), scans.path());
    let other = crate::harness::certs();
    let foreign_ca = counted_streamer(
        ConnectArgs {
            ca: other.path().join("ca.crt"),
            password_file: Some(certs.path().join("password")),
            ..base.clone()
        },
        scans.path(),
    );
    // An outage (nothing listens there) is retried at once, as before.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let closed_port = closed.local_addr().expect("addr").port();
    drop(closed);
    let outage = counted_streamer(
        ConnectArgs {
            server: format!("localhost:{closed_port}"),
            password_file: Some(certs.path().join("password")),
            ..base
        },
        scans.path(),
    );

    // With the old 100 ms..5 s backoff these would be 5 or more attempts each.
    tokio::time::sleep(Duration::from_secs(4)).await;
    for (what, (attempts, last, _)) in [
        ("wrong password", &wrong_password),
        ("foreign CA", &foreign_ca),
    ] {
        assert_eq!(
            attempts.load(Ordering::SeqCst),
            1,
            "{what}: tried once, then waits"
        );
        assert_eq!(*last.lock().expect("lock"), Some(Pace::Refused), "{what}");
    }
    assert!(
        outage.0.load(Ordering::SeqCst) >= 3,
        "an outage is retried soon: {} attempts",
        outage.0.load(Ordering::SeqCst)
    );
    assert_eq!(*outage.1.lock().expect("lock"), Some(Pace::Outage));
    assert!(
        analyser.streamers.info("scanner").is_none(),
        "nobody got in"
    );
}
