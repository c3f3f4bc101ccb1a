//! `data_analyser qa`: templates learned from the shared Siemens series, the offline
//! check's verdicts, stripped and corrupt first files (issue 12).
//!
//! What the two protocols differ in was read from the headers first (pydicom and
//! nibabel's CSA reader on the first file of each series, and dcm2niix's sidecars in
//! ../shared/testdata/ref): ep2d_Asc_2 vs cmrr_Asc_6 have TE 30 vs 34 ms, flip angle
//! 90 vs 52, GRAPPA 2 vs none, PhaseEncodingDirectionPositive 1 vs 0, PixelBandwidth 1775
//! vs 2300 Hz, BandwidthPerPixelPhaseEncode 48.077 vs 31.25 Hz, SequenceName
//! `*epfid2d1_64` vs `epfid2d1_64`, SequenceVariant SK vs SK\SS, tSequenceFileName
//! ep2d_bold vs cmrr_mbep2d_bold; the same TR (3200 ms), matrix (64x64), FOV, voxel
//! size. They also differ in slice count (sSliceArray.lSize and NumberOfImagesInMosaic
//! 36 vs 40) and duration (lTotalScanTimeSec 30 vs 24 s), which issue 12 expected equal:
//! the data decides, so both are flagged. Shims differ by at most 7 units (within ±10).

use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;

use crate::projects::sample_settings;
use crate::site::{repo_root, sibling_bin, Running, Site};
use crate::support::{run, run_ok, shared_testdata, text};

const EP2D: &str = "siemens-mosaic-d13/ep2d_Asc_2";
const CMRR: &str = "siemens-mosaic-d13/cmrr_Asc_6";
const STUDY: &str = "Research^Rorden_Prisma";

/// The parameters the check flags (red) between the two protocols, either way round.
const DIFFERING: &[&str] = &[
    "te_ms",
    "flip_angle_deg",
    "slice_count",
    "pe_polarity",
    "parallel_factor",
    "pixel_bandwidth_hz",
    "pe_bandwidth_hz",
    "duration_s",
    "sequence_name",
    "sequence_variant",
    "pulse_sequence",
];

/// `(parameter, series value, verdict)` rows of every table in `qa check`'s output.
fn rows(stdout: &str) -> Vec<(String, String, String)> {
    stdout
        .lines()
        .filter(|l| l.ends_with("green") || l.ends_with("amber") || l.ends_with("red"))
        .filter(|l| !l.starts_with("series "))
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let verdict = words.last().copied().unwrap_or_default();
            (
                words[0].to_string(),
                words.get(1).copied().unwrap_or_default().to_string(),
                verdict.to_string(),
            )
        })
        .collect()
}

fn with_verdict(stdout: &str, verdict: &str) -> Vec<String> {
    let mut v: Vec<String> = rows(stdout)
        .into_iter()
        .filter(|r| r.2 == verdict)
        .map(|r| r.0)
        .collect();
    v.sort();
    v
}

