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

mod complete;
pub mod error;
pub mod events;
mod fileops;
pub mod pattern;
pub mod replay;
pub mod rules;
pub mod watch;

pub use error::{FilestoreError, Result};
pub use events::{ChannelEvents, FolderEvent, FolderEvents, NoEvents};
pub use pattern::FilePattern;
pub use replay::{replay, replay_blocking, replay_sources, ReplayOptions, ReplayedFile};
pub use rules::AccessRules;
pub use watch::{wait_for_file, CompleteFile, FolderWatch, ScannerFolder, WatchOptions};
