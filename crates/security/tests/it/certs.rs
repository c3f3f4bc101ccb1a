//! Certificates as `data_analyser make-certs` writes them.

use std::net::{IpAddr, Ipv4Addr};

use security::certs::{make_certs, make_client_cert, CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY};

fn hosts() -> Vec<String> {
    vec!["analyser.local".into()]
}

#[test]
fn writes_ca_and_server_with_private_keys() {
    let dir = tempfile::tempdir().expect("temp dir");
    let certs = dir.path().join("certs");
    let written =
        make_certs(&certs, &hosts(), &[IpAddr::V4(Ipv4Addr::LOCALHOST)], false).expect("make");
    assert_eq!(written.len(), 4);
    for name in [CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY] {
        assert!(certs.join(name).is_file(), "{name} missing");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for key in [CA_KEY, SERVER_KEY] {
            let mode = std::fs::metadata(certs.join(key))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{key} is readable by others: {mode:o}");
        }
    }
    // No temp files left behind.
    let names: Vec<_> = std::fs::read_dir(&certs)
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    security::tls::server_config(&certs, true).expect("server config loads");
    security::tls::client_config(&certs.join(CA_CERT), None).expect("client config loads");
}

#[test]
fn an_existing_ca_is_kept_unless_forced() {
    let dir = tempfile::tempdir().expect("temp dir");
    make_certs(dir.path(), &hosts(), &[], false).expect("first");
    let ca = std::fs::read(dir.path().join(CA_CERT)).expect("ca");
    let server = std::fs::read(dir.path().join(SERVER_CERT)).expect("server");
    let written = make_certs(dir.path(), &["other.local".into()], &[], false).expect("second");
    assert_eq!(
        written.len(),
        2,
        "only the server certificate is new: {written:?}"
    );
    assert_eq!(
        std::fs::read(dir.path().join(CA_CERT)).expect("ca"),
        ca,
        "CA kept"
    );
    assert_ne!(
        std::fs::read(dir.path().join(SERVER_CERT)).expect("server"),
        server
    );
    make_certs(dir.path(), &hosts(), &[], true).expect("forced");
    assert_ne!(
        std::fs::read(dir.path().join(CA_CERT)).expect("ca"),
        ca,
        "CA replaced"
    );
}

#[test]
fn no_names_is_an_error_that_names_the_flags() {
    let dir = tempfile::tempdir().expect("temp dir");
    let err = make_certs(dir.path(), &[], &[], false).expect_err("no names");
    assert!(err.to_string().contains("--host"), "{err}");
}

#[test]
fn client_certificates_need_the_ca_and_a_plain_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let err = make_client_cert(dir.path(), "scanner1").expect_err("no CA yet");
    assert!(err.to_string().contains("make-certs"), "{err}");
    make_certs(dir.path(), &hosts(), &[], false).expect("make");
    let (cert, key) = make_client_cert(dir.path(), "scanner1").expect("client");
    assert!(cert.ends_with("client-scanner1.crt") && key.ends_with("client-scanner1.key"));
    security::tls::client_config(&dir.path().join(CA_CERT), Some((&cert, &key))).expect("loads");
    assert!(make_client_cert(dir.path(), "../escape").is_err());
}

#[test]
fn garbage_pem_names_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bogus = dir.path().join("ca.crt");
    std::fs::write(&bogus, "not a certificate\n").expect("write");
    let err = security::tls::client_config(&bogus, None).expect_err("garbage");
    assert!(err.to_string().contains("ca.crt"), "{err}");
}

/// (not before, not after) of a PEM certificate, as Unix seconds.
fn validity(path: &std::path::Path) -> (i64, i64) {
    let pem = std::fs::read(path).expect("pem");
    let (_, block) = x509_parser::pem::parse_x509_pem(&pem).expect("PEM");
    let cert = block.parse_x509().expect("X.509");
    let v = cert.validity();
    (v.not_before.timestamp(), v.not_after.timestamp())
}

#[test]
fn validity_is_a_year_for_the_server_and_ten_for_the_ca() {
    let dir = tempfile::tempdir().expect("temp dir");
    make_certs(dir.path(), &hosts(), &[], false).expect("make");
    make_client_cert(dir.path(), "scanner1").expect("client");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let day = 24 * 3600;
    for (name, years) in [(CA_CERT, 10), (SERVER_CERT, 1), ("client-scanner1.crt", 1)] {
        let (from, to) = validity(&dir.path().join(name));
        assert!(
            (now - day - 60..=now - day + 60).contains(&from),
            "{name} from {from}"
        );
        let until = now + years * 365 * day;
        assert!((until - 60..=until + 60).contains(&to), "{name} until {to}");
    }
}
