//! Access to ../shared/testdata (real scanner data), as in the imaging tests.
//!
//! Under CI=true a missing ../shared is a failure, not a skip.

use std::path::{Path, PathBuf};

/// `../shared/testdata` next to the repo root, or `None` (test skipped) outside CI.
pub fn shared_testdata() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata");
    if dir.is_dir() {
        return Some(dir.canonicalize().expect("canonical testdata path"));
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "../shared/testdata is missing at {}: CI must have it",
            dir.display()
        );
    }
    eprintln!(
        "skipping: ../shared/testdata not found at {}",
        dir.display()
    );
    None
}
