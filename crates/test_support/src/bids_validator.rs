//! The official BIDS validator (npm bids-validator, pinned in tests/bids, installed into
//! target/bids-validator by scripts/setup_bids.sh), run on a dataset folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::ChildGuard;

/// The validator's executable, or `None` so the test skips. Under CI=true a missing
/// validator is a failure: CI runs scripts/setup_bids.sh (through scripts/setup.sh).
pub fn bids_validator() -> Option<PathBuf> {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/bids-validator/node_modules/.bin/bids-validator");
    if bin.exists() {
        return Some(bin);
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "{} is missing: CI runs scripts/setup_bids.sh first",
        bin.display()
    );
    eprintln!("skipping: run scripts/setup_bids.sh for {}", bin.display());
    None
}

/// The validator's errors on the dataset `root` (its JSON report's `issues.errors`,
/// each as JSON text); its warnings are printed. The report is kept as
/// `report_dir/validator.json`. Panics when the validator prints no JSON report.
pub fn bids_validator_errors(bin: &Path, root: &Path, report_dir: &Path) -> Vec<String> {
    let report = report_dir.join("validator.json");
    let file = std::fs::File::create(&report).expect("report file");
    let mut child = ChildGuard::spawn(
        Command::new(bin)
            .arg("--json")
            .arg(root)
            .stdout(file)
            .stderr(Stdio::inherit()),
    )
    .expect("bids-validator starts");
    let status = child.wait().expect("bids-validator ends");
    let text = std::fs::read_to_string(&report).expect("report");
    let json: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("bids-validator ({status}) printed no JSON ({e}): {text}"));
    let list = |kind: &str| json["issues"][kind].as_array().cloned().unwrap_or_default();
    for w in list("warnings") {
        eprintln!("bids-validator warning: {} {}", w["key"], w["reason"]);
    }
    list("errors").iter().map(|e| e.to_string()).collect()
}
