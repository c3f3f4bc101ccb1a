//! The listener end to end with the real binaries: a replaying scanner, the streamer,
//! the analyser running the sample project, and analysis_listener writing the results
//! for the stimulus PC; killed and restarted mid-run; long-polls and responses.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::projects::{reference_means, sample_settings};
use crate::site::{repo_root, sample_run_args, skyra_run, Site, WAIT};
use crate::support::shared_testdata;

/// The port of the `Results server: http://127.0.0.1:PORT` line.
fn results_port(listener: &crate::site::Running) -> u16 {
    let line = listener.wait_line("results server line", |l| l.starts_with("Results server: "));
    line.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port")
}

/// A plain HTTP/1.1 request to the listener's results server: (status, body).
fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let (status, _, body) = http_with_head(port, method, path, body);
    (status, body)
}

/// [`http`] that also returns the head (status line and headers).
fn http_with_head(port: u16, method: &str, path: &str, body: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("results server");
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let (head, body) = response
        .split_once("\r\n\r\n")
        .map(|(h, b)| (h.to_owned(), b.to_owned()))
        .unwrap_or_default();
    (status, head, body)
}

/// Waits until `dir` holds at least `n` tr-*.json files.
fn wait_for_files(dir: &Path, n: usize) {
    let deadline = Instant::now() + WAIT;
    loop {
        let count = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                    .count()
            })
            .unwrap_or(0);
        if count >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {count} results in {}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_tr_reaches_the_listener_exactly_once_even_across_a_listener_restart() {
    let Some(testdata) = shared_testdata() else {
        return;
    };
    let site = Site::new();
    let skyra = skyra_run(&testdata, &site);
    let settings = sample_settings(&site.path(""), &site.path("scanner"));
    // Each result is to be shown 250 ms after it was made.
    let text = std::fs::read_to_string(&settings).expect("settings");
    std::fs::write(
        &settings,
        text.replace("onsetDelayMs = 0", "onsetDelayMs = 250"),
    )
    .expect("settings");
    let settings = settings.display().to_string();
    let mut analyser = site.analyser(&sample_run_args(&settings), "analyser.log");
    let port = analyser.port();
    let _streamer = site.streamer(port, "password", "streamer.log");
    let listener = site.listener(port, "feedback", "listener-1.log");
    let results = site.path("feedback/run-1");
    let replay = site.replay(&skyra, 10, "0.4");

    // Kill the listener mid-run, let results be made while it is away, restart it.
    wait_for_files(&results, 3);
    drop(listener);
    let at_kill = replay.wait_line("a closed file", |l| l.starts_with("closed "));
    replay.wait_line("another closed file", |l| {
        l.starts_with("closed ") && l != at_kill
    });
    let listener = site.listener(port, "feedback", "listener-2.log");
    assert!(
        analyser.wait_exit(),
        "the run failed: {}",
        analyser.stderr_text()
    );

    let means = reference_means(&testdata);
    for (k, mean) in means.iter().enumerate() {
        let path = results.join(format!("tr-{:04}.json", k + 1));
        let json: serde_json::Value = serde_json::from_slice(
            &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        )
        .expect("result JSON");
        assert_eq!(
            (json["run"].as_i64(), json["tr"].as_i64()),
            (Some(1), Some(k as i64 + 1))
        );
        let value = json["value"].as_f64().expect("a number");
        let expected = mean / 1500.0;
        assert!(
            ((value - expected) / expected).abs() < 1e-6,
            "TR {}: {value} vs {expected}",
            k + 1
        );
        let time = |field: &str| {
            json[field]
                .as_f64()
                .unwrap_or_else(|| panic!("{field} in {json}"))
        };
        assert_eq!(time("onset_delay_ms"), 250.0);
        // Never shown before its time (both on the listener's clock, skew corrected).
        assert!(
            time("shown_at") >= time("sent_at") + 0.25 - 0.002,
            "TR {} shown too early: {json}",
            k + 1
        );
    }
    let tsv = std::fs::read_to_string(results.join("results.tsv")).expect("results.tsv");
    let seqs: Vec<u64> = tsv
        .lines()
        .skip(1)
        .map(|l| {
            l.split('\t')
                .next()
                .and_then(|s| s.parse().ok())
                .expect("seq")
        })
        .collect();
    assert_eq!(
        seqs,
        (1..=10).collect::<Vec<u64>>(),
        "each result once, in order:\n{tsv}"
    );

    // The PsychoPy example, without PsychoPy: it prints what it would draw, for every
    // TR, including those the first listener wrote (served from the folder), and sends
    // a response for each with the token this listener wrote into its folder (the
    // example fails if a response is refused).
    let url = format!("http://127.0.0.1:{}", results_port(&listener));
    let example = repo_root().join("examples/psychopy/feedback.py");
    let token_file = site.arg("feedback/results-token");
    let out = std::process::Command::new("python3")
        .arg(&example)
        .args([
            "--url",
            &url,
            "--run",
            "1",
            "--trs",
            "10",
            "--wait-ms",
            "2000",
            "--token-file",
            &token_file,
            "--respond",
            "b",
        ])
        .output()
        .expect("python3 runs the example");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (k, mean) in means.iter().enumerate() {
        let line = format!("TR {}: feedback {:.4}", k + 1, mean / 1500.0);
        assert!(printed.contains(&line), "{line} missing from:\n{printed}");
    }
}

