//! File system helpers of the binary: gathering input files, atomic writes with context.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Every regular file named on the command line or found (recursively) in a named folder,
/// sorted by path so runs are reproducible.
pub fn collect_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input)
            .with_context(|| format!("cannot read input {}", input.display()))?;
        if meta.is_dir() {
            walk(input, &mut out)?;
        } else {
            out.push(input.clone());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list folder {}", dir.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot list folder {}", dir.display()))?
            .path();
        // Symlinked folders are not followed, so a link loop cannot hang the walk.
        let file_type = std::fs::symlink_metadata(&path)
            .with_context(|| format!("cannot stat {}", path.display()))?
            .file_type();
        if file_type.is_dir() {
            walk(&path, out)?;
        } else if path.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically (temp file + rename), naming the path on error.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    filestore::write_atomic(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}
