//! The RT-Cloud-style wrappers in scripts/ (what the docs tell users to run), driven
//! for a whole session in --test mode: certificates and a user, the analyser, the
//! streamer and the listener, with a replaying scanner.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::projects::sample_settings;
use crate::site::{repo_root, skyra_run, Running, Site};
use crate::support::shared_testdata;

/// A wrapper script run with our freshly built binaries.
fn wrapper(site: &Site, script: &str, args: &[&str], log: &str) -> Running {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_data_analyser"))
        .parent()
        .expect("target dir")
        .to_owned();
    std::env::set_var("RTCLOUD_BIN", &bin_dir);
    Running::start(
        &repo_root().join("scripts").join(script),
        args,
        site.path(log),
    )
}

#[test]
fn the_wrappers_make_certificates_and_users() {
    let site = Site::new();
    let certs = site.arg("wrapped-certs");
    let mut certs_run = wrapper(
        &site,
        "make-certs.sh",
        &["analyser.example", "192.168.2.5", "--", "--dir", &certs],
        "make-certs.log",
    );
    assert!(certs_run.wait_exit(), "{}", certs_run.stderr_text());
    for file in ["ca.crt", "ca.key", "server.crt", "server.key"] {
        assert!(site.path("wrapped-certs").join(file).exists(), "{file}");
    }
    let mut add = test_support::ChildGuard::spawn(
        Command::new(repo_root().join("scripts/add-user.sh"))
            .args(["alice", "--password-stdin", "--passwd"])
            .arg(site.path("wrapped-certs/passwd"))
            .env(
                "RTCLOUD_BIN",
                Path::new(env!("CARGO_BIN_EXE_data_analyser"))
                    .parent()
                    .expect("dir"),
            )
            .stdin(Stdio::piped()),
    )
    .expect("add-user.sh starts");
    std::io::Write::write_all(&mut add.stdin.take().expect("stdin"), b"secret words\n")
        .expect("password");
    assert!(add.wait().expect("ends").success());
    let passwd = std::fs::read_to_string(site.path("wrapped-certs/passwd")).expect("passwd");
    assert!(passwd.contains("\nalice:$argon2id$"), "{passwd}");
}

#[test]
fn a_session_through_the_rtcloud_style_wrappers() {
    let Some(testdata) = shared_testdata() else {
        return;
    };
    let site = Site::new();
    let skyra = skyra_run(&testdata, &site);
    let settings = sample_settings(&site.path(""), &site.path("scanner"));
    let (settings, sessions) = (settings.display().to_string(), site.arg("sessions"));
    let mut analyser = wrapper(
        &site,
        "data_analyser.sh",
        &[
            "-p",
            "sample",
            "-c",
            &settings,
            "--dataRemote",
            "--subjectRemote",
            "--runOnStart",
            "--test",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--sessions-dir",
            &sessions,
            "--exit-after-run",
        ],
        "analyser.log",
    );
    let server = format!("127.0.0.1:{}", analyser.port());
    let scanner = site.arg("scanner");
    let _streamer = wrapper(
        &site,
        "data_streamer.sh",
        &[
            "-s", &server, "-u", "test", "-p", "test", "-d", &scanner, "-f", ".dcm", "--test",
        ],
        "streamer.log",
    );
    let out = site.arg("feedback");
    let _listener = wrapper(
        &site,
        "analysis_listener.sh",
        &[
            "-s",
            &server,
            "-u",
            "test",
            "-p",
            "test",
            "-o",
            &out,
            "--test",
            "--results-port",
            "0",
        ],
        "listener.log",
    );
    let _replay = site.replay(&skyra, 10, "0.2");
    assert!(
        analyser.wait_exit(),
        "the run failed: {}",
        analyser.stderr_text()
    );
    for tr in 1..=10 {
        let json = site.path(&format!("feedback/run-1/tr-{tr:04}.json"));
        assert!(json.exists(), "{} missing", json.display());
    }
}
