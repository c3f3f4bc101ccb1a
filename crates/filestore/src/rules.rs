//! Access rules: which folders and file types the streamer may touch.
//!
//! Every path is canonicalised (symlinks and `..` resolved by the OS) before it is
//! compared, and the comparison is by path components, so `/data/scans2` is not inside
//! `/data/scans`. The rules are fixed when the streamer starts; nothing the analyser
//! sends can change them. This module must never hand out a path it did not check.

use std::path::{Component, Path, PathBuf};

use crate::error::{io_err, FilestoreError, Result};

/// Files larger than this are refused unless the rules say otherwise (a whole-brain
/// enhanced DICOM run is a few hundred MB; the cap bounds the memory one request takes).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 1 << 30;

/// Allowed folders (canonical) and allowed file types (lower-case, with leading dot),
/// the folders that may be written (none unless given), and the limits on files read.
#[derive(Debug, Clone)]
pub struct AccessRules {
    dirs: Vec<PathBuf>,
    types: Vec<String>,
    writable: Vec<PathBuf>,
    allow_hard_links: bool,
    max_file_size: u64,
}

impl AccessRules {
    /// Builds the rules. Folders must exist (they are canonicalised now, so a symlinked
    /// root is pinned to its target at start). Types are extensions such as `.dcm`,
    /// `dcm` or `.nii.gz`, compared case-insensitively; `*` allows every type.
    pub fn new<D, T>(allowed_dirs: D, allowed_types: T) -> Result<Self>
    where
        D: IntoIterator,
        D::Item: AsRef<Path>,
        T: IntoIterator,
        T::Item: AsRef<str>,
    {
        let dirs = canonical_dirs(allowed_dirs)?;
        if dirs.is_empty() {
            return Err(FilestoreError::NoAllowedDirs);
        }
        let types = allowed_types
            .into_iter()
            .map(|t| normalize_type(t.as_ref()))
            .filter(|t| !t.is_empty())
            .collect();
        Ok(Self {
            dirs,
            types,
            writable: Vec::new(),
            allow_hard_links: false,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
        })
    }

    /// Folders that put_file may write into (subfolders included; none by default, so
    /// nothing the scanner wrote can be replaced). Like the allowed folders they must
    /// exist and are canonicalised now.
    pub fn with_writable_dirs<D>(mut self, writable_dirs: D) -> Result<Self>
    where
        D: IntoIterator,
        D::Item: AsRef<Path>,
    {
        self.writable = canonical_dirs(writable_dirs)?;
        Ok(self)
    }

    /// Serve files with more than one hard link (refused by default: a hard link inside
    /// an allowed folder can name a file from anywhere on the same disk).
    pub fn with_hard_links_allowed(mut self, allowed: bool) -> Self {
        self.allow_hard_links = allowed;
        self
    }

