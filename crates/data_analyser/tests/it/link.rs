//! The data link end to end with the real binaries: `data_analyser record` (serving on
//! port 0 with real TLS from `make-certs`) and `data_streamer` (dialing it), while
//! `data_streamer replay` plays the Skyra run into the scanner folder like a scanner.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use crate::site::{skyra_run, Site, PATTERN, WAIT};
use crate::support::shared_testdata;
use test_support::Proxy;

/// Every recorded volume is the source volume (same voxels and geometry), de-identified.
fn assert_recorded(site: &Site, skyra: &Path, count: u32) {
    let out = site.path("out");
    let names: Vec<String> = {
        let mut n: Vec<String> = std::fs::read_dir(&out)
            .expect("out folder")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    let expected: Vec<String> = (1..=count)
        .map(|k| format!("001_000013_{k:06}.dcm"))
        .collect();
    assert_eq!(
        names, expected,
        "exactly the volumes, each once, no temp files"
    );
    for name in &expected {
        let ours = std::fs::read(out.join(name)).expect("recorded file");
        let source = std::fs::read(skyra.join(name)).expect("source file");
        let (a, b) = (
            imaging::volume_from_file(&ours).expect("recorded volume converts"),
            imaging::volume_from_file(&source).expect("source converts"),
        );
        assert_eq!(a.voxels, b.voxels, "{name}: voxels");
        assert_eq!(a.affine, b.affine, "{name}: geometry");
        let name_in = |bytes: &[u8]| {
            let file = imaging::parse(bytes).expect("parses");
            file.str(dicom_dictionary_std::tags::PATIENT_NAME)
                .map(|s| s.to_string())
        };
        let (patient, original) = (name_in(&ours), name_in(&source));
        assert!(
            original.as_ref().is_some_and(|n| !n.is_empty()),
            "{name}: the source names someone"
        );
        assert_ne!(
            patient, original,
            "{name}: the patient's name left the console"
        );
    }
}

#[test]
fn skyra_replay_arrives_complete_de_identified_and_in_order() {
    let Some(td) = shared_testdata() else { return };
    let site = Site::new();
    let skyra = skyra_run(&td, &site);
    let scanner = site.arg("scanner");
    let record = site.record(0, &scanner, PATTERN, 10, "record.log");
    let port = record.port();
    let _streamer = site.streamer(port, "password", "streamer.log");
    let _replay = site.replay(&skyra, 10, "0.3");
    let mut record = record;
    for k in 1..=10 {
        let line = record.wait_line("a volume line", |l| l.starts_with("volume "));
        assert!(
            line.starts_with(&format!("volume {k} ")),
            "in order: {line}"
        );
    }
    assert!(
        record.wait_exit(),
        "record ends well: {}",
        record.stderr_text()
    );
    assert_recorded(&site, &skyra, 10);
}

#[test]
fn analyser_killed_and_restarted_mid_run_loses_nothing() {
    let Some(td) = shared_testdata() else { return };
    let site = Site::new();
    let skyra = skyra_run(&td, &site);
    let scanner = site.arg("scanner");
    let first = site.record(0, &scanner, PATTERN, 10, "record1.log");
    let port = first.port();
    let _streamer = site.streamer(port, "password", "streamer.log");
    let _replay = site.replay(&skyra, 10, "0.5");
    first.wait_line("volume 3", |l| l.starts_with("volume 3 "));
    drop(first); // SIGKILL mid-run
    let mut second = site.record(port, &scanner, PATTERN, 10, "record2.log");
    assert_eq!(second.port(), port);
    assert!(second.wait_exit(), "{}", second.stderr_text());
    assert_recorded(&site, &skyra, 10);
}

#[test]
fn connection_cut_mid_run_loses_and_duplicates_nothing() {
    let Some(td) = shared_testdata() else { return };
    let site = Site::new();
    let skyra = skyra_run(&td, &site);
    let scanner = site.arg("scanner");
    let mut record = site.record(0, &scanner, PATTERN, 10, "record.log");
    let proxy = Proxy::start(([127, 0, 0, 1], record.port()).into());
    let _streamer = site.streamer(proxy.port(), "password", "streamer.log");
    let _replay = site.replay(&skyra, 10, "0.4");
    record.wait_line("volume 2", |l| l.starts_with("volume 2 "));
    proxy.cut();
    record.wait_line("volume 6", |l| l.starts_with("volume 6 "));
    proxy.cut();
    assert!(record.wait_exit(), "{}", record.stderr_text());
    assert_recorded(&site, &skyra, 10);
}

#[test]
fn paths_outside_the_allowed_folders_are_refused() {
    let Some(_) = shared_testdata() else { return };
    let site = Site::new();
    let secret = site.path("scanner2");
    std::fs::create_dir(&secret).expect("sibling folder");
    std::fs::write(
        secret.join("001_000013_000001.dcm"),
        b"not for the analyser",
    )
    .expect("file");
    std::os::unix::fs::symlink(&secret, site.path("scanner/link")).expect("symlink");
    let cases = [
        (
            format!("{}/../scanner2", site.arg("scanner")),
            PATTERN,
            "dot-dot",
        ),
        (site.arg("scanner/link"), PATTERN, "symlink"),
        (site.arg("scanner2"), PATTERN, "sibling prefix"),
        (site.arg("scanner"), "001_000013_{TR:06d}.txt", "extension"),
    ];
    let record = site.record(0, "/nowhere", PATTERN, 1, "probe.log");
    let port = record.port();
    drop(record);
    let _streamer = site.streamer(port, "password", "streamer.log");
    for (i, (dir, pattern, what)) in cases.iter().enumerate() {
        let mut record = site.record(port, dir, pattern, 1, &format!("record{i}.log"));
        assert!(!record.wait_exit(), "{what}: must fail");
        let err = record.stderr_text();
        assert!(
            err.contains("outside the allowed")
                || err.contains("not allowed")
                || err.contains("refused"),
            "{what}: {err}"
        );
        assert!(
            !site.path("out/001_000013_000001.dcm").exists(),
            "{what}: nothing served"
        );
    }
}

#[test]
fn wrong_password_and_foreign_ca_are_refused_with_clear_errors() {
    let site = Site::new();
    let record = site.record(0, "/nowhere", PATTERN, 1, "record.log");
    let port = record.port();
    std::fs::write(site.path("wrong"), "not the password\n").expect("file");
    let mut streamer = site.streamer(port, "wrong", "wrong.log");
    let deadline = std::time::Instant::now() + WAIT;
    while !streamer.stderr_text().to_lowercase().contains("password") {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            streamer.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    streamer.child.stop();

    // A streamer trusting another analyser's CA refuses this one.
    let other = Site::new();
    std::fs::copy(other.path("certs/ca.crt"), site.path("certs/ca.crt")).expect("swap CA");
    let streamer = site.streamer(port, "password", "foreign.log");
    let deadline = std::time::Instant::now() + WAIT;
    while !streamer.stderr_text().contains("ca.crt") {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            streamer.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // Plaintext to the TLS port is answered with an explanation and nothing else.
    let mut raw = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut answer = String::new();
    raw.read_to_string(&mut answer).ok();
    assert!(answer.contains("TLS"), "{answer}");
}

/// The patient's name in a DICOM file (Part 10 or headerless), if any.
fn patient_name(bytes: &[u8]) -> Option<String> {
    imaging::parse(bytes)
        .expect("parses")
        .str(dicom_dictionary_std::tags::PATIENT_NAME)
        .map(|s| s.to_string())
        .filter(|s| !s.trim().is_empty())
}

#[test]
fn the_console_decides_a_headerless_dicom_leaves_de_identified_and_identified_streams_need_its_flag(
) {
    let Some(td) = shared_testdata() else { return };
    let site = Site::new();
    // Volume 1 without preamble, "DICM" or meta group; volume 2 a Part 10 file.
    let headerless =
        std::fs::read(td.join("../imaging-cases/headerless/no-preamble/001_000013_000003.dcm"))
            .expect("the headerless case");
    let part10 = std::fs::read(td.join("siemens-mosaic-skyra-e11/001_000013_000003.dcm"))
        .expect("a Skyra file");
    std::fs::write(site.path("scanner/001_000013_000001.dcm"), &headerless).expect("write");
    std::fs::write(site.path("scanner/001_000013_000002.dcm"), &part10).expect("write");
    let scanner = site.arg("scanner");

    let mut record = site.record(0, &scanner, PATTERN, 2, "record.log");
    let port = record.port();
    let streamer = site.streamer(port, "password", "streamer.log");
    assert!(record.wait_exit(), "{}", record.stderr_text());
    for (k, stored) in [(1, &headerless), (2, &part10)] {
        let got =
            std::fs::read(site.path(&format!("out/001_000013_{k:06}.dcm"))).expect("recorded");
        assert_eq!(
            patient_name(&got),
            None,
            "volume {k}: the name left the console"
        );
        assert_eq!(
            imaging::volume_from_file(&got).expect("converts").voxels,
            imaging::volume_from_file(stored).expect("converts").voxels,
            "volume {k}"
        );
    }

    // The analyser asks for identified data: this streamer refuses.
    std::fs::remove_dir_all(site.path("out")).expect("clean out/");
    let mut record = site.record_with(
        0,
        &scanner,
        PATTERN,
        1,
        &["--no-anonymize"],
        "identified1.log",
    );
    let port = record.port();
    drop(streamer);
    let streamer = site.streamer(port, "password", "streamer2.log");
    assert!(!record.wait_exit(), "an identified stream must be refused");
    let err = record.stderr_text();
    assert!(err.contains("--send-identified"), "names the fix: {err}");
    assert!(!site.path("out/001_000013_000001.dcm").exists());
    drop(streamer);

    // Started with --send-identified, the console allows it.
    let mut record = site.record_with(
        0,
        &scanner,
        PATTERN,
        1,
        &["--no-anonymize"],
        "identified2.log",
    );
    let port = record.port();
    let _streamer = site.streamer_with(
        port,
        "scanner",
        "password",
        &["--send-identified"],
        "streamer3.log",
    );
    assert!(record.wait_exit(), "{}", record.stderr_text());
    let got = std::fs::read(site.path("out/001_000013_000001.dcm")).expect("recorded");
    assert_eq!(got, headerless, "as stored");
}
