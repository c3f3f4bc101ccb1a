//! The Run tab's brain view, motion plot and latency plot in chromium (issue 10): the
//! built-in `glm` project (motion correction, t-map, ROI) on a synthetic run with head
//! motion, fed by a streamer over TLS, its results going to analysis_listener;
//! tests/web/run_view.mjs presses Run, this test then starts the scanner, and the script
//! checks that each view updates with each TR (the latency plot with each TR's whole
//! timeline, issue 14) and saves screenshots in target/web-screenshots/
//! (run-view-mid.png, run-view-end.png, latency-plot.png).

use std::time::Duration;

use imaging::synth::{Synth, SynthMotion, SynthSpec};

use crate::projects::{builtin_settings, path_str};
use crate::site::Site;
use crate::web::{browser_script, browser_tools};

const TRS: usize = 24;

#[test]
fn the_run_tab_shows_brain_motion_and_latency_updating_with_each_tr() {
    let Some(chromium) = browser_tools() else {
        return;
    };
    let site = Site::new();
    // Blocks of 6 TRs with a BOLD-like lag and 1.5 mm / 1.5 degree sways: the ROI over
    // the t threshold and visible motion within 24 TRs.
    let synth = Synth::new(SynthSpec {
        volumes: TRS,
        block_s: 12.0,
        bold_lag: true,
        activation_percent: 5.0,
        motion: Some(SynthMotion {
            max_translation_mm: 1.5,
            max_rotation_deg: 1.5,
            task_locked: 0.0,
        }),
        ..SynthSpec::default()
    })
    .expect("synthetic run");
    let source = site.path("source");
    std::fs::create_dir_all(&source).expect("source folder");
    for index in 0..TRS {
        let file = synth.file(index).expect("a synthetic volume");
        std::fs::write(source.join(file.file_name), file.bytes).expect("written");
    }
    let truth = synth.ground_truth();
    let corner = |c: [usize; 3]| format!("[{}, {}, {}]", c[0], c[1], c[2]);
    let settings = builtin_settings(
        "glm",
        &site.path(""),
        &[
            ("imgDir", format!("{:?}", path_str(&site.path("scanner")))),
            ("numTRs", TRS.to_string()),
            ("scanNum", "[13]".into()),
            ("blockTRs", "6".into()),
            ("tThreshold", "3.5".into()),
            (
                "roiBox",
                format!(
                    "[{}, {}]",
                    corner(truth.roi_voxel_min),
                    corner(truth.roi_voxel_max)
                ),
            ),
        ],
    );
    let settings = settings.display().to_string();
    let analyser = site.analyser(
        &[
            "--data-remote",
            "--subject-remote",
            "--project",
            "glm",
            "--config",
            &settings,
        ],
        "analyser.log",
    );
    let port = analyser.port();
    let _streamer = site.streamer(port, "password", "streamer.log");
    let _listener = site.listener(port, "feedback", "listener.log");

    let browser = std::thread::spawn({
        let envs = vec![
            ("RTCLOUD_URL", format!("https://127.0.0.1:{port}")),
            ("RTCLOUD_USER", "scanner".to_owned()),
            ("RTCLOUD_PASSWORD", "correct horse".to_owned()),
            ("RTCLOUD_SERVER_CERT", site.arg("certs/server.crt")),
            ("RTCLOUD_TRS", TRS.to_string()),
        ];
        let log = site.path("browser.log");
        move || browser_script("run_view.mjs", &envs, &log, &chromium)
    });
    // The scanner starts once the page has pressed Run, so the page sees every TR.
    let sessions = site.path("sessions/glm");
    let pressed = loop {
        let launched = std::fs::read_dir(&sessions)
            .into_iter()
            .flatten()
            .flatten()
            .any(|s| s.path().join("launches/001-main").exists());
        if launched || browser.is_finished() {
            break launched;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _replay = pressed.then(|| site.replay(&site.path("source"), TRS, "0.4"));
    let (status, stdout, stderr) = browser.join().expect("the browser thread");
    assert!(
        pressed && status.success(),
        "the browser run failed (Run pressed: {pressed}, {status}; screenshots in \
         target/web-screenshots):\n{stdout}\n{stderr}\nanalyser:\n{}",
        analyser.stderr_text()
    );
}
