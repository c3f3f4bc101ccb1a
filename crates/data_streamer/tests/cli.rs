//! The data_streamer binary's command line. Having integration tests here also makes
//! `cargo test --workspace` build the binary before any test runs, which the end-to-end
//! tests in data_analyser rely on.

use std::path::Path;
use std::process::{Command, Output};

fn data_streamer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_data_streamer"))
        .args(args)
        .output()
        .expect("start data_streamer")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_explains_streaming_and_replay() {
    let out = data_streamer(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for flag in [
        "--server",
        "--allowed-dirs",
        "--allowed-types",
        "--station",
        "--ca",
        "--send-identified",
        "--writable-dirs",
        "--allow-hard-links",
        "--max-file-size",
        "--no-inotify",
        "--poll-interval",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
    assert!(help.contains("data_streamer replay --help"));

    let out = data_streamer(&["replay", "--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for flag in ["--source", "--into", "--tr", "--rename", "--limit"] {
        assert!(help.contains(flag), "replay --help lacks {flag}:\n{help}");
    }
}

/// The polling interval is bounded: 0 would spin, an hour would never see a file.
#[test]
fn a_poll_interval_out_of_range_is_refused_by_name() {
    for ms in ["0", "5", "10001"] {
        let out = data_streamer(&[
            "--server",
            "127.0.0.1:9",
            "--allowed-dirs",
            ".",
            "--allowed-types",
            ".dcm",
            "--poll-interval",
            ms,
        ]);
        assert!(!out.status.success(), "--poll-interval {ms} accepted");
        let err = text(&out.stderr);
        assert!(err.contains("--poll-interval"), "{ms}: {err}");
    }
}

#[test]
fn a_missing_allowed_folder_is_named_before_anything_is_dialed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("no-such-scans");
    let out = data_streamer(&[
        "--test",
        "--server",
        "127.0.0.1:9",
        "--allowed-dirs",
        missing.to_str().expect("utf-8 path"),
        "--allowed-types",
        ".dcm",
    ]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("no-such-scans"),
        "error does not name the folder:\n{err}"
    );
}

#[test]
fn allowed_dirs_is_given_once_per_folder_and_folder_names_may_hold_commas() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (doe, roe) = (
        dir.path().join("Doe, Jane"),
        dir.path().join("Roe,Rick_2026"),
    );
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for d in [&doe, &roe, &a, &b] {
        std::fs::create_dir(d).expect("scanner folder");
    }
    let both = format!("{},{}", a.display(), b.display());
    let stderr = dir.path().join("streamer.log");
    // Port 9 (discard) refuses: the streamer starts, says what it serves, retries.
    let _streamer = test_support::ChildGuard::spawn(
        Command::new(env!("CARGO_BIN_EXE_data_streamer"))
            .args([
                "--test",
                "--server",
                "127.0.0.1:9",
                "--allowed-types",
                ".dcm",
            ])
            .args(["--allowed-dirs", doe.to_str().expect("utf-8")])
            .args(["--allowed-dirs", roe.to_str().expect("utf-8")])
            // RT-Cloud's comma form still works where no folder has that name.
            .args(["--allowed-dirs", &both])
            .env("RUST_LOG", "info")
            .stderr(std::fs::File::create(&stderr).expect("log file")),
    )
    .expect("data_streamer starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let serving = loop {
        let log = std::fs::read_to_string(&stderr).unwrap_or_default();
        if let Some(line) = log.lines().find(|l| l.contains("serving ")) {
            break line.to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no serving line:\n{log}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let canonical = |p: &Path| p.canonicalize().expect("canonical").display().to_string();
    let served: Vec<&str> = serving
        .split("serving ")
        .nth(1)
        .and_then(|rest| rest.split(" (types").next())
        .expect("the folder list")
        .split(" | ")
        .collect();
    assert_eq!(
        served,
        [&doe, &roe, &a, &b].map(|d| canonical(d)),
        "{serving}"
    );
}

#[test]
fn replay_renames_and_reports_every_file_it_closed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = dir.path().join("recorded");
    let into = dir.path().join("scanner");
    std::fs::create_dir(&source).expect("source dir");
    for (name, body) in [
        ("b.dcm", "second"),
        ("a.dcm", "first"),
        ("notes.txt", "skip"),
    ] {
        std::fs::write(source.join(name), body).expect("recorded file");
    }
    let out = data_streamer(&[
        "replay",
        "--source",
        source.to_str().expect("utf-8 path"),
        "--into",
        into.to_str().expect("utf-8 path"),
        "--tr",
        "0",
        "--only",
        "dcm",
        "--rename",
        "001_000013_{TR:06d}.dcm",
        "--start-index",
        "5",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<String> = text(&out.stdout).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    for (line, (name, body)) in lines.iter().zip([
        ("001_000013_000005.dcm", "first"),
        ("001_000013_000006.dcm", "second"),
    ]) {
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields[0], "closed");
        assert_eq!(Path::new(fields[2]), into.join(name));
        assert_eq!(fields[3], body.len().to_string());
        assert_eq!(
            std::fs::read_to_string(into.join(name)).expect("replayed file"),
            body
        );
    }
    assert!(!into.join("notes.txt").exists());
}