/// Every parameter of every table green.
fn assert_all_green(stdout: &str) {
    let rows = rows(stdout);
    assert_eq!(rows.len() % 24, 0, "{stdout}");
    assert!(
        !rows.is_empty() && rows.iter().all(|r| r.2 == "green"),
        "{stdout}"
    );
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `data_analyser qa --sessions-dir SESSIONS ARGS...`.
fn qa_run(sessions: &Path, args: &[&str]) -> std::process::Output {
    run(&[&["qa", "--sessions-dir", path_str(sessions)], args].concat())
}

/// [`qa_run`], asserting success.
fn qa_ok(sessions: &Path, args: &[&str]) -> std::process::Output {
    run_ok(&[&["qa", "--sessions-dir", path_str(sessions)], args].concat())
}

/// `qa set --study STUDY --series SERIES PARAMETER FLAG VALUE`, asserting success.
fn qa_set(sessions: &Path, series: &str, parameter: &str, flag: &str, value: &str) {
    let args = [
        "set", "--study", STUDY, "--series", series, parameter, flag, value,
    ];
    qa_ok(sessions, &args);
}

fn check(sessions: &Path, folder: &Path, template: Option<&str>) -> std::process::Output {
    let mut args = vec!["check", path_str(folder)];
    if let Some(series) = template {
        args.extend(["--study", STUDY, "--series", series]);
    }
    qa_run(sessions, &args)
}

#[test]
fn learned_templates_pass_their_series_and_flag_exactly_the_other_protocols_differences() {
    let Some(td) = shared_testdata() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let sessions = dir.path().join("sessions");
    let (ep2d, cmrr) = (td.join(EP2D), td.join(CMRR));
    let out = qa_ok(&sessions, &["learn", path_str(&ep2d), path_str(&cmrr)]);
    assert!(
        text(&out.stdout).contains("2 template(s) from 2 series"),
        "{}",
        text(&out.stdout)
    );
    assert!(sessions.join("protocol-qa.sqlite").is_file());

    for folder in [&ep2d, &cmrr] {
        let out = check(&sessions, folder, None);
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
        assert_all_green(&stdout);
    }
    for (folder, other) in [(&ep2d, "cmrr_Asc"), (&cmrr, "ep2d_Asc")] {
        let out = check(&sessions, folder, Some(other));
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "deviations exit 1:\n{stdout}");
        assert_eq!(with_verdict(&stdout, "red"), sorted(DIFFERING), "{stdout}");
        // The CMRR export has no ImaPATModeText, so its multiband factor is unknown.
        assert_eq!(
            with_verdict(&stdout, "amber"),
            sorted(&["multiband_factor"]),
            "{stdout}"
        );
        for same in [
            "tr_ms",
            "matrix",
            "fov_mm",
            "pixel_spacing_mm",
            "slice_thickness_mm",
            "shim",
        ] {
            let row = rows(&stdout)
                .into_iter()
                .find(|r| r.0 == same)
                .expect("row");
            assert_eq!(row.2, "green", "{same}: {stdout}");
        }
    }

    // Editing by hand: a tighter shim tolerance turns the 7-unit re-shim red.
    qa_set(&sessions, "ep2d_Asc", "shim", "--tolerance", "±5");
    let shown = text(&qa_ok(&sessions, &["show"]).stdout);
    assert!(shown.contains("±5"), "{shown}");
    let out = check(&sessions, &cmrr, Some("ep2d_Asc"));
    assert!(with_verdict(&text(&out.stdout), "red").contains(&"shim".to_string()));
    let bad = qa_run(
        &sessions,
        &[
            "set", "--study", STUDY, "--series", "ep2d_Asc", "tr", "--value", "1",
        ],
    );
    assert!(
        !bad.status.success() && text(&bad.stderr).contains("unknown parameter"),
        "{}",
        text(&bad.stderr)
    );
}

/// A copy of the ep2d series in `dir/name` with its first file replaced by `first`.
fn series_copy(td: &Path, dir: &Path, name: &str, first: &[u8]) -> PathBuf {
    let src = td.join(EP2D);
    let out = dir.join(name);
    std::fs::create_dir_all(&out).expect("mkdir");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&src)
        .expect("ls")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    for (i, f) in files.iter().enumerate() {
        let bytes = if i == 0 {
            first.to_vec()
        } else {
            std::fs::read(f).expect("read")
        };
        std::fs::write(out.join(f.file_name().expect("name")), bytes).expect("write");
    }
    out
}

#[test]
fn stripped_fields_are_unknown_and_a_corrupt_first_file_is_skipped() {
    let Some(td) = shared_testdata() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let sessions = dir.path().join("sessions");
    qa_ok(&sessions, &["learn", path_str(&td.join(EP2D))]);
    let first = td.join(EP2D).join("IM-0001-0001.dcm");

    // Strip what a real-time export may lack: TR, TE, flip angle, bandwidth and the CSA
    // series header (the ASCCONV protocol, which would otherwise supply them).
    let mut obj = dicom_object::open_file(&first).expect("open first file");
    for tag in [
        tags::REPETITION_TIME,
        tags::ECHO_TIME,
        tags::FLIP_ANGLE,
        tags::PIXEL_BANDWIDTH,
    ] {
        obj.remove_element(tag);
    }
    obj.remove_element(dicom_core::Tag(0x0029, 0x1020));
    let mut stripped = Vec::new();
    obj.write_all(&mut stripped).expect("write stripped file");
    let folder = series_copy(&td, dir.path(), "stripped", &stripped);
    let out = check(&sessions, &folder, None);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "unknown is not a deviation:\n{stdout}"
    );
    // What only the stripped attributes or the ASCCONV protocol give is unknown (amber);
    // the CSA image header still gives slice count, polarity and coil. Nothing is an error.
    let mut unknown: Vec<String> = rows(&stdout)
        .into_iter()
        .filter(|r| r.1 == "unknown")
        .map(|r| r.0)
        .collect();
    unknown.sort();
    assert_eq!(
        unknown,
        sorted(&[
            "tr_ms",
            "te_ms",
            "flip_angle_deg",
            "pixel_bandwidth_hz",
            "fov_mm",
            "parallel_factor",
            "duration_s",
            "pulse_sequence",
            "shim"
        ]),
        "{stdout}"
    );
    assert_eq!(with_verdict(&stdout, "amber"), unknown, "{stdout}");

    // A corrupt first file: reported, and the series is read from its second file.
    let folder = series_copy(
        &td,
        dir.path(),
        "corrupt",
        &b"DICM but not really".repeat(40),
    );
    let out = check(&sessions, &folder, None);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("IM-0001-0001.dcm")
            && stderr.contains("the next file of the series is used"),
        "{stderr}"
    );
    assert!(stdout.contains("IM-0001-0002.dcm"), "{stdout}");
    assert_all_green(&stdout);
}

