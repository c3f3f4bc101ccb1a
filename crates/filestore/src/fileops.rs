//! Reading, listing and atomically writing files, always through [`AccessRules`].
//!
//! These are blocking calls (plain `std::fs`): call them from `spawn_blocking` in async
//! code when the folder may be on a slow network share. Nothing here follows a path the
//! rules refused; listing silently drops entries (such as symlinks pointing out) that
//! the rules would refuse to read.

use std::fs;
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use globset::{GlobBuilder, GlobMatcher};

use crate::error::{io_err, FilestoreError, Result};
use crate::rules::AccessRules;

/// A walk never goes deeper than this below the pattern's literal folder.
const MAX_DEPTH: usize = 32;
/// A listing stops with an error past this many entries visited (runaway `**`).
const MAX_VISITED: usize = 200_000;

impl AccessRules {
    /// Reads a whole file the rules allow, up to [`AccessRules::max_file_size`] bytes
    /// (checked before reading, and the read is bounded too: the file may grow).
    pub fn read_file(&self, path: &Path) -> Result<Vec<u8>> {
        let canonical = self.resolve_read(path)?;
        read_capped(&canonical, self.max_file_size())
    }

    /// Writes `bytes` to `path` atomically inside a writable folder (`--writable-dirs`):
    /// a temporary file in the same folder, fsync, then into place, so a reader never
    /// sees a half-written file. Missing folders below a writable folder are created. An
    /// existing file is replaced only with `overwrite` ([`FilestoreError::Exists`]
    /// otherwise, checked atomically). Returns the path written.
    pub fn write_file_atomic(&self, path: &Path, bytes: &[u8], overwrite: bool) -> Result<PathBuf> {
        let target = self.resolve_write(path)?;
        let written = if overwrite {
            crate::atomic::write_atomic(&target, bytes)
        } else {
            crate::atomic::create_atomic(&target, bytes)
        };
        match written {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(FilestoreError::Exists {
                    path: path.to_path_buf(),
                })
            }
            other => other.map_err(io_err("write", &target)),
        }?;
        Ok(target)
    }

    /// Files matching a glob such as `/data/scans/run1/*.dcm` (`*`, `?`, `[..]`, `{a,b}`
    /// and `**` in the part after the last literal folder), of allowed types, sorted.
    pub fn list_files(&self, pattern: &str) -> Result<Vec<PathBuf>> {
        self.list(pattern, Kind::File)
    }

    /// Folders matching a glob, sorted.
    pub fn list_dirs(&self, pattern: &str) -> Result<Vec<PathBuf>> {
        self.list(pattern, Kind::Dir)
    }

    /// The most recently modified file matching a glob, if any.
    pub fn newest_file(&self, pattern: &str) -> Result<Option<PathBuf>> {
        let mut best: Option<(SystemTime, PathBuf)> = None;
        for path in self.list_files(pattern)? {
            let Ok(modified) = fs::metadata(&path).and_then(|m| m.modified()) else {
                continue;
            };
            // Ties go to the later name, which for scanner files is the later volume.
            if best.as_ref().is_none_or(|(t, _)| modified >= *t) {
                best = Some((modified, path));
            }
        }
        Ok(best.map(|(_, p)| p))
    }

    fn list(&self, pattern: &str, kind: Kind) -> Result<Vec<PathBuf>> {
        let (base, rest) = split_glob(pattern)?;
        let Some(rest) = rest else {
            // No wildcard: the pattern names one entry, which must pass the rules.
            let resolved = match kind {
                Kind::File => self.resolve_read(&base)?,
                Kind::Dir => self.resolve_dir(&base)?,
            };
            return Ok(vec![resolved]);
        };
        let base = self.resolve_dir(&base)?;
        let recursive = rest.contains("**");
        let depth = if recursive {
            MAX_DEPTH
        } else {
            rest.split('/').count()
        };
        let matcher = glob_matcher(pattern, &rest)?;
        let mut out = Vec::new();
        let mut visited = 0usize;
        let mut stack = vec![(base.clone(), 0usize)];
        while let Some((dir, level)) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if level == 0 => return Err(io_err("list", &dir)(e)),
                Err(_) => continue,
            };
            for entry in entries.flatten() {
                visited += 1;
                if visited > MAX_VISITED {
                    return Err(FilestoreError::Refused {
                        path: PathBuf::from(pattern),
                        reason: format!("the listing visits more than {MAX_VISITED} entries; narrow the pattern"),
                    });
                }
                let path = entry.path();
                let Ok(rel) = path.strip_prefix(&base) else {
                    continue;
                };
                if matcher.is_match(rel) {
                    out.extend(self.accept(&path, kind));
                }
                // Never descend through symlinked folders: they may point anywhere.
                let is_real_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                if is_real_dir && level + 1 < depth {
                    stack.push((path, level + 1));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn accept(&self, path: &Path, kind: Kind) -> Option<PathBuf> {
        let ok = match kind {
            Kind::File => self.resolve_read(path).is_ok(),
            Kind::Dir => self.resolve_dir(path).is_ok(),
        };
        ok.then(|| path.to_path_buf())
    }
}

/// Reads at most `max` bytes of a file; a larger file is [`FilestoreError::TooLarge`].
pub(crate) fn read_capped(path: &Path, max: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let file = fs::File::open(path).map_err(io_err("read", path))?;
    let size = file.metadata().map_err(io_err("read", path))?.len();
    let too_large = |size| FilestoreError::TooLarge {
        path: path.to_path_buf(),
        size,
        max,
    };
    if size > max {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_err("read", path))?;
    if bytes.len() as u64 > max {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    File,
    Dir,
}

fn has_glob_chars(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

/// Splits a glob into its literal leading folder and the wildcard rest (`None` when
/// there is no wildcard). The wildcard part may hold only plain names, so it cannot
/// climb out of the literal folder.
fn split_glob(pattern: &str) -> Result<(PathBuf, Option<String>)> {
    let refused = |reason: &str| FilestoreError::Refused {
        path: PathBuf::from(pattern),
        reason: reason.to_string(),
    };
    let path = Path::new(pattern);
    let mut base = PathBuf::new();
    let mut rest: Vec<String> = Vec::new();
    for component in path.components() {
        let text = component.as_os_str().to_string_lossy();
        if rest.is_empty() && !has_glob_chars(&text) {
            base.push(component);
            continue;
        }
        match component {
            Component::Normal(_) => rest.push(text.into_owned()),
            _ => return Err(refused("`..` or `.` may not follow a wildcard")),
        }
    }
    if base.as_os_str().is_empty() {
        base.push(".");
    }
    if rest.is_empty() {
        return Ok((base, None));
    }
    Ok((base, Some(rest.join("/"))))
}

fn glob_matcher(pattern: &str, rest: &str) -> Result<GlobMatcher> {
    GlobBuilder::new(rest)
        .literal_separator(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| FilestoreError::BadPattern {
            pattern: pattern.to_string(),
            reason: e.to_string(),
        })
}
