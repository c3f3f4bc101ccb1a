//! The scanner side's disk, for the data streamer (and the analyser's local backend).
//!
//! Owns: the access rules (which folders and file types may be touched; every path
//! canonicalised and compared by components), reading, listing and atomic writing
//! through those rules, RT-Cloud style file patterns (`{TR:06d}`), deciding when a file
//! the scanner writes is complete (inotify close-write, a polling fallback for network
//! shares, min size, DICOM not cut short), watching a scanner folder in index order, and
//! the replay writer that imitates a scanner.
//!
//! Must never: touch a path the rules refuse, report a half-written file as complete,
//! or do network IO.
//!
//! ```no_run
//! # async fn demo() -> filestore::Result<()> {
//! use filestore::{AccessRules, FilePattern, ScannerFolder};
//! let rules = AccessRules::new(["/data/scans"], [".dcm", ".txt"])?;
//! let pattern = FilePattern::new("001_000013_{TR:06d}.dcm")?;
//! let mut scanner = ScannerFolder::open(&rules, "/data/scans/today".as_ref(), pattern, 100_000, 1)?;
//! loop {
//!     let volume = scanner.next().await?; // index 1, 2, ... each as soon as complete
//!     tracing::info!(index = volume.index, bytes = volume.bytes.len(), "volume complete");
//! }
//! # }
//! ```

pub mod atomic;
mod complete;
pub mod error;
pub mod events;
mod fileops;
pub mod pattern;
pub mod replay;
pub mod rules;
pub mod scanner;
pub mod watch;

pub use atomic::{create_atomic, publish, publish_unsynced, write_atomic, Unsynced};
pub use error::{FilestoreError, Result};
pub use events::{ChannelEvents, FolderEvent, FolderEvents, NoEvents};
pub use pattern::FilePattern;
pub use replay::{replay, replay_blocking, replay_sources, ReplayOptions, ReplayedFile};
pub use rules::{allowed_dir_args, AccessRules};
pub use scanner::{BadFileBound, ScannerFolder};
pub use watch::{wait_for_file, CompleteFile, FolderWatch, WatchOptions};
