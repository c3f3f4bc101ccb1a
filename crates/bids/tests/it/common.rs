//! What the archive and validator tests share.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bids::{BidsIncremental, BidsRun, EntitySource};
use imaging::synth::{Synth, SynthSpec};

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
    let spec = SynthSpec {
        volumes,
        matrix: 32,
        slices: 12,
        ..SynthSpec::default()
    };
    let synth = Synth::new(spec).expect("synthetic spec");
    let mut run = BidsRun::new();
    for t in 0..volumes {
        let file = synth.file(t).expect("synthetic DICOM");
        let volume = imaging::volume_from_file(&file.bytes).expect("converts");
        let inc = BidsIncremental::from_volume(volume, args, &EntitySource::default())
            .expect("complete entities");
        run.append(inc).expect("fits the run");
    }
    run
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
