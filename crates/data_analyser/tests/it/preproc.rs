//! Real-time preprocessing end to end (issue 10): the built-in `motion` project and the
//! user guide's worked Python example (which uses the project API's Preprocess service
//! through the Python client), each fed by a streamer replaying the Skyra run over TLS.
//! Every TR's result holds FD and the six rigid parameters, and they equal the same
//! preprocessing done here in-process on the original files.

use std::path::Path;

use builtin_projects::preprocess::Preprocess;

use crate::projects::{builtin_settings, path_str, run_remote_launch, test_python};
use crate::site::Site;
use crate::support::shared_testdata;

const PARAMS: [&str; 6] = ["tx_mm", "ty_mm", "tz_mm", "rx_deg", "ry_deg", "rz_deg"];

/// (FD, six parameters) of the Skyra run's volumes 1..=10, preprocessed in-process as
/// the built-in projects do (first volume the reference).
fn in_process(testdata: &Path) -> Vec<(f64, [f64; 6])> {
    let dir = testdata.join("siemens-mosaic-skyra-e11");
    let mut pre: Option<Preprocess> = None;
    (1..=10)
        .map(|k| {
            let bytes = std::fs::read(dir.join(format!("001_000013_{k:06}.dcm"))).expect("file");
            let volume = imaging::volume_from_file(&bytes).expect("a Skyra volume");
            let pre = match &mut pre {
                Some(p) => p,
                empty => empty.insert(
                    Preprocess::new(&volume, true, realtime::MotionThresholds::default())
                        .expect("reference"),
                ),
            };
            let out = pre.push(&volume).expect("preprocessed");
            (out.quality.fd_mm, out.motion.params.as_array())
        })
        .collect()
}

/// The result dicts of a launch's results.tsv, in order.
fn result_dicts(launch: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(launch.join("results.tsv")).expect("results.tsv");
    text.lines()
        .skip(1)
        .map(|line| {
            let value = line.split('\t').nth(3).expect("a value column");
            serde_json::from_str(value).unwrap_or_else(|e| panic!("{value}: {e}"))
        })
        .collect()
}

/// Each TR's dict has `fd_mm` and the six parameters, equal to `expected` (to the last
/// digits a JSON number round trip keeps).
fn assert_motion_results(results: &[serde_json::Value], expected: &[(f64, [f64; 6])]) {
    assert_eq!(
        results.len(),
        expected.len(),
        "a result per TR: {results:?}"
    );
    let same = |a: f64, b: f64| (a - b).abs() <= 1e-9 * (1.0 + b.abs());
    for (k, (result, (fd, params))) in results.iter().zip(expected).enumerate() {
        let number = |key: &str| {
            result[key]
                .as_f64()
                .unwrap_or_else(|| panic!("TR {}: no number {key} in {result}", k + 1))
        };
        assert_eq!(result["tr"], serde_json::json!(k + 1), "{result}");
        assert!(
            same(number("fd_mm"), *fd),
            "TR {}: FD {result} vs {fd}",
            k + 1
        );
        for (key, want) in PARAMS.iter().zip(params) {
            assert!(
                same(number(key), *want),
                "TR {}: {key} {result} vs {want}",
                k + 1
            );
        }
    }
    // The run's first volume is the reference (registered to itself: no motion beyond
    // rounding); the others moved (a real run does).
    let still = |key: &&str| results[0][*key].as_f64().is_some_and(|p| p.abs() < 1e-4);
    assert!(PARAMS.iter().all(still), "{}", results[0]);
    assert!(
        expected[1..].iter().any(|(fd, _)| *fd > 1e-3),
        "{expected:?}"
    );
}

#[test]
fn motion_project_fed_by_a_streamer_reports_fd_and_parameters_per_tr() {
    let Some(testdata) = shared_testdata() else {
        return;
    };
    let site = Site::new();
    let settings = builtin_settings(
        "motion",
        &site.path(""),
        &[
            ("imgDir", format!("{:?}", path_str(&site.path("scanner")))),
            ("numTRs", "10".into()),
            ("scanNum", "[13]".into()),
        ],
    );
    let args = ["--project".to_owned(), "motion".to_owned()];
    let launch = run_remote_launch(&site, &testdata, &args, "motion", &settings);
    let results = result_dicts(&launch);
    assert_motion_results(&results, &in_process(&testdata));
    let last = &results[9];
    assert!(
        last["dvars"].as_f64().is_some() && last["counts"].is_object(),
        "{last}"
    );
}

/// The user guide's worked example (the Python block after `<!-- preprocess-example -->`).
fn guide_example() -> String {
    let guide = std::fs::read_to_string(crate::site::repo_root().join("docs/user-guide.md"))
        .expect("docs/user-guide.md");
    let after = guide
        .split_once("<!-- preprocess-example -->\n```python\n")
        .expect("the preprocess example in docs/user-guide.md")
        .1;
    after.split_once("\n```").expect("its end").0.to_owned() + "\n"
}

#[test]
fn the_user_guides_python_preprocess_example_matches_the_in_process_result() {
    let (Some(testdata), Some(python)) = (shared_testdata(), test_python()) else {
        return;
    };
    let site = Site::new();
    let project = site.path("projects/preprocess_example");
    std::fs::create_dir_all(&project).expect("project folder");
    std::fs::write(project.join("preprocess_example.py"), guide_example()).expect("script");
    let settings = builtin_settings(
        "glm",
        &site.path(""),
        &[
            ("imgDir", format!("{:?}", path_str(&site.path("scanner")))),
            ("numTRs", "10".into()),
            ("scanNum", "[13]".into()),
            ("blockTRs", "2".into()),
        ],
    );
    let args = [
        "--projects",
        path_str(&site.path("projects")),
        "--project",
        "preprocess_example",
        "--python",
        path_str(&python),
    ]
    .map(str::to_owned);
    let launch = run_remote_launch(&site, &testdata, &args, "preprocess_example", &settings);
    let results = result_dicts(&launch);
    assert_motion_results(&results, &in_process(&testdata));
    // 10 TRs of a design with 8 columns: a t-map from the ninth TR on (0 outside the
    // mask, so a map of NaN would give 0 here).
    let max_t = results[9]["max_t"].as_f64();
    assert!(
        max_t.is_some_and(|t| t.is_finite() && t > 0.0),
        "{}",
        results[9]
    );
}
