//! The analysis_listener binary's command line. Having integration tests here also
//! makes `cargo test --workspace` build the binary that data_analyser's end-to-end
//! tests start.

use std::process::{Command, Output};

fn listener(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_analysis_listener"))
        .args(args)
        .output()
        .expect("start analysis_listener")
}

#[test]
fn help_names_the_connection_folder_and_results_server() {
    let out = listener(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--server",
        "--ca",
        "--user",
        "--out-dir",
        "--results-port",
        "--test",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
}

#[test]
fn an_unusable_output_folder_is_named_before_anything_is_dialed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a folder").expect("file");
    let out = listener(&[
        "--test",
        "--server",
        "127.0.0.1:9",
        "--out-dir",
        file.to_str().expect("utf-8 path"),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a-file"), "the error names the folder:\n{err}");
}

/// A raw HTTP/1.1 request to the results server: the status code.
fn status_of(port: u16, request: &str) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("results server");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("request");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok();
    reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {reply:?}"))
}

fn post(port: u16, host: &str, extra: &str) -> String {
    let body = r#"{"run": 1, "tr": 1, "response": {"key": "b"}}"#;
    format!(
        "POST /responses HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn only_this_machine_and_the_token_holder_may_post_responses() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_dir = dir.path().join("out");
    // No analyser: the results server runs while the link keeps retrying.
    // Stopped when the test ends, however it ends.
    let (_child, lines) = test_support::ChildGuard::spawn_lines(
        Command::new(env!("CARGO_BIN_EXE_analysis_listener"))
            .args(["--test", "--server", "127.0.0.1:9", "--results-port", "0"])
            .arg("--out-dir")
            .arg(&out_dir)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null()),
    )
    .expect("start analysis_listener");
    let mut lines = lines.into_iter();
    let port: u16 = lines
        .by_ref()
        .find_map(|l| {
            l.strip_prefix("Results server: http://127.0.0.1:")
                .map(str::to_owned)
        })
        .and_then(|p| p.parse().ok())
        .expect("the results server line");
    let printed = lines
        .find_map(|l| l.strip_prefix("Results token: ").map(str::to_owned))
        .expect("the token line");
    let token = std::fs::read_to_string(out_dir.join("results-token")).expect("token file");
    let token = token.trim();
    assert!(
        printed.starts_with(token) && token.len() == 32,
        "{printed} / {token}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out_dir.join("results-token"))
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the token file is for this user only");
    }

    let get = |host: &str, extra: &str| {
        format!("GET /status HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n")
    };
    // Scripts on this PC: fine.
    assert_eq!(status_of(port, &get(&format!("127.0.0.1:{port}"), "")), 200);
    assert_eq!(status_of(port, &get("localhost", "")), 200);
    // DNS rebinding: a foreign site's name pointed at 127.0.0.1.
    assert_eq!(
        status_of(port, &get(&format!("evil.example:{port}"), "")),
        403
    );
    // file:// pages and sandboxed frames of any site send Origin: null.
    assert_eq!(status_of(port, &get("127.0.0.1", "Origin: null\r\n")), 403);
    assert_eq!(
        status_of(port, &get("127.0.0.1", "Origin: http://evil.example\r\n")),
        403
    );
    assert_eq!(
        status_of(port, &get("127.0.0.1", "Origin: http://localhost:8000\r\n")),
        200
    );
    // Responses need this start's token.
    assert_eq!(status_of(port, &post(port, "127.0.0.1", "")), 401);
    assert_eq!(
        status_of(
            port,
            &post(
                port,
                "127.0.0.1",
                "X-Listener-Token: 0123456789abcdef0123456789abcdef\r\n"
            )
        ),
        401
    );
    let with_token = format!("X-Listener-Token: {token}\r\n");
    assert_eq!(status_of(port, &post(port, "127.0.0.1", &with_token)), 202);
    assert_eq!(
        status_of(port, &post(port, "evil.example", &with_token)),
        403
    );
}
