//! Every session leaves a BIDS dataset (issue 11): the real analyser runs the built-in
//! sample on the Skyra run replayed through a real streamer, and the session's `bids/`
//! folder passes the official validator, holds dcm2niix's voxels, the DICOMs it got
//! (sourcedata/) and the project's results (derivatives/); replaying its sourcedata/
//! into a new session, or the dataset itself through the BIDS stream, gives the same
//! results.

use std::path::{Path, PathBuf};

use bids::BidsArchive;

use crate::projects::{builtin_settings, launch_dir, path_str, plotted_and_results};
use crate::site::{skyra_run, Site};
use crate::support::{read_nifti, shared_testdata};

/// Runs the built-in sample on `scanner_files` replayed through a real streamer;
/// returns the launch's folder.
fn remote_session(site: &Site, scanner_files: &Path) -> PathBuf {
    // blockTRs (a block design, as the glm project's) becomes the run's events file.
    let settings = builtin_settings(
        "sample",
        &site.path(""),
        &[
            ("imgDir", format!("{:?}", path_str(&site.path("scanner")))),
            ("blockTRs", "3".into()),
        ],
    );
    let settings = settings.display().to_string();
    let args = [
        "--data-remote",
        "--config",
        &settings,
        "--run-on-start",
        "--exit-after-run",
        "--project",
        "sample",
    ];
    let mut analyser = site.analyser(&args, "analyser.log");
    let port = analyser.port();
    let _streamer = site.streamer(port, "password", "streamer.log");
    let _replay = site.replay(scanner_files, 10, "0.2");
    assert!(
        analyser.wait_exit(),
        "the run failed: {}",
        analyser.stderr_text()
    );
    launch_dir(&site.path("sessions"), "sample")
}

#[test]
fn a_session_leaves_a_valid_bids_dataset_of_its_run() {
    let Some(testdata) = shared_testdata() else {
        return;
    };
    let Some(validator) = test_support::bids_validator() else {
        return;
    };
    let site = Site::new();
    let skyra = skyra_run(&testdata, &site);
    let launch = remote_session(&site, &skyra);
    let session = launch
        .parent()
        .and_then(|p| p.parent())
        .expect("session folder");
    let root = session.join("bids");
    let errors = test_support::bids_validator_errors(&validator, &root, &site.path(""));
    assert!(errors.is_empty(), "bids-validator errors: {errors:#?}");

    let archive = BidsArchive::open(&root).expect("the session's dataset");
    let runs = archive.runs().expect("lists");
    let stems: Vec<String> = runs.iter().map(|e| e.stem()).collect();
    // subjectName "subject-01" from the settings; session and task from the file's
    // BIDS-style ProtocolName (func_ses-01_task-faces_run-01, kept by the console's
    // Clean Descriptors Option), which comes before the project's name as the task.
    assert_eq!(stems, ["sub-subject01_ses-01_task-faces_run-01_bold"]);
    let image = archive.image_path(&runs[0]).expect("image");
    let (_, ours) = read_nifti(&image);
    let (_, reference) = read_nifti(&testdata.join("ref/siemens-mosaic-skyra-e11/series.nii"));
    assert_eq!(ours.shape(), reference.shape(), "shape");
    assert!(ours == reference, "the run's voxels differ from dcm2niix's");

    // Rest first, then task, 3 volumes each, TR 1.5 s, 10 volumes.
    let events = root
        .join(runs[0].folder())
        .join("sub-subject01_ses-01_task-faces_run-01_events.tsv");
    assert_eq!(
        std::fs::read_to_string(&events).expect("events file"),
        "onset\tduration\ttrial_type\n4.5\t4.5\ttask\n13.5\t1.5\ttask\n"
    );

    let sourcedata = root
        .join("sourcedata")
        .join(runs[0].folder())
        .join(runs[0].stem());
    let kept = std::fs::read_dir(&sourcedata).expect("sourcedata").count();
    assert_eq!(kept, 10, "DICOMs kept in {}", sourcedata.display());
    let results = root
        .join("derivatives/rtcloud-rs")
        .join(runs[0].folder())
        .join("sub-subject01_ses-01_task-faces_run-01_desc-results_timeseries.tsv");
    let text = std::fs::read_to_string(&results).expect("results in derivatives/");
    assert_eq!(text.lines().count(), 11, "header and 10 TRs:\n{text}");

    // The session replays exactly from its sourcedata/.
    let again = Site::new();
    let replayed = remote_session(&again, &sourcedata);
    assert_eq!(plotted_and_results(&replayed), plotted_and_results(&launch));

    // The dataset the archive wrote replays through the BIDS stream (the sample's
    // bidsDataset) with the live run's results.
    let bids_site = Site::new();
    let dataset = format!("{:?}", path_str(&root));
    let settings = builtin_settings("sample", &bids_site.path(""), &[("bidsDataset", dataset)]);
    let args = [
        "--test",
        "--config",
        path_str(&settings),
        "--allowed-dirs",
        path_str(&root),
        "--run-on-start",
        "--exit-after-run",
        "--project",
        "sample",
    ];
    let mut analyser = bids_site.analyser(&args, "analyser.log");
    assert!(
        analyser.wait_exit(),
        "the BIDS replay failed: {}",
        analyser.stderr_text()
    );
    let from_bids = launch_dir(&bids_site.path("sessions"), "sample");
    assert_eq!(
        plotted_and_results(&from_bids),
        plotted_and_results(&launch)
    );
}
