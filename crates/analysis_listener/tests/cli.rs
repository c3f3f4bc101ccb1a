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
