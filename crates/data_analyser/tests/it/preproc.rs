//! Real-time preprocessing through the real analyser (issue 10): the built-in `motion`
//! and `glm` projects on a synthetic run with known rigid motion, and the worked Python
//! example of docs/user-guide.md section 8 through the project API's Preprocess service.

use std::path::Path;

use imaging::synth::{Synth, SynthMotion, SynthSpec};

use crate::projects::launch_dir;
use crate::site::{repo_root, Site};
use crate::support::shared_testdata;

/// Writes a synthetic run with rigid motion into `dir`; returns its ground truth.
fn moving_run(dir: &Path, volumes: usize) -> imaging::synth::GroundTruth {
    let synth = Synth::new(SynthSpec {
        volumes,
        motion: Some(SynthMotion {
            max_translation_mm: 2.0,
            max_rotation_deg: 2.0,
            task_locked: 0.5,
        }),
        ..SynthSpec::default()
    })
    .expect("synthetic spec");
    for i in 0..volumes {
        let file = synth.file(i).expect("synthetic volume");
        std::fs::write(dir.join(&file.file_name), file.bytes).expect("write volume");
    }
    synth.ground_truth()
}

/// The result dicts of a launch, in TR order.
fn result_dicts(launch: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(launch.join("results.tsv")).expect("results.tsv");
    text.lines()
        .skip(1)
        .map(|line| serde_json::from_str(line.split('\t').nth(3).expect("value column")).expect("a JSON dict"))
        .collect()
}

fn run_project(site: &Site, project_args: &[&str], settings: &str, data_dir: &Path) {
    let settings_path = site.path("settings.toml");
    std::fs::write(&settings_path, settings).expect("settings");
    let (settings_arg, data_arg) = (settings_path.display().to_string(), data_dir.display().to_string());
    let mut args = vec!["--test", "--config", &settings_arg, "--allowed-dirs", &data_arg, "--run-on-start", "--exit-after-run"];
    args.extend_from_slice(project_args);
    let mut analyser = site.analyser(&args, "analyser.log");
    assert!(analyser.wait_exit(), "the run failed: {}", analyser.stderr_text());
}

#[test]
fn motion_project_reports_the_true_motion_and_fd_every_tr() {
    let site = Site::new();
    let scanner = site.path("scanner");
    let truth = moving_run(&scanner, 16);
    let settings = format!(
        "subjectName = \"synthetic\"\nrunNum = [1]\nscanNum = [1]\nimgDir = {:?}\n\
         dicomNamePattern = \"001_{{SCAN:06d}}_{{TR:06d}}.dcm\"\nminExpectedDicomSize = 1000\nnumTRs = 16\n",
        scanner.display().to_string()
    );
    run_project(&site, &["--project", "motion"], &settings, &scanner);
    let results = result_dicts(&launch_dir(&site.path("sessions"), "motion"));
    assert_eq!(results.len(), 16, "a result per TR");
    let motion = truth.motion.expect("ground truth motion");
    let keys = ["tx_mm", "ty_mm", "tz_mm", "rx_deg", "ry_deg", "rz_deg"];
    let (mut sq, mut previous) = (0.0, [0.0; 6]);
    for (t, r) in results.iter().enumerate() {
        let got: Vec<f64> = keys.iter().map(|k| r[k].as_f64().expect("parameter")).collect();
        for a in 0..6 {
            sq += (got[a] - motion[t][a]).powi(2);
        }
        // FD (Power et al. 2012) of the reported parameters.
        let fd: f64 = (0..3).map(|a| (got[a] - previous[a]).abs()).sum::<f64>()
            + 50.0 * (3..6).map(|a| (got[a] - previous[a]).abs().to_radians()).sum::<f64>();
        let reported = r["fd_mm"].as_f64().expect("fd_mm");
        assert!((reported - if t == 0 { 0.0 } else { fd }).abs() < 1e-9, "TR {t}: fd {reported} vs {fd}");
        previous = got.try_into().expect("six");
    }
    let rms = (sq / (6.0 * results.len() as f64)).sqrt();
    println!("motion project: RMS error {rms:.4} (mm and degrees together)");
    assert!(rms <= 0.1, "RMS error {rms} over the six parameters");
}

#[test]
fn glm_project_finds_the_synthetic_activation() {
    let site = Site::new();
    let scanner = site.path("scanner");
    let truth = moving_run(&scanner, 40);
    let settings = format!(
        "subjectName = \"synthetic\"\nrunNum = [1]\nscanNum = [1]\nimgDir = {:?}\n\
         dicomNamePattern = \"001_{{SCAN:06d}}_{{TR:06d}}.dcm\"\nminExpectedDicomSize = 1000\nnumTRs = 40\n\
         blockTRs = 10\nroiBox = [{:?}, {:?}]\n",
        scanner.display().to_string(),
        truth.roi_voxel_min,
        truth.roi_voxel_max
    );
    run_project(&site, &["--project", "glm"], &settings, &scanner);
    let results = result_dicts(&launch_dir(&site.path("sessions"), "glm"));
    assert_eq!(results.len(), 40);
    let last = &results[39];
    let roi_t = last["roi_mean_t"].as_f64().expect("ROI t");
    println!("glm project, last TR: {last}");
    assert!(roi_t > 4.9, "the ROI's mean t {roi_t} is not over the threshold");
    assert!(last["voxels_over_threshold"].as_u64().expect("count") > 0);
}

/// The ```python block after `<!-- preprocess-example -->` in docs/user-guide.md.
fn documented_example() -> String {
    let guide = std::fs::read_to_string(repo_root().join("docs/user-guide.md")).expect("user guide");
    let after = guide.split("<!-- preprocess-example -->").nth(1).expect("example marker");
    let code = after.split("```python\n").nth(1).expect("python block");
    code.split("```").next().expect("block end").to_owned()
}

#[test]
fn the_documented_python_preprocessing_example_runs_against_the_analyser() {
    let Some(testdata) = shared_testdata() else {
        return;
    };
    let Some(python) = test_support::test_python_with("rtcloud_client") else {
        return;
    };
    let site = Site::new();
    let project = site.path("projects/preprocess_example");
    std::fs::create_dir_all(project.join("conf")).expect("project folder");
    std::fs::write(project.join("preprocess_example.py"), documented_example()).expect("script");
    let skyra = testdata.join("siemens-mosaic-skyra-e11");
    let settings = format!(
        "subjectName = \"doc\"\nrunNum = [1]\nscanNum = [13]\nimgDir = {:?}\n\
         dicomNamePattern = \"001_{{SCAN:06d}}_{{TR:06d}}.dcm\"\nminExpectedDicomSize = 200000\nnumTRs = 10\nblockTRs = 3\n",
        skyra.display().to_string()
    );
    std::fs::write(project.join("conf/preprocess_example.toml"), &settings).expect("project settings");
    let (projects, python) = (site.arg("projects"), python.display().to_string());
    run_project(
        &site,
        &["--projects", &projects, "--project", "preprocess_example", "--python", &python],
        &settings,
        &skyra,
    );
    let results = result_dicts(&launch_dir(&site.path("sessions"), "preprocess_example"));
    assert_eq!(results.len(), 10, "a result per TR");
    assert_eq!(results[0]["fd_mm"].as_f64(), Some(0.0));
    for r in &results {
        // A real, still participant: well under a millimetre from the first volume.
        assert!(r["tx_mm"].as_f64().expect("tx").abs() < 1.0, "{r}");
    }
    // 10 TRs and 8 columns leave residual degrees of freedom by the last TR.
    assert!(results[9]["max_t"].as_f64().is_some(), "{}", results[9]);
}