#[test]
fn long_polls_wait_for_the_result_and_responses_reach_the_project() {
    let python = repo_root().join("target/pyenv/bin/python");
    if !python.exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{} is missing: CI runs scripts/setup_python.sh first",
            python.display()
        );
        return;
    }
    let site = Site::new();
    // A project that waits for the participant's response and sends it back as TR 1's result.
    let project = site.path("projects/respond");
    std::fs::create_dir_all(project.join("conf")).expect("project folder");
    std::fs::write(
        project.join("conf/respond.toml"),
        "subjectName = \"s\"\nrunNum = [1]\nscanNum = [1]\n",
    )
    .expect("settings");
    std::fs::write(
        project.join("respond.py"),
        "import time\nfrom rtcloud_client import ClientInterface\n\
         client = ClientInterface()\n\
         deadline = time.time() + 60\n\
         while not client.subject.get_all_responses():\n\
         \x20   assert time.time() < deadline, 'no response came'\n\
         \x20   time.sleep(0.05)\n\
         r = client.subject.get_all_responses()[0]\n\
         assert client.subject.get_response(r.run, r.tr) is not None\n\
         client.subject.set_result_dict({'run': 1, 'tr': 1, 'echo': r.value})\n",
    )
    .expect("script");
    let (projects, python) = (site.arg("projects"), python.display().to_string());
    let mut analyser = site.analyser(
        &[
            "--projects",
            &projects,
            "--project",
            "respond",
            "--python",
            &python,
            "--subject-remote",
            "--run-on-start",
            "--exit-after-run",
        ],
        "analyser.log",
    );
    let port = analyser.port();
    let listener = site.listener(port, "feedback", "listener.log");
    let results = results_port(&listener);

    let (status, body) = http(results, "GET", "/results/9/9?wait_ms=50", "");
    assert_eq!(status, 404, "{body}");
    let poll = std::thread::spawn(move || http(results, "GET", "/results/1/1?wait_ms=60000", ""));
    let token = std::fs::read_to_string(site.path("feedback/results-token")).expect("token");
    let (status, body) = http(
        results,
        "POST",
        &format!("/responses?token={}", token.trim()),
        r#"{"run": 1, "tr": 1, "response": {"key": "b", "rt_ms": 412}}"#,
    );
    assert_eq!(status, 202, "{body}");
    let (status, body) = poll.join().expect("long-poll thread");
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        json["value"]["echo"],
        serde_json::json!({"key": "b", "rt_ms": 412})
    );
    let (status, latest) = http(results, "GET", "/results/latest", "");
    assert_eq!(
        (status, latest.contains("\"echo\"")),
        (200, true),
        "{latest}"
    );
    assert!(
        analyser.wait_exit(),
        "the run failed: {}",
        analyser.stderr_text()
    );
}

#[test]
fn the_feedback_page_needs_its_token_and_follows_each_result_live() {
    let Some(testdata) = shared_testdata() else {
        return;
    };
    let site = Site::new();
    let skyra = skyra_run(&testdata, &site);
    let scanner = site.path("scanner");
    let settings = sample_settings(&site.path(""), &scanner);
    let (settings, scanner) = (
        settings.display().to_string(),
        scanner.display().to_string(),
    );
    let analyser = site.analyser(
        &[
            "--test",
            "--project",
            "sample",
            "--config",
            &settings,
            "--allowed-dirs",
            &scanner,
            "--run-on-start",
        ],
        "analyser.log",
    );
    let line = analyser.wait_line("feedback page line", |l| l.starts_with("Feedback page: "));
    let url = line.trim_start_matches("Feedback page: ").to_owned();
    let (base, token) = url
        .split_once("/feedback?token=")
        .expect("a token in the URL");
    let port: u16 = base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");

    let (status, _) = http(port, "GET", "/feedback?token=wrong", "");
    assert_eq!(status, 401);
    let (status, _) = http(port, "GET", "/feedback", "");
    assert_eq!(status, 401);
    let (status, head, page) = http_with_head(port, "GET", &format!("/feedback?token={token}"), "");
    assert_eq!(status, 200);
    // Its own script only (no inline code), never inside another site's frame.
    let head = head.to_ascii_lowercase();
    for header in [
        "content-security-policy: default-src 'none'; script-src 'self';",
        "frame-ancestors 'none'",
        "x-frame-options: deny",
        "x-content-type-options: nosniff",
    ] {
        assert!(head.contains(header), "{header} missing:\n{head}");
    }
    assert!(page.contains("/feedback/feedback.js"), "{page}");
    let (status, script) = http(port, "GET", "/feedback/feedback.js", "");
    assert_eq!(status, 200);
    assert!(
        script.contains("/feedback/ws"),
        "the page's script opens the WebSocket"
    );
    let refused = tungstenite::connect(format!("ws://127.0.0.1:{port}/feedback/ws?token=nope"));
    assert!(refused.is_err(), "a WebSocket without the token is refused");

    let (mut ws, _) =
        tungstenite::connect(format!("ws://127.0.0.1:{port}/feedback/ws?token={token}"))
            .expect("the WebSocket opens with the token");
    let _replay = site.replay(&skyra, 10, "0.2");
    let means = reference_means(&testdata);
    let mut seen = Vec::new();
    while seen.last() != Some(&10) {
        let message = ws.read().expect("a result arrives");
        let Ok(text) = message.into_text() else {
            continue;
        };
        let event: serde_json::Value = serde_json::from_str(&text).expect("JSON event");
        if event["type"] == "result" {
            let tr = event["tr"].as_u64().expect("tr") as usize;
            let value = event["value"].as_f64().expect("a number");
            let expected = means[tr - 1] / 1500.0;
            assert!(
                ((value - expected) / expected).abs() < 1e-6,
                "TR {tr}: {value}"
            );
            seen.push(tr);
        }
    }
    assert_eq!(
        seen,
        (1..=10).collect::<Vec<_>>(),
        "every TR, live, in order"
    );
}