    /// The largest file that is read, in bytes (default [`DEFAULT_MAX_FILE_SIZE`]).
    pub fn with_max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = bytes;
        self
    }

    /// The largest file that is read, in bytes.
    pub fn max_file_size(&self) -> u64 {
        self.max_file_size
    }

    /// The canonical writable folders (empty: put_file is refused).
    pub fn writable_dirs(&self) -> &[PathBuf] {
        &self.writable
    }

    /// How a path in an allowed folder is shown to the analyser: relative to the
    /// allowed folder, under that folder's own name (`/data/scans/run1/x.dcm` with
    /// `/data/scans` allowed is `scans/run1/x.dcm`), so the console's folder layout
    /// above the allowed folders never leaves it. [`AccessRules::anchor`] turns such a
    /// path back into the real one. Paths outside every allowed folder stay as given.
    pub fn shown(&self, canonical: &Path) -> String {
        for dir in self.dirs.iter().chain(&self.writable) {
            if let (Ok(rel), Some(name)) = (canonical.strip_prefix(dir), dir.file_name()) {
                let mut shown = PathBuf::from(name);
                if !rel.as_os_str().is_empty() {
                    shown.push(rel);
                }
                return shown.display().to_string();
            }
        }
        canonical.display().to_string()
    }

    /// `e` with its paths as [`AccessRules::shown`] shows them: for messages that
    /// leave the console.
    pub fn shown_error(&self, e: FilestoreError) -> FilestoreError {
        e.map_paths(|p| PathBuf::from(self.shown(&p)))
    }

    /// The path a request names: absolute paths as they are; a relative path whose
    /// first component is the name of an allowed (or writable) folder, inside that
    /// folder (the form [`AccessRules::shown`] gives); any other relative path as it is
    /// (relative to the working folder, then checked like any other).
    pub fn anchor(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            return path.to_path_buf();
        }
        let Some(Component::Normal(first)) = path.components().next() else {
            return path.to_path_buf();
        };
        for dir in self.dirs.iter().chain(&self.writable) {
            if dir.file_name() == Some(first) {
                if let Some(parent) = dir.parent() {
                    return parent.join(path);
                }
            }
        }
        path.to_path_buf()
    }

    /// The canonical allowed folders.
    pub fn allowed_dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The allowed types, normalised to lower case with a leading dot (or `*`).
    pub fn allowed_types(&self) -> &[String] {
        &self.types
    }

    /// Checks an existing file for reading; returns its canonical path.
    pub fn resolve_read(&self, path: &Path) -> Result<PathBuf> {
        let path = &self.anchor(path);
        let canonical = self.resolve_existing(path)?;
        let meta = canonical
            .metadata()
            .map_err(io_err("read", path.to_path_buf()))?;
        if !meta.is_file() {
            return Err(FilestoreError::WrongKind {
                path: path.to_path_buf(),
                expected: "regular file",
            });
        }
        if !self.allow_hard_links && std::os::unix::fs::MetadataExt::nlink(&meta) > 1 {
            return Err(FilestoreError::Refused {
                path: path.to_path_buf(),
                reason: "it has more than one hard link (another name may be outside the \
                         allowed folders); start data_streamer with --allow-hard-links to serve it"
                    .into(),
            });
        }
        // Both names must pass: the one asked for and the one it resolves to, so a
        // `x.dcm` symlink to `secret.key` is refused too.
        self.check_type(path)?;
        self.check_type(&canonical)?;
        Ok(canonical)
    }

    /// Checks an existing folder (for listing or watching); returns its canonical path.
    pub fn resolve_dir(&self, path: &Path) -> Result<PathBuf> {
        let path = &self.anchor(path);
        let canonical = self.resolve_existing(path)?;
        if !canonical.is_dir() {
            return Err(FilestoreError::WrongKind {
                path: path.to_path_buf(),
                expected: "folder",
            });
        }
        Ok(canonical)
    }

    /// Checks a file path for writing; returns the path to write (canonical parent, which
    /// may not exist yet: its missing part may hold only plain names, no `..`).
    pub fn resolve_write(&self, path: &Path) -> Result<PathBuf> {
        if self.writable.is_empty() {
            return Err(FilestoreError::NotWritable {
                path: path.to_path_buf(),
            });
        }
        let path = &self.anchor(path);
        let name = match path.components().next_back() {
            Some(Component::Normal(name)) => name.to_owned(),
            _ => {
                return Err(FilestoreError::Refused {
                    path: path.to_path_buf(),
                    reason: "the path must end in a plain file name".into(),
                })
            }
        };
        self.check_type(path)?;
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        // Find the deepest existing ancestor; everything below it will be created.
        let mut existing = parent.as_path();
        let mut missing = Vec::new();
        // symlink_metadata, not exists(): a dangling symlink is not "missing", it is
        // canonicalised (and refused) below instead of being created through.
        while existing.symlink_metadata().is_err() {
            match existing.components().next_back() {
                Some(Component::Normal(c)) => missing.push(c.to_owned()),
                _ => {
                    return Err(FilestoreError::Refused {
                        path: path.to_path_buf(),
                        reason: "a folder that does not exist yet may not contain `..` or `.`"
                            .into(),
                    })
                }
            }
            existing = existing.parent().unwrap_or(Path::new("."));
            if existing.as_os_str().is_empty() {
                existing = Path::new(".");
            }
        }
        let base = match existing.canonicalize() {
            Ok(base) if self.writable.iter().any(|d| base.starts_with(d)) => base,
            _ => {
                return Err(FilestoreError::NotWritable {
                    path: path.to_path_buf(),
                })
            }
        };
        if !base.is_dir() {
            return Err(FilestoreError::WrongKind {
                path: existing.to_path_buf(),
                expected: "folder",
            });
        }
        let mut target = base;
        target.extend(missing.iter().rev());
        target.push(name);
        if target.is_dir() {
            return Err(FilestoreError::WrongKind {
                path: path.to_path_buf(),
                expected: "file (it is a folder)",
            });
        }
        Ok(target)
    }

    /// True when the file name's type is allowed.
    pub fn type_allowed(&self, path: &Path) -> bool {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return false;
        };
        let name = name.to_ascii_lowercase();
        self.types
            .iter()
            .any(|t| t == "*" || (name.ends_with(t.as_str()) && name.len() > t.len()))
    }

    /// Errors unless the file name's type is allowed.
    pub fn check_type(&self, path: &Path) -> Result<()> {
        if self.type_allowed(path) {
            Ok(())
        } else {
            Err(FilestoreError::TypeNotAllowed {
                path: path.to_path_buf(),
                allowed: if self.types.is_empty() {
                    "none".into()
                } else {
                    self.types.join(", ")
                },
            })
        }
    }

    /// True when a canonical path is one of the allowed folders or below one.
    pub fn contains(&self, canonical: &Path) -> bool {
        // Path::starts_with compares whole components: /data/scans2 is not under /data/scans.
        self.dirs.iter().any(|d| canonical.starts_with(d))
    }

    fn resolve_existing(&self, path: &Path) -> Result<PathBuf> {
        match path.canonicalize() {
            Ok(canonical) => {
                if self.contains(&canonical) {
                    Ok(canonical)
                } else {
                    Err(self.outside(path))
                }
            }
            Err(source) => {
                // "Not found" only where the deepest part that exists is inside (so a
                // dangling symlink pointing out, or a path outside, says "outside" and
                // nothing about what exists there or where the link points).
                if self.deepest_existing_inside(path) {
                    Err(io_err("find", path)(source))
                } else {
                    Err(self.outside(path))
                }
            }
        }
    }

    /// Whether the deepest existing ancestor of `path`, canonicalised, is inside an
    /// allowed folder, with no `..` in the part that does not exist.
    fn deepest_existing_inside(&self, path: &Path) -> bool {
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        if has_parent_dir(&absolute) {
            return false;
        }
        let mut existing = absolute.as_path();
        // symlink_metadata: a dangling symlink exists (and fails to canonicalise below).
        while existing.symlink_metadata().is_err() {
            match existing.parent() {
                Some(parent) => existing = parent,
                None => return false,
            }
        }
        existing
            .canonicalize()
            .is_ok_and(|canonical| self.contains(&canonical))
    }

    fn outside(&self, path: &Path) -> FilestoreError {
        FilestoreError::OutsideAllowedDirs {
            path: path.to_path_buf(),
        }
    }
}

