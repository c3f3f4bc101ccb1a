//! Settings: checks with clear errors, edits that keep types, reset, atomic save.

use projects::{ProjectConfig, ProjectError};

use crate::{write, SETTINGS};

fn load(text: &str) -> Result<ProjectConfig, ProjectError> {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "conf/p.toml", text);
    ProjectConfig::load(&dir.path().join("conf/p.toml"))
}

#[test]
fn required_fields_are_checked_with_the_file_and_key_named() {
    for (text, expected) in [
        ("subjectName = \"s\"\nscanNum = [1]", "runNum is missing"),
        (
            "subjectName = \"s\"\nrunNum = [1]\nscanNum = \"13\"",
            "scanNum must be an array of integers, not string",
        ),
        ("runNum = [1]\nscanNum = [1]", "subjectName is missing"),
        (
            "subjectName = 3\nrunNum = [1]\nscanNum = [1]",
            "subjectName must be a string",
        ),
        (
            "subjectName = \"s\"\nrunNum = [1]\nscanNum = [1]\nplotYRangeLow = \"low\"",
            "plotYRangeLow must be a number",
        ),
        (
            "subjectName = \"s\"\nrunNum = [1.5]\nscanNum = [1]",
            "runNum must be an array of integers",
        ),
        ("this is not toml", "p.toml"),
    ] {
        let err = load(text).expect_err(text).to_string();
        assert!(err.contains(expected), "{text:?}: {err}");
        assert!(err.contains("p.toml"), "names the file: {err}");
    }
    // RT-Cloud's openNeuroClient.toml has runNum = ["01"].
    let digits = load("subjectName = \"s\"\nrunNum = [\"01\"]\nscanNum = [1]").expect("digits");
    assert_eq!(digits.runs(), [1]);
}

#[test]
fn edits_keep_each_fields_type_and_reset_restores_the_file() {
    let mut config = load(SETTINGS).expect("loads");
    assert_eq!(config.runs(), [1, 2]);
    assert_eq!(config.scans(), [13, 14]);
    assert_eq!(config.subject_name(), "sub-01");

    config
        .set_from_text("runNum", "[3, 4, 5]")
        .expect("array of ints");
    config
        .set_from_text("scanNum", "7")
        .expect("a single element");
    config.set_from_text("roiRadius", " 8 ").expect("integer");
    config
        .set_from_text("plotYRangeLow", "-2")
        .expect("float field takes an integer text");
    config
        .set_from_text("useMotionCorrection", "false")
        .expect("bool");
    config
        .set_from_text("subjectName", "sub-02")
        .expect("string");
    let t = config.table();
    assert_eq!(config.runs(), [3, 4, 5]);
    assert_eq!(config.scans(), [7]);
    assert_eq!(t["roiRadius"].as_integer(), Some(8));
    assert_eq!(t["plotYRangeLow"].as_float(), Some(-2.0));
    assert_eq!(t["useMotionCorrection"].as_bool(), Some(false));
    assert_eq!(config.subject_name(), "sub-02");

    for (key, text, expected) in [
        ("roiRadius", "six", "roiRadius must be an integer"),
        ("runNum", "1, two", "runNum must be a list of integers"),
        ("useMotionCorrection", "yes", "must be a boolean"),
        ("noSuchKey", "1", "noSuchKey is not a setting"),
    ] {
        let err = config.set_from_text(key, text).expect_err(text).to_string();
        assert!(err.contains(expected), "{key}={text}: {err}");
    }
    assert_eq!(
        config.table()["roiRadius"].as_integer(),
        Some(8),
        "a refused edit changes nothing"
    );

    config.reset();
    assert_eq!(config.runs(), [1, 2]);
    assert_eq!(config.table()["roiRadius"].as_integer(), Some(6));
}

#[test]
fn saved_settings_read_back_the_same_in_the_same_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = load(SETTINGS).expect("loads");
    config.set_from_text("roiRadius", "9").expect("edit");
    let saved = dir.path().join("session-config.toml");
    config.write_to(&saved).expect("saved");
    let again = ProjectConfig::load(&saved).expect("loads again");
    assert_eq!(again.table(), config.table());
    let keys: Vec<&String> = again.table().keys().collect();
    assert_eq!(keys[..3], ["title", "subjectName", "runNum"]);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).expect("list").collect();
    assert_eq!(leftovers.len(), 1, "no temp file left");
}
