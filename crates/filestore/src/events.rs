//! Hints that something happened in a watched folder, behind the small [`FolderEvents`]
//! trait: inotify via `notify` in production, a channel tests can feed, or nothing at
//! all (pure polling, as on a network share where inotify sees no remote writes).
//!
//! Events are only hints: the watcher always re-checks the file itself before calling it
//! complete, so a lost or spurious event costs latency, never correctness.

use std::ffi::OsString;
use std::future::Future;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{Event, EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::error::{FilestoreError, Result};

/// One hint about a file in the watched folder (names are bare file names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderEvent {
    /// Closed after writing, or renamed into place: check it now.
    Closed(OsString),
    /// Created or written to: the writer is not done yet.
    Changed(OsString),
    /// Events may have been lost (queue overflow, watcher error): trust polling only.
    Rescan,
}

/// The future returned by [`FolderEvents::recv`].
pub type EventFuture<'a> = Pin<Box<dyn Future<Output = Option<FolderEvent>> + Send + 'a>>;

/// A source of [`FolderEvent`]s for one folder.
pub trait FolderEvents: Send + std::fmt::Debug {
    /// The next event; `None` once the source has ended (polling carries on alone).
    /// Must be cancel-safe: dropping the future loses no event.
    fn recv(&mut self) -> EventFuture<'_>;
}

/// Events from a channel: the inotify watcher's output, or whatever a test sends.
#[derive(Debug)]
pub struct ChannelEvents {
    rx: mpsc::UnboundedReceiver<FolderEvent>,
    // Keeps the inotify watch alive as long as the receiver.
    _watcher: Option<notify::RecommendedWatcher>,
}

impl ChannelEvents {
    /// A channel with no watcher behind it; send events through the returned sender.
    pub fn new() -> (mpsc::UnboundedSender<FolderEvent>, Self) {
        let (tx, rx) = mpsc::unbounded_channel();
        (tx, Self { rx, _watcher: None })
    }

    /// Watches `dir` (not recursively) with inotify (or the platform's equivalent).
    pub fn notify(dir: &Path) -> Result<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        let watched: PathBuf = dir.to_path_buf();
        let handler_dir = watched.clone();
        let mut watcher = notify::recommended_watcher(move |res: notify::Result<Event>| {
            // Runs on notify's own thread; an unbounded send never blocks it.
            match res {
                Ok(event) => {
                    for e in translate(&handler_dir, &event) {
                        let _ = tx.send(e);
                    }
                }
                Err(error) => {
                    tracing::warn!(dir = %handler_dir.display(), %error, "file watcher error; relying on polling");
                    let _ = tx.send(FolderEvent::Rescan);
                }
            }
        })
        .map_err(|e| watch_error(dir, e))?;
        watcher
            .watch(&watched, RecursiveMode::NonRecursive)
            .map_err(|e| watch_error(dir, e))?;
        Ok(Self {
            rx,
            _watcher: Some(watcher),
        })
    }
}

impl FolderEvents for ChannelEvents {
    fn recv(&mut self) -> EventFuture<'_> {
        Box::pin(self.rx.recv())
    }
}

/// No events at all: the watcher relies on polling alone.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEvents;

impl FolderEvents for NoEvents {
    fn recv(&mut self) -> EventFuture<'_> {
        Box::pin(std::future::pending())
    }
}

fn watch_error(dir: &Path, e: notify::Error) -> FilestoreError {
    FilestoreError::Watch {
        dir: dir.to_path_buf(),
        message: format!(
            "{e} (on Linux, raise fs.inotify.max_user_watches / max_user_instances if they are exhausted)"
        ),
    }
}

/// Maps one notify event to our hints, keeping only files directly in `dir`.
fn translate(dir: &Path, event: &Event) -> Vec<FolderEvent> {
    if event.need_rescan() {
        return vec![FolderEvent::Rescan];
    }
    let name_of = |p: &PathBuf| -> Option<OsString> {
        (p.parent() == Some(dir)).then(|| p.file_name().map(|n| n.to_owned()))?
    };
    let mut out = Vec::new();
    match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
            out.extend(
                event
                    .paths
                    .iter()
                    .filter_map(name_of)
                    .map(FolderEvent::Closed),
            );
        }
        EventKind::Modify(ModifyKind::Name(RenameMode::To)) => {
            out.extend(
                event
                    .paths
                    .iter()
                    .filter_map(name_of)
                    .map(FolderEvent::Closed),
            );
        }
        EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => {
            // paths = [from, to]: the destination appeared complete.
            out.extend(
                event
                    .paths
                    .get(1)
                    .and_then(name_of)
                    .map(FolderEvent::Closed),
            );
        }
        EventKind::Create(_) => {
            // A symlink (or hard link) is created whole and never closed: look at it now.
            for path in &event.paths {
                let Some(name) = name_of(path) else { continue };
                let whole = std::fs::symlink_metadata(path)
                    .is_ok_and(|m| m.file_type().is_symlink() || (m.len() > 0 && m.nlink() > 1));
                out.push(if whole {
                    FolderEvent::Closed(name)
                } else {
                    FolderEvent::Changed(name)
                });
            }
        }
        EventKind::Modify(ModifyKind::Data(_)) | EventKind::Modify(ModifyKind::Any) => {
            out.extend(
                event
                    .paths
                    .iter()
                    .filter_map(name_of)
                    .map(FolderEvent::Changed),
            );
        }
        _ => {}
    }
    out
}
