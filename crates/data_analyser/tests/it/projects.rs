//! Projects end to end with the real binaries: the analyser runs the sample project
//! (built into the analyser, and the Python one with the Python client) on the Skyra
//! run, from its own disk and from a streamer fed by a replaying "scanner", and the
//! plotted means must equal the means of dcm2niix's reference volumes.

use std::path::{Path, PathBuf};

use crate::site::{repo_root, skyra_run, Site};
use crate::support::{read_nifti, shared_testdata};

/// Means of the 10 reference volumes of the Skyra run (file _00000k is volume k-1).
pub fn reference_means(testdata: &Path) -> Vec<f64> {
    let (_, data) = read_nifti(&testdata.join("ref/siemens-mosaic-skyra-e11/series.nii"));
    let volumes = data.shape()[3];
    (0..volumes)
        .map(|t| {
            let volume = data.index_axis(ndarray::Axis(3), t);
            volume.sum() / volume.len() as f64
        })
        .collect()
}

/// The sample's settings with the scanner folder `img_dir`.
pub fn sample_settings(dir: &Path, img_dir: &Path) -> PathBuf {
    builtin_settings(
        "sample",
        dir,
        &[("imgDir", format!("{:?}", path_str(img_dir)))],
    )
}

/// A path as TOML and command lines take it.
pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Built-in project `name`'s default settings (crates/builtin_projects/conf) with the
/// lines of `changes` (key, TOML value) replaced or added, written into `dir`.
pub fn builtin_settings(name: &str, dir: &Path, changes: &[(&str, String)]) -> PathBuf {
    let conf = repo_root().join(format!("crates/builtin_projects/conf/{name}.toml"));
    let text = std::fs::read_to_string(&conf).unwrap_or_else(|e| panic!("{}: {e}", conf.display()));
    let mut lines: Vec<String> = text
        .lines()
        .map(|line| {
            let key = line.split('=').next().unwrap_or("").trim();
            match changes.iter().find(|(k, _)| *k == key) {
                Some((k, v)) => format!("{k} = {v}"),
                None => line.to_owned(),
            }
        })
        .collect();
    for (k, v) in changes {
        if !text
            .lines()
            .any(|l| l.split('=').next().unwrap_or("").trim() == *k)
        {
            lines.push(format!("{k} = {v}"));
        }
    }
    let path = dir.join(format!("{name}-settings.toml"));
    std::fs::write(&path, lines.join("\n") + "\n").expect("settings written");
    path
}

/// The one launch folder of the one session under `sessions`.
pub fn launch_dir(sessions: &Path, project: &str) -> PathBuf {
    let only = |dir: PathBuf| -> PathBuf {
        let entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("entry").path())
            .filter(|p| p.is_dir())
            .collect();
        assert_eq!(entries.len(), 1, "{}: {entries:?}", dir.display());
        entries.into_iter().next().expect("one")
    };
    only(only(sessions.join(project)).join("launches"))
}

/// (run, TR, value) rows of a launch's table.
pub type Rows = Vec<(i64, i64, f64)>;

/// Plotted (run, TR, value) and results.tsv (run, TR, value) of a launch.
pub fn plotted_and_results(launch: &Path) -> (Rows, Rows) {
    let parse = |text: String, skip: usize, cols: [usize; 3]| -> Rows {
        text.lines()
            .skip(skip)
            .map(|line| {
                let f: Vec<&str> = line.split('\t').collect();
                (
                    f[cols[0]].parse().expect("run"),
                    f[cols[1]].parse().expect("tr"),
                    f[cols[2]].parse().expect("value"),
                )
            })
            .collect()
    };
    let read = |name: &str| {
        std::fs::read_to_string(launch.join(name))
            .unwrap_or_else(|e| panic!("{}/{name}: {e}", launch.display()))
    };
    (
        parse(read("plot.tsv"), 0, [0, 1, 2]),
        parse(read("results.tsv"), 1, [1, 2, 3]),
    )
}

/// The launch plotted every TR's mean and fed back (mean - 0) / (1500 - 0).
fn assert_sample_outputs(launch: &Path, means: &[f64]) {
    let (plotted, results) = plotted_and_results(launch);
    assert_eq!(
        plotted.len(),
        means.len(),
        "a plot point per TR: {plotted:?}"
    );
    assert_eq!(results.len(), means.len(), "a result per TR: {results:?}");
    for (k, expected) in means.iter().enumerate() {
        let tr = k as i64 + 1;
        let (run, ptr, mean) = plotted[k];
        assert_eq!((run, ptr), (1, tr));
        assert!(
            ((mean - expected) / expected).abs() < 1e-6,
            "TR {tr}: plotted {mean}, reference {expected}"
        );
        let (run, rtr, feedback) = results[k];
        assert_eq!((run, rtr), (1, tr));
        assert!(
            (feedback - expected / 1500.0).abs() < 1e-9,
            "TR {tr}: {feedback}"
        );
    }
    let status = std::fs::read_to_string(launch.join("status.json")).expect("status");
    assert!(status.contains("\"outcome\": \"exit 0\""), "{status}");
}