/// Two consoles replaying different series at once into one analyser: each station's
/// live QA page (tests/web/qa.mjs in chromium) shows only its own series, green for the
/// one matching its learned template and red for the one whose template was edited,
/// and the Run tab's banner shows the project station's deviation.
#[test]
fn each_stations_live_qa_page_shows_only_its_own_series() {
    let Some(chromium) = crate::web::browser_tools() else {
        return;
    };
    let Some(td) = shared_testdata() else { return };
    let site = Site::new();
    let sessions = site.path("sessions");
    qa_ok(
        &sessions,
        &["learn", path_str(&td.join(EP2D)), path_str(&td.join(CMRR))],
    );
    // The CMRR template now expects flip angle 90: its series deviates.
    qa_set(&sessions, "cmrr_Asc", "flip_angle_deg", "--value", "90");
    for dir in ["scanner-a", "scanner-b"] {
        std::fs::create_dir(site.path(dir)).expect("scanner folder");
    }
    let settings = sample_settings(site.path("").as_path(), &site.path("scanner-b"));
    let settings = settings.display().to_string();
    let analyser = site.analyser(
        &[
            "--data-remote",
            "--station",
            "console-b",
            "--project",
            "sample",
            "--config",
            &settings,
        ],
        "analyser.log",
    );
    let port = analyser.port();
    // Each console also serves its own scanner folder (besides the site's empty one).
    let streamer = |station: &str, dir: &str| {
        let extra = ["--station", station, "--allowed-dirs", &site.arg(dir)];
        site.streamer_with(
            port,
            "scanner",
            "password",
            &extra,
            &format!("streamer-{station}.log"),
        )
    };
    let _a = streamer("console-a", "scanner-a");
    let _b = streamer("console-b", "scanner-b");

    let screenshots = repo_root().join("target/web-screenshots/qa");
    // Running::start sets no environment of ours: the script's settings go in a file.
    let config = serde_json::json!({
        "url": format!("https://127.0.0.1:{port}"),
        "user": "scanner",
        "password": "correct horse",
        "ca": site.arg("certs/ca.crt"),
        "server_cert": site.arg("certs/server.crt"),
        "screenshots": screenshots,
        "chromium": chromium,
    });
    let config_file = site.path("qa-browser.json");
    std::fs::write(&config_file, config.to_string()).expect("browser config");
    let node = Running::start(
        Path::new("node"),
        &[
            path_str(&repo_root().join("tests/web/qa.mjs")),
            path_str(&config_file),
        ],
        site.path("browser.log"),
    );
    let logs = || format!("analyser:\n{}", analyser.stderr_text());
    node.wait_line_or("READY from the browser", |l| l == "READY", logs);
    // Both consoles write their series at once, in Siemens real-time names.
    let replay = |source: &str, into: &str, pattern: &str, log: &str| {
        let (source, into) = (td.join(source), site.path(into));
        Running::start(
            &sibling_bin("data_streamer"),
            &[
                "replay",
                "--source",
                path_str(&source),
                "--into",
                path_str(&into),
                "--tr",
                "0.3",
                "--rename",
                pattern,
            ],
            site.path(log),
        )
    };
    let _ra = replay(
        EP2D,
        "scanner-a/20261201_a",
        "001_000002_{TR:06d}.dcm",
        "replay-a.log",
    );
    let _rb = replay(
        CMRR,
        "scanner-b/20261201_b",
        "001_000006_{TR:06d}.dcm",
        "replay-b.log",
    );
    let done = node.wait_line_or(
        "the browser's verdict",
        |l| l.starts_with("PASS") || l.starts_with("FAIL"),
        logs,
    );
    assert!(
        done.starts_with("PASS"),
        "{done}\n{}\n{}",
        node.stderr_text(),
        logs()
    );
    let log = std::fs::read_to_string(
        site.path("sessions/sample")
            .read_dir()
            .expect("session")
            .next()
            .expect("one")
            .expect("entry")
            .path()
            .join("session.log"),
    )
    .unwrap_or_default();
    assert!(
        log.contains("protocol QA console-a scanner-a/20261201_a/001_000002: green"),
        "{log}"
    );
    assert!(
        log.contains(
            "protocol QA console-b scanner-b/20261201_b/001_000006: red (flip_angle_deg deviate)"
        ),
        "{log}"
    );
}
