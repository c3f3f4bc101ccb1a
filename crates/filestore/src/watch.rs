//! Waiting for files to become complete: [`FolderWatch`] (any name, as `watch_file`)
//! and [`wait_for_file`]; `scanner.rs` builds the in-order volume stream on it.
//!
//! A file is complete when a signal says the writer is done (inotify close-after-write
//! or rename into place; or, where inotify sees nothing, size and mtime unchanged over
//! two polls) AND its content passes `complete.rs` (min size, DICOM not cut short).
//! This is the latency-critical path: an inotify event is acted on the moment it
//! arrives; the poll (default 200 ms) is only a safety net. It must never hand out a
//! half-written file, nor a path the access rules refuse.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::complete::{check_file, Check};
use crate::error::{FilestoreError, Result};
use crate::events::{ChannelEvents, FolderEvent, FolderEvents, NoEvents};
use crate::rules::AccessRules;

/// How a folder is watched.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Files smaller than this are never complete.
    pub min_size: u64,
    /// The safety-net poll; also the stability window on network shares.
    pub poll_interval: Duration,
    /// Use inotify (or the platform equivalent) for immediate reaction.
    pub use_inotify: bool,
    /// A file already present when watching started, last modified longer ago than
    /// this, is taken as finished at once (after the content checks).
    pub settled_after: Duration,
    /// After inotify saw writes to a file, polling may call it complete only once no
    /// write was seen for this long (a writer that never closes its file); a close
    /// reports it at once.
    pub writing_grace: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        Self {
            min_size: 0,
            poll_interval: Duration::from_millis(200),
            use_inotify: true,
            settled_after: Duration::from_secs(1),
            writing_grace: Duration::from_secs(5),
        }
    }
}

impl WatchOptions {
    /// The defaults with a minimum size.
    pub fn with_min_size(min_size: u64) -> Self {
        Self {
            min_size,
            ..Self::default()
        }
    }
}

/// A complete file: its bytes as checked, and when it was found complete.
#[derive(Debug, Clone)]
pub struct CompleteFile {
    /// The volume index for [`crate::ScannerFolder`]; 0 from [`FolderWatch`] / [`wait_for_file`].
    pub index: u32,
    /// The canonical path.
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    /// Wall-clock time at which the file was seen complete (comparable with the replay
    /// writer's close timestamps on the same machine).
    pub completed_at: SystemTime,
}

/// What is known about one file name from events and polls.
#[derive(Debug, Default)]
pub(crate) struct FileState {
    /// Closed after writing (or renamed in) since the last change: check it.
    closed: bool,
    /// inotify saw writes not yet followed by a close, the last one at this time:
    /// polling may not decide until `writing_grace` has passed.
    writing: Option<Instant>,
    /// (size, mtime) at the last poll.
    last_stat: Option<(u64, SystemTime)>,
    /// Unchanged across the last two polls.
    stable: bool,
    /// (size, mtime) when the content check last failed; not re-read until it changes.
    failed_at: Option<(u64, SystemTime)>,
}

/// Watches one folder and answers "wait until NAME is complete". Keeps what it learnt
/// about every file since it was opened, so a file closed between two waits is found
/// at once. Open one per folder and reuse it.
#[derive(Debug)]
pub struct FolderWatch {
    dir: PathBuf,
    rules: AccessRules,
    opts: WatchOptions,
    events: Box<dyn FolderEvents>,
    events_ended: bool,
    pub(crate) files: HashMap<OsString, FileState>,
    poll: Option<Interval>,
    opened_at: SystemTime,
}

impl FolderWatch {
    /// Watches `dir` (checked by the rules) with inotify plus polling.
    pub fn open(rules: &AccessRules, dir: &Path, min_size: u64) -> Result<Self> {
        Self::open_with(rules, dir, WatchOptions::with_min_size(min_size), None)
    }

