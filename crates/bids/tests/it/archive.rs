//! BidsArchive on real folders: append, list, read back, refuse, and stay as it was
//! when an append fails or the process dies during one.

use std::path::PathBuf;

use bids::archive::raw_description;
use bids::{BidsArchive, BidsIncremental, BidsRun};

use crate::common::{arguments, snapshot, synthetic_run, Snapshot};

#[test]
fn appended_runs_are_listed_and_read_back_equal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("dataset");
    let archive = BidsArchive::open_or_new(&root, raw_description("test")).expect("new");
    let first = synthetic_run(&arguments("01", "faces", "01"), 3);
    let image = archive
        .append_run(&first, Some("onset\tduration\ttrial_type\n0\t2\tface\n"))
        .expect("appends");
    assert_eq!(
        image,
        root.join("sub-01/func/sub-01_task-faces_run-01_bold.nii.gz")
    );
    let second = synthetic_run(&arguments("02", "faces", "02"), 2);
    archive.append_bids_run(&second).expect("appends");

    let archive = BidsArchive::open(&root).expect("opens");
    assert_eq!(archive.subjects().expect("lists"), ["01", "02"]);
    assert_eq!(archive.tasks().expect("lists"), ["faces"]);
    assert!(archive.sessions().expect("lists").is_empty());
    let runs = archive.runs().expect("lists");
    assert_eq!(runs.len(), 2);
    let participants = std::fs::read_to_string(root.join("participants.tsv")).expect("tsv");
    assert_eq!(participants, "participant_id\nsub-01\nsub-02\n");
    let events = root.join("sub-01/func/sub-01_task-faces_run-01_events.tsv");
    assert!(std::fs::read_to_string(events)
        .expect("events")
        .contains("face"));

    let back = archive.read_run(&runs[0]).expect("reads");
    assert_eq!(back.len(), 3);
    assert_eq!(back.metadata(), first.metadata());
    for t in 0..3 {
        let (ours, theirs) = (back.incremental(t), first.incremental(t));
        let (ours, theirs) = (ours.expect("volume"), theirs.expect("volume"));
        assert_eq!(ours.image_data(), theirs.image_data(), "volume {t}");
    }

    // Some entities select one run (run 1 is run-01); too few or wrong ones are named.
    let wanted = |pairs: &[(&str, &str)]| {
        let mut w = bids::EntitySource::default();
        for (k, v) in pairs {
            w.set(k, v);
        }
        w
    };
    let found = archive
        .find_run(&wanted(&[("sub", "01"), ("run", "1")]))
        .expect("one run");
    assert_eq!(found, runs[0]);
    let err = archive
        .find_run(&wanted(&[("task", "faces")]))
        .expect_err("two runs");
    assert!(
        err.to_string().starts_with("2 runs have task=faces"),
        "{err}"
    );
    let err = archive
        .find_run(&wanted(&[("sub", "03")]))
        .expect_err("no subject 03");
    assert!(
        err.to_string()
            .contains("its runs: sub-01_task-faces_run-01_bold, sub-02"),
        "{err}"
    );

    // The same run again is refused and changes nothing.
    let before = snapshot(&root);
    let err = archive.append_run(&first, None).expect_err("exists");
    assert!(err.to_string().contains("already in the dataset"), "{err}");
    assert_eq!(snapshot(&root), before);
}

#[test]
fn a_mismatching_incremental_is_refused_naming_the_field() {
    let mut run = synthetic_run(&arguments("01", "faces", "01"), 2);
    let other_run = synthetic_run(&arguments("01", "faces", "02"), 1);
    let inc: BidsIncremental = other_run.incremental(0).expect("volume 0");
    let err = run.append(inc).expect_err("another run");
    assert_eq!(
        err.to_string(),
        "entity run does not match the run: the run has \"01\", the new volume \"02\""
    );
    assert_eq!(run.len(), 2);
}

/// A dataset with subject 01's run, its snapshot, and a run of a new subject 02 (new
/// folders, a participants.tsv row, image, sidecar, events: four files to move).
fn dataset_and_a_new_subject() -> (tempfile::TempDir, PathBuf, BidsArchive, Snapshot, BidsRun) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("dataset");
    let archive = BidsArchive::open_or_new(&root, raw_description("test")).expect("new");
    archive
        .append_run(&synthetic_run(&arguments("01", "faces", "01"), 2), None)
        .expect("appends");
    let before = snapshot(&root);
    let run = synthetic_run(&arguments("02", "faces", "01"), 2);
    (dir, root, archive, before, run)
}

#[test]
fn a_failed_append_leaves_the_dataset_as_it_was() {
    let (_dir, root, archive, before, run) = dataset_and_a_new_subject();
    for moves in 0..4 {
        let err = archive
            .append_run_failing_after(&run, moves)
            .expect_err("injected failure");
        assert!(err.to_string().contains("injected failure"), "{err}");
        assert_eq!(snapshot(&root), before, "after failing at move {moves}");
    }
    archive.append_run(&run, None).expect("then it appends");
    assert_eq!(
        BidsArchive::open(&root)
            .expect("opens")
            .subjects()
            .expect("lists"),
        ["01", "02"]
    );
}

#[test]
fn a_crash_during_an_append_is_rolled_back_by_the_next_open() {
    let (_dir, root, archive, before, run) = dataset_and_a_new_subject();
    // participants.tsv is the last of the four files: every cut point is tried.
    for moves in 0..4 {
        archive
            .append_run_crashing_after(&run, moves)
            .expect("stops where a crash would");
        assert_ne!(snapshot(&root), before, "the crash left its staging behind");
        let reopened = BidsArchive::open(&root).expect("opens");
        assert_eq!(snapshot(&root), before, "after a crash at move {moves}");
        assert_eq!(reopened.subjects().expect("lists"), ["01"]);
    }
}

#[test]
fn a_crash_during_the_first_append_leaves_no_dataset() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("dataset");
    let archive = BidsArchive::open_or_new(&root, raw_description("test")).expect("new");
    let run = synthetic_run(&arguments("01", "faces", "01"), 1);
    archive.append_run_crashing_after(&run, 2).expect("crashes");
    assert!(root.exists());
    BidsArchive::open_or_new(&root, raw_description("test")).expect("recovers");
    assert!(!root.exists(), "the folder the append had made is gone");
}