/// Canonicalises folders given at start (they must exist and be folders).
fn canonical_dirs<D>(dirs: D) -> Result<Vec<PathBuf>>
where
    D: IntoIterator,
    D::Item: AsRef<Path>,
{
    let mut out = Vec::new();
    for dir in dirs {
        let dir = dir.as_ref();
        let canonical = dir
            .canonicalize()
            .map_err(|source| FilestoreError::BadAllowedDir {
                path: dir.to_path_buf(),
                source,
            })?;
        if !canonical.is_dir() {
            return Err(FilestoreError::BadAllowedDir {
                path: dir.to_path_buf(),
                source: std::io::Error::other("not a folder"),
            });
        }
        out.push(canonical);
    }
    Ok(out)
}

/// The folders named by `--allowed-dirs` values, one flag per folder. A value is one
/// folder when it exists as given (scanner folders are named after people and dates:
/// `Doe, Jane`) or holds no comma; otherwise it is read the RT-Cloud way, as a
/// comma-separated list of folders.
pub fn allowed_dir_args(values: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for value in values {
        let text = value.to_string_lossy();
        if value.is_dir() || !text.contains(',') {
            dirs.push(value.clone());
        } else {
            dirs.extend(
                text.split(',')
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .map(PathBuf::from),
            );
        }
    }
    dirs
}

fn has_parent_dir(path: &Path) -> bool {
    path.components().any(|c| c == Component::ParentDir)
}

fn normalize_type(t: &str) -> String {
    let t = t.trim().to_ascii_lowercase();
    if t.is_empty() || t == "*" || t.starts_with('.') {
        t
    } else {
        format!(".{t}")
    }
}