/// The Python of the test environment (scripts/setup_python.sh), or None to skip.
pub fn test_python() -> Option<PathBuf> {
    let python = repo_root().join("target/pyenv/bin/python");
    if python.exists() {
        return Some(python);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} is missing: CI runs scripts/setup_python.sh first",
        python.display()
    );
    eprintln!(
        "skipping: no {} (run scripts/setup_python.sh)",
        python.display()
    );
    None
}

/// Which sample project to run.
enum Sample {
    Builtin,
    /// The built-in as a task of the analyser (`--in-process`, issue 14).
    BuiltinInProcess,
    Python(PathBuf),
}

impl Sample {
    fn args(&self) -> Vec<String> {
        match self {
            Sample::Builtin => vec!["--project".into(), "sample".into()],
            Sample::BuiltinInProcess => {
                vec!["--project".into(), "sample".into(), "--in-process".into()]
            }
            Sample::Python(python) => vec![
                "--projects".into(),
                repo_root().join("projects").display().to_string(),
                "--project".into(),
                "sample_py".into(),
                "--python".into(),
                python.display().to_string(),
            ],
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Sample::Builtin | Sample::BuiltinInProcess => "sample",
            Sample::Python(_) => "sample_py",
        }
    }
}

/// Runs `sample` once with `settings`, the analyser reading `skyra` from its own disk;
/// returns the launch's folder.
fn run_local_launch(site: &Site, sample: &Sample, settings: &Path, skyra: &Path) -> PathBuf {
    let mut args: Vec<String> = vec![
        "--test".into(),
        "--config".into(),
        settings.display().to_string(),
        "--allowed-dirs".into(),
        skyra.display().to_string(),
        "--run-on-start".into(),
        "--exit-after-run".into(),
    ];
    args.extend(sample.args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut analyser = site.analyser(&args, "analyser.log");
    assert!(
        analyser.wait_exit(),
        "the run failed: {}",
        analyser.stderr_text()
    );
    launch_dir(&site.path("sessions"), sample.name())
}

/// The analyser reads the Skyra files from its own disk.
fn run_local(sample: Sample) {
    let Some(testdata) = shared_testdata() else {
        return;
    };
    let site = Site::new();
    let skyra = testdata.join("siemens-mosaic-skyra-e11");
    let settings = sample_settings(site.path("").as_path(), &skyra);
    let launch = run_local_launch(&site, &sample, &settings, &skyra);
    assert_sample_outputs(&launch, &reference_means(&testdata));
}

/// The analyser gets the files from a streamer, over TLS, as a replay writes them.
fn run_remote(sample: Sample) {
    let Some(testdata) = shared_testdata() else {
        return;
    };
    let site = Site::new();
    let settings = sample_settings(site.path("").as_path(), &site.path("scanner"));
    let launch = run_remote_launch(&site, &testdata, &sample.args(), sample.name(), &settings);
    assert_sample_outputs(&launch, &reference_means(&testdata));
}

/// Runs project `name` (started with `project_args`) once with `settings`, fed by a
/// streamer over TLS as a replay of the Skyra run writes its 10 volumes into the
/// site's scanner/ folder; returns the launch's folder.
pub fn run_remote_launch(
    site: &Site,
    testdata: &Path,
    project_args: &[String],
    name: &str,
    settings: &Path,
) -> PathBuf {
    let skyra = skyra_run(testdata, site);
    let mut args: Vec<String> = vec![
        "--data-remote".into(),
        "--config".into(),
        settings.display().to_string(),
        "--run-on-start".into(),
        "--exit-after-run".into(),
    ];
    args.extend_from_slice(project_args);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut analyser = site.analyser(&args, "analyser.log");
    let port = analyser.port();
    let _streamer = site.streamer(port, "password", "streamer.log");
    let _replay = site.replay(&skyra, 10, "0.2");
    let ok = analyser.wait_exit();
    let launch = launch_dir(&site.path("sessions"), name);
    assert!(
        ok,
        "the run failed: {}\nthe launch's log:\n{}",
        analyser.stderr_text(),
        std::fs::read_to_string(launch.join("log.txt")).unwrap_or_default()
    );
    launch
}

#[test]
fn builtin_sample_on_the_analysers_disk_plots_the_reference_means() {
    run_local(Sample::Builtin);
}

#[test]
fn builtin_sample_fed_by_a_streamer_plots_the_reference_means() {
    run_remote(Sample::Builtin);
}

#[test]
fn builtin_sample_in_process_fed_by_a_streamer_plots_the_reference_means() {
    run_remote(Sample::BuiltinInProcess);
}

#[test]
fn python_sample_on_the_analysers_disk_plots_the_reference_means() {
    if let Some(python) = test_python() {
        run_local(Sample::Python(python));
    }
}

#[test]
fn python_sample_fed_by_a_streamer_plots_the_reference_means() {
    if let Some(python) = test_python() {
        run_remote(Sample::Python(python));
    }
}

#[test]
fn builtin_sample_serves_tr_0_like_rtcloud() {
    let Some(testdata) = shared_testdata() else {
        return;
    };
    let site = Site::new();
    let skyra = testdata.join("siemens-mosaic-skyra-e11");
    let settings = sample_settings(site.path("").as_path(), &skyra);
    let text = std::fs::read_to_string(&settings).expect("settings");
    assert!(text.contains("firstTR = 1") && text.contains("numTRs = 10"));
    let text = text
        .replace("firstTR = 1", "firstTR = 0")
        .replace("numTRs = 10", "numTRs = 2");
    std::fs::write(&settings, text).expect("settings written");
    let launch = run_local_launch(&site, &Sample::Builtin, &settings, &skyra);
    let (plotted, _) = plotted_and_results(&launch);
    // File _000000 of the Skyra run is a copy of its last volume (_000010, reference
    // volume 9); _000001 is reference volume 0.
    let means = reference_means(&testdata);
    let expected = [(0, means[9]), (1, means[0])];
    assert_eq!(plotted.len(), 2, "{plotted:?}");
    for ((run, tr, mean), (want_tr, want)) in plotted.iter().zip(expected) {
        assert_eq!((*run, *tr), (1, want_tr));
        assert!(
            ((mean - want) / want).abs() < 1e-6,
            "TR {tr}: {mean} vs {want}"
        );
    }
}

#[test]
fn a_failing_run_fails_the_analyser_and_names_the_log() {
    let site = Site::new();
    let settings = sample_settings(site.path("").as_path(), &site.path("no-such-scanner"));
    let settings = settings.display().to_string();
    let mut analyser = site.analyser(
        &[
            "--test",
            "--project",
            "sample",
            "--config",
            &settings,
            "--run-on-start",
            "--exit-after-run",
        ],
        "analyser.log",
    );
    assert!(
        !analyser.wait_exit(),
        "a run on a missing folder cannot succeed"
    );
    let stderr = analyser.stderr_text();
    assert!(stderr.contains("the run ended badly: exit 1"), "{stderr}");
    let log = launch_dir(&site.path("sessions"), "sample").join("log.txt");
    assert!(stderr.contains(&log.display().to_string()), "{stderr}");
    let log = std::fs::read_to_string(&log).expect("launch log");
    assert!(
        log.contains("no-such-scanner"),
        "the script's error is in the log: {log}"
    );
}

#[test]
fn roi_feedback_follows_the_synthetic_activation() {
    let site = Site::new();
    let scanner = site.path("synth");
    let scanner_arg = scanner.display().to_string();
    crate::support::run_ok(&[
        "synth",
        "--out",
        &scanner_arg,
        "--volumes",
        "40",
        "--tr",
        "2",
        // A BOLD-like response, as roi-feedback's nuisance model (its task convolved
        // with the canonical HRF) assumes; with an activation that switches with the
        // design the motion columns take the difference (issue 10).
        "--bold-lag",
    ]);
    let truth = crate::support::ground_truth(&scanner);
    let corner = |key: &str| truth[key].to_string();
    let settings = format!(
        "subjectName = \"synthetic\"\nrunNum = [1]\nscanNum = [1]\nimgDir = {scanner_arg:?}\n\
         dicomNamePattern = \"001_{{SCAN:06d}}_{{TR:06d}}.dcm\"\nminExpectedDicomSize = 1000\n\
         numTRs = 40\nbaselineTRs = 10\nmaxPercentChange = 4.0\n\
         roiBox = [{}, {}]\n",
        corner("roi_voxel_min"),
        corner("roi_voxel_max")
    );
    let settings_path = site.path("roi.toml");
    std::fs::write(&settings_path, settings).expect("settings");
    let settings_arg = settings_path.display().to_string();
    let mut analyser = site.analyser(
        &[
            "--test",
            "--project",
            "roi-feedback",
            "--config",
            &settings_arg,
            "--allowed-dirs",
            &scanner_arg,
            "--run-on-start",
            "--exit-after-run",
        ],
        "analyser.log",
    );
    assert!(
        analyser.wait_exit(),
        "the run failed: {}",
        analyser.stderr_text()
    );
    let (plotted, results) =
        plotted_and_results(&launch_dir(&site.path("sessions"), "roi-feedback"));
    assert_eq!(results.len(), 40);
    assert_eq!(plotted, results, "the plot shows what the participant gets");
    let design: Vec<u64> = truth["design"]
        .as_array()
        .expect("design")
        .iter()
        .map(|d| d.as_u64().expect("0 or 1"))
        .collect();
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for (k, &(_, _, feedback)) in results.iter().enumerate() {
        assert!((-1.0..=1.0).contains(&feedback), "TR {}: {feedback}", k + 1);
        if k < 10 {
            assert_eq!(feedback, 0.0, "no feedback during the baseline");
        } else if design[k] == 1 {
            on.push(feedback);
        } else {
            off.push(feedback);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(!on.is_empty() && !off.is_empty(), "design {design:?}");
    println!("feedback: on {:.3} off {:.3}", mean(&on), mean(&off));
    // A 2% activation with maxPercentChange 4 gives about 0.5 during "on" blocks.
    assert!(
        mean(&on) > 0.25 && mean(&off).abs() < 0.15,
        "on {:.3} off {:.3}",
        mean(&on),
        mean(&off)
    );
}
