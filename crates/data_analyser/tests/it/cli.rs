//! The subcommands run as a user runs them: help, synth, and convert's error reporting.

use crate::support::{ground_truth, numbers, run, run_ok, shared_testdata, text};

#[test]
fn help_works_for_every_subcommand() {
    let out = run_ok(&["--help"]);
    let help = text(&out.stdout);
    for sub in ["convert", "synth", "demo"] {
        assert!(help.contains(sub), "--help lacks {sub}:\n{help}");
        let out = run_ok(&[sub, "--help"]);
        assert!(text(&out.stdout).contains("Usage:"), "{sub} --help");
    }
    assert!(text(&run_ok(&["convert", "--help"]).stdout).contains("--json"));
}

#[test]
fn synth_writes_scanner_named_files_and_ground_truth() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("scanner");
    let out_s = out.to_str().expect("utf-8 path");
    run_ok(&[
        "synth",
        "--out",
        out_s,
        "--volumes",
        "5",
        "--tr",
        "1.5",
        "--seed",
        "3",
    ]);
    for v in 1..=5 {
        let name = format!("001_000001_{v:06}.dcm");
        let bytes = std::fs::read(out.join(&name)).expect("scanner file exists");
        assert_eq!(&bytes[128..132], b"DICM", "{name} is DICOM Part 10");
    }
    let truth = ground_truth(&out);
    assert_eq!(truth["tr_s"].as_f64(), Some(1.5));
    assert_eq!(numbers(&truth, "roi_mean").len(), 5);
    assert_eq!(numbers(&truth, "design").len(), 5);
}

#[test]
fn convert_names_each_unusable_file_and_fails_when_nothing_converts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let junk = dir.path().join("notes.txt");
    // Longer than a DICOM preamble: a short file could still be a DICOM being written.
    std::fs::write(&junk, "not an image, just notes\n".repeat(20)).expect("write junk");
    let mut inputs = vec![junk.to_str().expect("utf-8").to_string()];
    let truncated = shared_testdata().map(|td| td.join("truncated/trunc_001_000013_000005.dcm"));
    if let Some(t) = &truncated {
        inputs.push(t.to_str().expect("utf-8").to_string());
    }
    let nii = dir.path().join("x.nii");
    let mut args: Vec<&str> = vec!["convert"];
    args.extend(inputs.iter().map(String::as_str));
    args.extend(["-o", nii.to_str().expect("utf-8")]);
    let out = run(&args);
    assert!(
        !out.status.success(),
        "nothing convertible must exit non-zero"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("notes.txt") && stderr.contains("not a DICOM"),
        "{stderr}"
    );
    if truncated.is_some() {
        assert!(
            stderr.contains("trunc_001_000013_000005.dcm") && stderr.contains("incomplete"),
            "{stderr}"
        );
    }
    assert!(!nii.exists(), "no output may be written");
}
