//! Access rules: which folders and file types the streamer may touch.
//!
//! Every path is canonicalised (symlinks and `..` resolved by the OS) before it is
//! compared, and the comparison is by path components, so `/data/scans2` is not inside
//! `/data/scans`. The rules are fixed when the streamer starts; nothing the analyser
//! sends can change them. This module must never hand out a path it did not check.

use std::path::{Component, Path, PathBuf};

use crate::error::{io_err, FilestoreError, Result};

/// Allowed folders (canonical) and allowed file types (lower-case, with leading dot).
#[derive(Debug, Clone)]
pub struct AccessRules {
    dirs: Vec<PathBuf>,
    types: Vec<String>,
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
        let mut dirs = Vec::new();
        for dir in allowed_dirs {
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
            dirs.push(canonical);
        }
        if dirs.is_empty() {
            return Err(FilestoreError::NoAllowedDirs);
        }
        let types = allowed_types
            .into_iter()
            .map(|t| normalize_type(t.as_ref()))
            .filter(|t| !t.is_empty())
            .collect();
        Ok(Self { dirs, types })
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
        let canonical = self.resolve_existing(path)?;
        if !canonical.is_file() {
            return Err(FilestoreError::WrongKind {
                path: path.to_path_buf(),
                expected: "regular file",
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
        let base = self.resolve_existing(existing).map_err(|e| match e {
            FilestoreError::OutsideAllowedDirs {
                resolved_note,
                allowed,
                ..
            } => FilestoreError::OutsideAllowedDirs {
                path: path.to_path_buf(),
                resolved_note,
                allowed,
            },
            other => other,
        })?;
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
                    Err(self.outside(path, Some(&canonical)))
                }
            }
            Err(source) => {
                // Say "outside" rather than "not found" for paths that are outside anyway,
                // so the answer does not reveal what exists there.
                let lexical = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
                if self.contains(&lexical) && !has_parent_dir(&lexical) {
                    Err(io_err("find", path)(source))
                } else {
                    Err(self.outside(path, None))
                }
            }
        }
    }

    fn outside(&self, path: &Path, canonical: Option<&Path>) -> FilestoreError {
        let resolved_note = match canonical {
            Some(c) if c != path => format!(" (it resolves to {})", c.display()),
            _ => String::new(),
        };
        FilestoreError::OutsideAllowedDirs {
            path: path.to_path_buf(),
            resolved_note,
            allowed: self
                .dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
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
