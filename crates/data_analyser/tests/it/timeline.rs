//! The whole timeline of each TR (issue 14) with the real binaries: the Skyra run
//! replayed into the scanner folder, the streamer, the analyser running `sample` and
//! analysis_listener; the launch's timeline.tsv must hold every TR once, every stamp
//! present and in the order the volume and its result went through.

use std::collections::HashMap;

use crate::projects::sample_settings;
use crate::site::{sample_run_args, skyra_run, Site};
use crate::support::shared_testdata;

const TRS: usize = 10;

/// The stamps of one TR in the order they must come (`converted` is checked apart: the
/// sample project takes the DICOM file, which the analyser then does not decode).
const ORDER: [&str; 11] = [
    "acquired",
    "acquisition_end",
    "detected",
    "sent",
    "received",
    "served",
    "result",
    "listener_received",
    "shown",
    "acked",
    // Sentinel so the windows below cover "acked" too.
    "acked",
];

#[test]
fn every_tr_has_a_complete_and_ordered_timeline_from_acquisition_to_listener() {
    let Some(testdata) = shared_testdata() else {
        return;
    };
    let site = Site::new();
    let skyra = skyra_run(&testdata, &site);
    let settings = sample_settings(&site.path(""), &site.path("scanner"))
        .display()
        .to_string();
    let mut analyser = site.analyser(&sample_run_args(&settings), "analyser.log");
    let port = analyser.port();
    let _streamer = site.streamer(port, "password", "streamer.log");
    let _listener = site.listener(port, "feedback", "listener.log");
    let _replay = site.replay(&skyra, TRS, "0.4");
    assert!(
        analyser.wait_exit(),
        "the run failed: {}",
        analyser.stderr_text()
    );

    let session = std::fs::read_dir(site.path("sessions/sample"))
        .expect("the session folder")
        .flatten()
        .next()
        .expect("one session")
        .path();
    let tsv = std::fs::read_to_string(session.join("launches/001-main/timeline.tsv"))
        .expect("timeline.tsv");
    // Shown with --nocapture: the stamps of a real run, for reading.
    eprintln!("{tsv}");
    let mut lines = tsv.lines();
    let header: Vec<&str> = lines.next().expect("a header").split('\t').collect();
    let rows: Vec<HashMap<&str, &str>> = lines
        .map(|l| header.iter().copied().zip(l.split('\t')).collect())
        .collect();
    let trs: Vec<&str> = rows.iter().map(|r| r["tr"]).collect();
    let expected: Vec<String> = (1..=TRS).map(|k| k.to_string()).collect();
    assert_eq!(trs, expected, "every TR once, in order:\n{tsv}");
    // The Skyra run's RepetitionTime, from its header.
    let tr_s = imaging::prescan::header_times(
        &std::fs::read(skyra.join("001_000013_000001.dcm")).expect("a Skyra file"),
    )
    .repetition_time_s
    .expect("the Skyra files have a RepetitionTime");
    for row in &rows {
        let time = |column: &str| -> f64 {
            row[column]
                .parse()
                .unwrap_or_else(|_| panic!("{column} missing or not a number in {row:?}"))
        };
        for pair in ORDER.windows(2) {
            assert!(
                time(pair[0]) <= time(pair[1]),
                "{} after {} in {row:?}",
                pair[0],
                pair[1]
            );
        }
        if !row["converted"].is_empty() {
            assert!(time("served") <= time("converted") && time("converted") <= time("result"));
        }
        assert!(
            (time("acquisition_end") - time("acquired") - tr_s).abs() < 1e-6,
            "the acquisition lasts one TR ({tr_s} s): {row:?}"
        );
        // One machine, one clock: each measured offset lies within its own uncertainty
        // (the remote reading falls inside the round trip), so none is applied.
        assert_eq!(
            (time("console_offset_s"), time("listener_offset_s")),
            (0.0, 0.0)
        );
        // The Skyra files were acquired years ago: their time of day is placed within
        // 7.5 minutes of now, so the scanner delay is almost always implausible and the
        // offset estimated from the run; a replay that happens to fall within 30 s of
        // the original time of day (modulo 15 minutes) reads as live. Either way the
        // order above holds.
        assert!(
            ["estimated", "console"].contains(&row["scanner_clock"]),
            "{row:?}"
        );
    }
}
