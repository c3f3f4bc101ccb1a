//! The lower items of issue 16 (item 10), through the real binaries over TLS:
//! certificate validity and `make-certs --renew`, token lifetime and revocation on a
//! password change, station names checked after login, and 404 with the security
//! headers for unknown paths.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use protocol::v1::data_link_client::DataLinkClient;
use protocol::v1::{from_streamer, FromStreamer, Hello};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::availability::{channel_from, h2_tls, login, runtime, tls_from};
use crate::site::{Site, WAIT};
use crate::support::run_ok;

const LOCAL: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const DAY: i64 = 24 * 3600;

/// (not before, not after, serial) of a PEM certificate, as Unix seconds.
fn validity(path: &Path) -> (i64, i64, Vec<u8>) {
    let pem = std::fs::read(path).expect("pem");
    let (_, block) = x509_parser::pem::parse_x509_pem(&pem).expect("PEM");
    let cert = block.parse_x509().expect("X.509");
    let v = cert.validity();
    (
        v.not_before.timestamp(),
        v.not_after.timestamp(),
        cert.raw_serial().to_vec(),
    )
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

#[test]
fn make_certs_are_valid_a_year_and_the_ca_ten_and_renew_keeps_the_ca() {
    // Site::new runs `make-certs --host localhost --ip 127.0.0.1`.
    let site = Site::new();
    let start = now();
    let certs = site.path("certs");
    let certs_arg = certs.to_str().expect("utf-8");
    let (ca_from, ca_to, _) = validity(&certs.join("ca.crt"));
    let (server_from, server_to, serial) = validity(&certs.join("server.crt"));
    // Valid from a day back (clocks that lag a little), for 10 years and 1 year.
    for from in [ca_from, server_from] {
        assert!(
            (start - DAY - 120..=start - DAY + 5).contains(&from),
            "{from}"
        );
    }
    assert_eq!(ca_to - ca_from, (10 * 365 + 1) * DAY, "CA: 10 years");
    assert_eq!(server_to - server_from, (365 + 1) * DAY, "server: 1 year");

    let ca_before = std::fs::read(certs.join("ca.crt")).expect("ca");
    let out = run_ok(&["make-certs", "--renew", "--dir", certs_arg]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("renewed the server certificate for localhost, 127.0.0.1"),
        "{said}"
    );
    let (_, renewed_to, renewed_serial) = validity(&certs.join("server.crt"));
    assert_ne!(renewed_serial, serial, "a new certificate");
    assert!(renewed_to >= server_to, "{renewed_to} < {server_to}");
    assert_eq!(
        std::fs::read(certs.join("ca.crt")).expect("ca"),
        ca_before,
        "the CA is kept: clients need nothing new"
    );
    security::tls::server_config(&certs, false).expect("the renewed pair loads");
}

/// A DataLink/Open with `token` and a Hello for `station` without a protocol version:
/// the code it is refused with (a valid token gets past login to the version check).
async fn open_with(channel: tonic::transport::Channel, token: &str, station: &str) -> tonic::Code {
    let hello = FromStreamer {
        kind: Some(from_streamer::Kind::Hello(Hello {
            station: station.to_owned(),
            ..Default::default()
        })),
    };
    let mut request = tonic::Request::new(tokio_stream::iter([hello]));
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("metadata"),
    );
    match tokio::time::timeout(
        Duration::from_secs(30),
        DataLinkClient::new(channel).open(request),
    )
    .await
    {
        Ok(Ok(_)) => tonic::Code::Ok,
        Ok(Err(status)) => status.code(),
        Err(_) => tonic::Code::DeadlineExceeded,
    }
}

#[test]
fn tokens_last_eight_hours_and_end_when_the_password_changes() {
    let site = Site::new();
    let scanner = site.arg("scanner");
    let record = site.record(0, &scanner, "x_{TR:06d}.dcm", 1, "record.log");
    let port = record.port();
    let rt = runtime();
    let tls = h2_tls(&site.path("certs/ca.crt"));
    rt.block_on(async {
        let channel = channel_from(tls.clone(), LOCAL, port)
            .await
            .expect("channel");
        let reply = login(channel.clone(), "scanner", "correct horse", "scanner")
            .await
            .expect("login");
        assert_eq!(reply.expires_in_secs, 8 * 3600, "tokens live 8 hours");
        let token = reply.token;
        // The token works: the call gets past the login check (to the version check).
        assert_eq!(
            open_with(channel.clone(), &token, "scanner").await,
            tonic::Code::FailedPrecondition
        );

        // A station name after login must be the one logged in with (no newline that
        // forges a log line, no growing list of names).
        let anonymous = login(channel.clone(), "scanner", "correct horse", "")
            .await
            .expect("login without a station")
            .token;
        let forged = "scanner\nINFO streamer connected";
        let hello = FromStreamer {
            kind: Some(from_streamer::Kind::Hello(Hello {
                station: forged.to_owned(),
                version: Some(protocol::v1::ProtocolVersion {
                    major: data_link::PROTOCOL_MAJOR,
                    minor: 0,
                }),
                ..Default::default()
            })),
        };
        let mut request = tonic::Request::new(tokio_stream::iter([hello]));
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {anonymous}").parse().expect("metadata"),
        );
        let refused = DataLinkClient::new(channel.clone())
            .open(request)
            .await
            .expect_err("a forged station name is refused");
        assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");

        // The password changes on the analyser (no restart): the old token ends.
        site.add_user("scanner", "a new password", &[]);
        let deadline = Instant::now() + WAIT;
        loop {
            let code = open_with(channel.clone(), &token, "scanner").await;
            if code == tonic::Code::Unauthenticated {
                break;
            }
            assert_eq!(code, tonic::Code::FailedPrecondition);
            assert!(Instant::now() < deadline, "the old token still works");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // The new password logs in.
        login(channel, "scanner", "a new password", "scanner")
            .await
            .expect("login with the new password");
    });
}

#[test]
fn unknown_paths_are_404_with_the_security_headers_and_hsts() {
    let site = Site::new();
    let scanner = site.arg("scanner");
    let record = site.record(0, &scanner, "x_{TR:06d}.dcm", 1, "record.log");
    let port = record.port();
    let rt = runtime();
    let mut config =
        security::tls::client_config(&site.path("certs/ca.crt"), None).expect("client config");
    std::sync::Arc::make_mut(&mut config).alpn_protocols = vec![b"http/1.1".to_vec()];
    let tls = tokio_rustls::TlsConnector::from(config);
    let reply = rt.block_on(async {
        let mut stream = tls_from(&tls, LOCAL, port).await.expect("TLS");
        stream
            .write_all(
                b"GET /no/such/page HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            )
            .await
            .expect("request");
        let mut reply = String::new();
        tokio::time::timeout(WAIT, stream.read_to_string(&mut reply))
            .await
            .expect("an answer")
            .ok();
        reply
    });
    let head = reply.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 404"), "{reply}");
    for header in [
        "strict-transport-security: max-age=31536000",
        "content-security-policy: default-src 'none'",
        "x-frame-options: deny",
        "x-content-type-options: nosniff",
    ] {
        assert!(head.contains(header), "{header} missing:\n{reply}");
    }
}
