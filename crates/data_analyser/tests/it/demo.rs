//! README command 1, `data_analyser demo`, run to the end: the whole system in one
//! process tree (analyser over TLS, streamer, replaying synthetic scanner, listener),
//! and the feedback in demo-out follows the synthetic activation.

use crate::support::{correlation, ground_truth, text};

/// The demo as a new user runs it (no RUST_LOG), its whole output captured: it must
/// print what the user needs and nothing alarming (issue 19).
#[test]
fn the_demo_brings_the_system_up_and_every_tr_reaches_demo_out() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("demo-out");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_data_analyser"))
        .args(["demo", "--out", out.to_str().expect("utf-8")])
        .args(["--volumes", "40", "--tr", "0.15", "--port", "0"])
        .args(["--results-port", "0", "--auto-run", "--exit-after-run"])
        .env_remove("RUST_LOG")
        .output()
        .expect("the demo runs");
    let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
    assert!(run.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("user: demo   password: "),
        "the login is printed: {stdout}"
    );
    assert!(stdout.contains("the run has ended"), "{stdout}");
    let whole = format!("{stdout}{stderr}");
    assert!(
        !whole.contains('\x1b'),
        "no escape codes when not on a terminal:\n{whole}"
    );
    let alarming: Vec<&str> = whole
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect();
    assert!(
        alarming.is_empty(),
        "a clean run warns about nothing: {alarming:#?}"
    );

    let truth = ground_truth(&out);
    let design: Vec<f64> = truth["design"]
        .as_array()
        .expect("design")
        .iter()
        .map(|d| d.as_f64().expect("0 or 1"))
        .collect();
    let mut feedback = Vec::new();
    for tr in 1..=40 {
        let path = out.join(format!("run-1/tr-{tr:04}.json"));
        let json: serde_json::Value = serde_json::from_slice(
            &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        )
        .expect("result JSON");
        feedback.push(json["value"].as_f64().expect("a number"));
    }
    // After the 10 baseline TRs, the feedback follows the on/off blocks.
    let r = correlation(&feedback[10..], &design[10..]);
    assert!(r > 0.8, "feedback vs design correlation {r}: {feedback:?}");
}

/// A port in use fails before the address and password are printed.
#[test]
fn a_port_in_use_is_reported_before_any_address_is_printed() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("demo-out");
    let run = crate::support::run(&[
        "demo",
        "--out",
        out.to_str().expect("utf-8"),
        "--port",
        &port,
        "--results-port",
        "0",
    ]);
    let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
    assert!(!run.status.success(), "{stdout}\n{stderr}");
    assert!(
        !stdout.contains("password"),
        "nothing printed to log in to: {stdout}"
    );
    assert!(stderr.contains(&port), "the error names the port: {stderr}");
}

#[test]
fn a_new_user_logs_in_to_the_demo_presses_run_and_gets_every_tr() {
    let Some(chromium) = crate::web::browser_tools() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("demo-out");
    let out_arg = out.display().to_string();
    let demo = crate::site::Running::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_data_analyser")),
        &[
            "demo",
            "--out",
            &out_arg,
            "--volumes",
            "20",
            "--tr",
            "0.2",
            "--port",
            "0",
            "--results-port",
            "0",
        ],
        dir.path().join("demo.log"),
    );
    // "  web page:  https://localhost:PORT   user: demo   password: PW"
    let line = demo.wait_line("the login line", |l| l.contains("web page:"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let url = words[2].to_owned();
    let password = words.last().expect("a password").to_string();
    let ca_line = demo.wait_line("the CA line", |l| l.contains("certificate authority"));
    let ca = ca_line
        .split_whitespace()
        .find(|w| w.ends_with("ca.crt"))
        .expect("the CA path");
    let server_cert = std::path::Path::new(ca).with_file_name("server.crt");

    let browser = std::process::Command::new("node")
        .arg(crate::site::repo_root().join("tests/web/demo.mjs"))
        .current_dir(crate::site::repo_root().join("tests/web"))
        .env("RTCLOUD_URL", &url)
        .env("RTCLOUD_USER", "demo")
        .env("RTCLOUD_PASSWORD", &password)
        .env("RTCLOUD_SERVER_CERT", &server_cert)
        .env(
            "RTCLOUD_SCREENSHOTS",
            crate::site::repo_root().join("target/web-screenshots"),
        )
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs the browser script");
    assert!(
        browser.status.success(),
        "{}{}\ndemo: {}",
        text(&browser.stdout),
        text(&browser.stderr),
        demo.stderr_text()
    );
    // A failure guard: the run has ended, so every TR is there or on its way.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    for tr in 1..=20 {
        let json = out.join(format!("run-1/tr-{tr:04}.json"));
        while !json.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "{} missing",
                json.display()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}