    /// Like [`FolderWatch::open`] with options, and optionally an event source of the
    /// caller's (tests). Without one, inotify is used if `opts.use_inotify`, else
    /// polling only; if inotify cannot start, polling carries on alone (logged).
    pub fn open_with(
        rules: &AccessRules,
        dir: &Path,
        opts: WatchOptions,
        events: Option<Box<dyn FolderEvents>>,
    ) -> Result<Self> {
        let dir = rules.resolve_dir(dir)?;
        let opened_at = SystemTime::now();
        // The watch starts before anything is looked at, so no close can slip between.
        let events: Box<dyn FolderEvents> = match events {
            Some(e) => e,
            None if opts.use_inotify => match ChannelEvents::notify(&dir) {
                Ok(e) => Box::new(e),
                Err(error) => {
                    tracing::warn!(%error, "inotify unavailable; polling only");
                    Box::new(NoEvents)
                }
            },
            None => Box::new(NoEvents),
        };
        Ok(Self {
            dir,
            rules: rules.clone(),
            opts,
            events,
            events_ended: false,
            files: HashMap::new(),
            poll: None,
            opened_at,
        })
    }

    /// The canonical folder watched.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// [`FolderWatch::wait_for`] for a path (as RT-Cloud's `watch_file` takes one): a
    /// bare name, or a path whose folder is the watched folder (after canonicalising).
    pub async fn wait_for_path(&mut self, path: &Path, timeout: Duration) -> Result<CompleteFile> {
        let name =
            path.file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| FilestoreError::Refused {
                    path: path.to_path_buf(),
                    reason: "it has no UTF-8 file name".into(),
                })?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            let parent = self.rules.resolve_dir(parent)?;
            if parent != self.dir {
                return Err(FilestoreError::Refused {
                    path: path.to_path_buf(),
                    reason: format!(
                        "it is not in the watched folder {}; initialise a watch on its folder first",
                        self.dir.display()
                    ),
                });
            }
        }
        let name = name.to_string();
        self.wait_for(&name, timeout).await
    }

    /// Waits until the file `name` (a bare name in this folder) is complete, up to
    /// `timeout`. Cancel-safe.
    pub async fn wait_for(&mut self, name: &str, timeout: Duration) -> Result<CompleteFile> {
        check_bare_name(name)?;
        self.rules.check_type(Path::new(name))?;
        match tokio::time::timeout(timeout, self.wait_complete(OsStr::new(name), &[])).await {
            Ok(result) => {
                // A later wait for the same name starts afresh (settled or polled).
                self.forget(OsStr::new(name));
                result
            }
            Err(_) => Err(FilestoreError::Timeout {
                dir: self.dir.clone(),
                name: name.to_string(),
                min_size: self.opts.min_size,
                waited: timeout,
            }),
        }
    }

    /// Forgets what is known about a name (after it was handed out).
    pub(crate) fn forget(&mut self, name: &OsStr) {
        self.files.remove(name);
    }

    /// The core loop: look whenever a signal says the file may be done.
    /// `upcoming` names are polled too, so that on a share without events their
    /// stability is already known when their turn comes.
    pub(crate) async fn wait_complete(
        &mut self,
        name: &OsStr,
        upcoming: &[OsString],
    ) -> Result<CompleteFile> {
        let path = self.dir.join(name);
        self.state_for(name);
        loop {
            if let Some(done) = self.look(name, &path)? {
                return Ok(done);
            }
            let poll_every = self.opts.poll_interval;
            let poll = self.poll.get_or_insert_with(|| {
                let mut i = tokio::time::interval_at(Instant::now() + poll_every, poll_every);
                i.set_missed_tick_behavior(MissedTickBehavior::Delay);
                i
            });
            tokio::select! {
                biased;
                event = self.events.recv(), if !self.events_ended => match event {
                    Some(event) => self.apply(event),
                    None => self.events_ended = true,
                },
                _ = poll.tick() => {
                    self.poll_stat(name, &path);
                    for next in upcoming {
                        let p = self.dir.join(next);
                        self.poll_stat(next, &p);
                    }
                }
            }
        }
    }

    /// Why `name` is not complete, looked at now through the rules (for a bad-file
    /// report); `None` when it is complete after all (the watch will hand it out).
    pub(crate) fn why_not_complete(&self, name: &OsStr) -> Option<String> {
        let path = self.dir.join(name);
        let canonical = match self.rules.resolve_read(&path) {
            Ok(c) => c,
            Err(FilestoreError::Io { .. }) => {
                return Some("missing, while later volumes arrived".into())
            }
            Err(e) => return Some(self.reason(e)),
        };
        match check_file(&canonical, self.opts.min_size, self.rules.max_file_size()) {
            Check::Complete(_) => None,
            Check::NotYet(reason) => Some(reason),
            Check::Missing => Some("missing, while later volumes arrived".into()),
            Check::TooLarge(e) => Some(self.reason(e)),
        }
    }

    /// A refusal as the reason a volume is bad, its paths shown as they may leave the
    /// console ([`AccessRules::shown`]).
    pub(crate) fn reason(&self, e: FilestoreError) -> String {
        self.rules.shown_error(e).to_string()
    }

    /// Checks the file if a signal says so; `Some` when complete.
    fn look(&mut self, name: &OsStr, path: &Path) -> Result<Option<CompleteFile>> {
        let state = self.files.entry(name.to_owned()).or_default();
        let by_close = state.closed;
        let quiet = state
            .writing
            .is_none_or(|last| last.elapsed() >= self.opts.writing_grace);
        let by_poll = state.stable && quiet && state.last_stat != state.failed_at;
        if !by_close && !by_poll {
            return Ok(None);
        }
        state.closed = false;
        state.stable = false;
        // Canonicalise every time: the name may be a symlink pointing out.
        let canonical = match self.rules.resolve_read(path) {
            Ok(c) => c,
            Err(FilestoreError::Io { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        match check_file(&canonical, self.opts.min_size, self.rules.max_file_size()) {
            Check::Complete(bytes) => {
                tracing::debug!(file = %canonical.display(), by_close, by_poll, "complete");
                Ok(Some(CompleteFile {
                    index: 0,
                    path: canonical,
                    bytes,
                    completed_at: SystemTime::now(),
                }))
            }
            Check::NotYet(reason) => {
                tracing::debug!(file = %canonical.display(), %reason, "not complete yet");
                let state = self.files.entry(name.to_owned()).or_default();
                state.failed_at = stat(&canonical);
                state.last_stat = state.failed_at;
                Ok(None)
            }
            Check::Missing => Ok(None),
            Check::TooLarge(e) => Err(e),
        }
    }

    fn apply(&mut self, event: FolderEvent) {
        match event {
            FolderEvent::Closed(name) => {
                let s = self.files.entry(name).or_default();
                s.closed = true;
                s.writing = None;
            }
            FolderEvent::Changed(name) => {
                let s = self.files.entry(name).or_default();
                s.closed = false;
                s.writing = Some(Instant::now());
                s.stable = false;
            }
            FolderEvent::Rescan => {
                // Events were lost: let the polls decide for every file.
                for s in self.files.values_mut() {
                    s.writing = None;
                }
            }
        }
    }

    /// The state of `name`, created on first use. Nothing heard since opening: a file
    /// that was there already, untouched for a while, is taken as finished; any other
    /// waits for its close or for polls. (On a share whose clock lags, the DICOM check
    /// still catches a cut file.)
    fn state_for(&mut self, name: &OsStr) -> &mut FileState {
        let (dir, opened_at, settled_after) = (&self.dir, self.opened_at, self.opts.settled_after);
        self.files.entry(name.to_owned()).or_insert_with(|| {
            let settled = std::fs::metadata(dir.join(name))
                .and_then(|m| m.modified())
                .is_ok_and(|t| t + settled_after <= opened_at);
            FileState {
                closed: settled,
                ..FileState::default()
            }
        })
    }

    fn poll_stat(&mut self, name: &OsStr, path: &Path) {
        let now = stat(path);
        let s = self.state_for(name);
        s.stable = now.is_some() && now == s.last_stat;
        s.last_stat = now;
    }
}

fn stat(path: &Path) -> Option<(u64, SystemTime)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.modified().ok()?))
}

fn check_bare_name(name: &str) -> Result<()> {
    let p = Path::new(name);
    let bare = p.file_name().is_some_and(|n| n == p.as_os_str());
    if bare && name != "." && name != ".." {
        Ok(())
    } else {
        Err(FilestoreError::Refused {
            path: PathBuf::from(name),
            reason: "a watched file must be a bare name inside the watched folder".into(),
        })
    }
}

/// Waits up to `timeout` for `dir/name` to be complete (watch started now; a file
/// already there and settled is returned at once).
pub async fn wait_for_file(
    rules: &AccessRules,
    dir: &Path,
    name: &str,
    min_size: u64,
    timeout: Duration,
) -> Result<CompleteFile> {
    FolderWatch::open(rules, dir, min_size)?
        .wait_for(name, timeout)
        .await
}
