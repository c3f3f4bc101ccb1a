//! The one error type of the filestore crate.
//!
//! Every variant names the path involved and, where there is one, the fix, because these
//! messages travel over the data link and are read by someone at the analyser who cannot
//! see the scanner's disk.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong on the scanner side's disk.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FilestoreError {
    /// The rules were built with no allowed folder at all.
    #[error("no allowed folders were given: start data_streamer with --allowed-dirs DIR (once per folder)")]
    NoAllowedDirs,
    /// An allowed folder given at start does not exist or cannot be resolved.
    #[error("allowed folder {path} cannot be used ({source}): create it or fix --allowed-dirs")]
    BadAllowedDir {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The path, once canonicalised (symlinks and `..` resolved), is outside every
    /// allowed folder. The message says no more: not where a symlink points, nor
    /// whether anything exists there.
    #[error("{path} is outside the allowed folders")]
    OutsideAllowedDirs { path: PathBuf },
    /// put_file to a folder that is not writable (or with no writable folder at all).
    #[error(
        "{path} is not in a writable folder: put_file writes only into the folders given \
         to data_streamer with --writable-dirs (none by default)"
    )]
    NotWritable { path: PathBuf },
    /// put_file to a file that exists, without overwrite.
    #[error("{path} exists already; put_file replaces a file only when asked to overwrite")]
    Exists { path: PathBuf },
    /// A file larger than the configured cap.
    #[error("{path} is {size} bytes, more than the {max} bytes a file may have (--max-file-size)")]
    TooLarge { path: PathBuf, size: u64, max: u64 },
    /// The file's extension is not allowed.
    #[error(
        "{path} has a file type that is not allowed (allowed: {allowed}); \
         start data_streamer with --allowed-types to add it"
    )]
    TypeNotAllowed { path: PathBuf, allowed: String },
    /// The path names something that is not the expected kind (file vs folder).
    #[error("{path} is not a {expected}")]
    WrongKind {
        path: PathBuf,
        expected: &'static str,
    },
    /// The path contains a component that is refused where it appears (e.g. `..` in a
    /// folder that does not exist yet, or a glob pattern that climbs out).
    #[error("{path} is refused: {reason}")]
    Refused { path: PathBuf, reason: String },
    /// An IO error on a path that passed the rules.
    #[error("cannot {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file-name pattern that cannot be used.
    #[error("file pattern {pattern:?} cannot be used: {reason}")]
    BadPattern { pattern: String, reason: String },
    /// Nothing complete matched before the deadline.
    #[error(
        "no complete file {name} in {dir} after {waited:?} (min size {min_size} bytes); \
         is the scanner writing there, and is the name right?"
    )]
    Timeout {
        dir: PathBuf,
        name: String,
        min_size: u64,
        waited: Duration,
    },
    /// One volume's file is bad: still not complete after the bound (empty, cut short
    /// for good, a forged length, malformed), or missing while later volumes arrived.
    /// Only this index fails; a [`crate::ScannerFolder`] goes on with the next one.
    #[error("{path} is not usable after {:.1} s: {reason}", waited.as_secs_f64())]
    BadFile {
        index: u32,
        path: PathBuf,
        reason: String,
        waited: Duration,
    },
    /// The inotify watcher could not be started (the polling fallback still runs).
    #[error("cannot watch {dir}: {message}")]
    Watch { dir: PathBuf, message: String },
}

impl FilestoreError {
    /// True for a refusal of one file by the rules (outside the allowed folders, its
    /// type, several hard links, over the size cap, not a regular file): in a scanner
    /// stream that file fails its volume only.
    pub fn is_refusal_of_one_file(&self) -> bool {
        matches!(
            self,
            FilestoreError::OutsideAllowedDirs { .. }
                | FilestoreError::TypeNotAllowed { .. }
                | FilestoreError::Refused { .. }
                | FilestoreError::TooLarge { .. }
                | FilestoreError::WrongKind { .. }
        )
    }

    /// The same error with every path it names passed through `show` (e.g.
    /// [`crate::AccessRules::shown`], so a message that leaves the console names no
    /// folder above the allowed ones).
    pub fn map_paths(self, show: impl Fn(PathBuf) -> PathBuf) -> Self {
        use FilestoreError as E;
        match self {
            E::BadAllowedDir { path, source } => E::BadAllowedDir {
                path: show(path),
                source,
            },
            E::OutsideAllowedDirs { path } => E::OutsideAllowedDirs { path: show(path) },
            E::NotWritable { path } => E::NotWritable { path: show(path) },
            E::Exists { path } => E::Exists { path: show(path) },
            E::TooLarge { path, size, max } => E::TooLarge {
                path: show(path),
                size,
                max,
            },
            E::TypeNotAllowed { path, allowed } => E::TypeNotAllowed {
                path: show(path),
                allowed,
            },
            E::WrongKind { path, expected } => E::WrongKind {
                path: show(path),
                expected,
            },
            E::Refused { path, reason } => E::Refused {
                path: show(path),
                reason,
            },
            E::Io { op, path, source } => E::Io {
                op,
                path: show(path),
                source,
            },
            E::Timeout {
                dir,
                name,
                min_size,
                waited,
            } => E::Timeout {
                dir: show(dir),
                name,
                min_size,
                waited,
            },
            E::BadFile {
                index,
                path,
                reason,
                waited,
            } => E::BadFile {
                index,
                path: show(path),
                reason,
                waited,
            },
            E::Watch { dir, message } => E::Watch {
                dir: show(dir),
                message,
            },
            other @ (E::NoAllowedDirs | E::BadPattern { .. }) => other,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = FilestoreError> = std::result::Result<T, E>;

/// Wraps an IO error with the operation and the path.
pub(crate) fn io_err(
    op: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> FilestoreError {
    let path = path.into();
    move |source| FilestoreError::Io { op, path, source }
}
