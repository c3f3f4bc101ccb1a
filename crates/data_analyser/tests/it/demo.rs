//! README command 1, `data_analyser demo`, run to the end: the whole system in one
//! process tree (analyser over TLS, streamer, replaying synthetic scanner, listener),
//! and the feedback in demo-out follows the synthetic activation.

use crate::support::{correlation, ground_truth, run_ok, text};

#[test]
fn the_demo_brings_the_system_up_and_every_tr_reaches_demo_out() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("demo-out");
    let run = run_ok(&[
        "demo",
        "--out",
        out.to_str().expect("utf-8"),
        "--volumes",
        "40",
        "--tr",
        "0.15",
        "--port",
        "0",
        "--results-port",
        "0",
        "--auto-run",
        "--exit-after-run",
    ]);
    let stdout = text(&run.stdout);
    assert!(
        stdout.contains("user: demo   password: "),
        "the login is printed: {stdout}"
    );
    assert!(stdout.contains("the run has ended"), "{stdout}");

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
