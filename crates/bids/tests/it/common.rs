//! What the archive and validator tests share.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bids::{BidsRun, EntitySource};

/// The entities a session's stream arguments would give.
pub fn arguments(subject: &str, task: &str, run: &str) -> EntitySource {
    let mut a = EntitySource::default();
    a.set("sub", subject);
    a.set("task", task);
    a.set("run", run);
    a.set("datatype", "func");
    a.set("suffix", "bold");
    a
}

/// A synthetic scanner run of `volumes` volumes (small matrix), streamed volume by
/// volume through the imaging crate into a `BidsRun`.
pub fn synthetic_run(args: &EntitySource, volumes: usize) -> BidsRun {
    bids::run::synthetic_run(args, volumes, 32, 12).expect("a synthetic run")
}

/// Every file (with its bytes) and folder (`None`) under a dataset, hidden ones too.
pub type Snapshot = BTreeMap<PathBuf, Option<Vec<u8>>>;

/// What "the dataset as it was" means: every file under `root` with its bytes, and
/// every folder.
pub fn snapshot(root: &Path) -> Snapshot {
    let mut out = BTreeMap::new();
    if !root.exists() {
        return out;
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir").flatten() {
            let p = entry.path();
            let rel = p.strip_prefix(root).expect("under root").to_path_buf();
            if p.is_dir() {
                out.insert(rel, None);
                stack.push(p);
            } else {
                out.insert(rel, Some(std::fs::read(&p).expect("read file")));
            }
        }
    }
    out
}
