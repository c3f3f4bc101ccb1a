//! The projects crate with real scripts (python3 and bash) in temp project folders.

mod config;
mod runner;

use std::path::Path;

/// Writes `text` to `dir/rel`, creating folders.
pub fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("folders");
    std::fs::write(path, text).expect("write");
}

pub const SETTINGS: &str = r#"title = "Sample"
subjectName = "sub-01"
runNum = [1, 2]
scanNum = [13, 14]
plotYRangeLow = -1.5
plotYRangeHigh = 1.5
roiRadius = 6
useMotionCorrection = true
"#;
