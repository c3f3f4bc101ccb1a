//! [`ScannerFolder`]: a scanner's output folder as a stream of complete volumes in
//! index order, on top of [`FolderWatch`]. It never skips an index silently and never
//! yields one twice. A bad file (still not complete after [`BadFileBound`], or missing
//! while later volumes arrived) fails its index only, with
//! [`FilestoreError::BadFile`], and the stream goes on; waiting for a volume the
//! scanner has not written yet is the caller's timeout to set.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{FilestoreError, Result};
use crate::events::FolderEvents;
use crate::pattern::FilePattern;
use crate::rules::AccessRules;
use crate::watch::{CompleteFile, FolderWatch, WatchOptions};

/// How many later volumes a scanner folder polls ahead (see `wait_complete`).
const LOOKAHEAD: u32 = 8;

/// How often a waiting [`ScannerFolder::next`] looks whether its file is overdue.
const OVERDUE_CHECK: Duration = Duration::from_millis(100);

/// How long a volume's file may stay incomplete (or missing while later ones are there)
/// before that volume is reported bad: `trs` times the scanner's TR, measured between
/// the last two consecutive volumes, never less than `at_least`; `before_tr_known`
/// until two consecutive volumes have completed.
#[derive(Debug, Clone)]
pub struct BadFileBound {
    pub trs: f64,
    pub before_tr_known: Duration,
    pub at_least: Duration,
}

impl Default for BadFileBound {
    /// 3 TRs (a scanner that writes one volume per TR is never that late with a good
    /// file), 10 s before the TR is known, at least 2 s (a busy disk, a loaded machine).
    fn default() -> Self {
        Self {
            trs: 3.0,
            before_tr_known: Duration::from_secs(10),
            at_least: Duration::from_secs(2),
        }
    }
}

/// A scanner's output folder: yields volumes `start_index, start_index + 1, ...` in
/// order, each as soon as it is complete (files already there are yielded at once).
#[derive(Debug)]
pub struct ScannerFolder {
    watch: FolderWatch,
    pattern: FilePattern,
    next_index: u32,
    bound: BadFileBound,
    /// The scanner's TR, measured between the last two consecutive volumes.
    tr: Option<Duration>,
    /// The last volume completed: (index, when).
    last: Option<(u32, Instant)>,
    /// Since when the file of `next_index` (or a later one) is there but not complete.
    stalled_since: Option<Instant>,
}

impl ScannerFolder {
    /// Opens `dir` (checked by the rules) for files named by `pattern`.
    pub fn open(
        rules: &AccessRules,
        dir: &Path,
        pattern: FilePattern,
        min_size: u64,
        start_index: u32,
    ) -> Result<Self> {
        Self::open_with(
            rules,
            dir,
            pattern,
            start_index,
            WatchOptions::with_min_size(min_size),
            None,
        )
    }

    /// [`ScannerFolder::open`] with options and an optional event source (tests).
    pub fn open_with(
        rules: &AccessRules,
        dir: &Path,
        pattern: FilePattern,
        start_index: u32,
        opts: WatchOptions,
        events: Option<Box<dyn FolderEvents>>,
    ) -> Result<Self> {
        rules.check_type(Path::new(&pattern.name_for(start_index)))?;
        Ok(Self {
            watch: FolderWatch::open_with(rules, dir, opts, events)?,
            pattern,
            next_index: start_index,
            bound: BadFileBound::default(),
            tr: None,
            last: None,
            stalled_since: None,
        })
    }

    /// [`ScannerFolder::open`], waiting up to `within` for a folder that does not exist
    /// yet (scanners create the session folder with its first image). The folder must
    /// lie inside the allowed folders, and is checked again once it appears.
    pub async fn open_when_present(
        rules: &AccessRules,
        dir: &Path,
        pattern: FilePattern,
        min_size: u64,
        start_index: u32,
        within: Duration,
    ) -> Result<Self> {
        let opts = WatchOptions::with_min_size(min_size);
        Self::open_when_present_with(rules, dir, pattern, start_index, opts, within).await
    }

    /// [`ScannerFolder::open_when_present`] with watch options (the streamer's
    /// `--no-inotify` and `--poll-interval`; `opts.min_size` is the smallest complete
    /// file).
    pub async fn open_when_present_with(
        rules: &AccessRules,
        dir: &Path,
        pattern: FilePattern,
        start_index: u32,
        opts: WatchOptions,
        within: Duration,
    ) -> Result<Self> {
        let deadline = Instant::now() + within;
        loop {
            match Self::open_with(rules, dir, pattern.clone(), start_index, opts.clone(), None) {
                Err(FilestoreError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound
                        && Instant::now() < deadline =>
                {
                    tokio::time::sleep(OVERDUE_CHECK).await;
                }
                Err(FilestoreError::Io { path, source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    return Err(FilestoreError::Io {
                        op: "wait for the scanner folder",
                        path,
                        source: std::io::Error::new(
                            source.kind(),
                            format!("it did not appear within {:.1} s", within.as_secs_f64()),
                        ),
                    });
                }
                other => return other,
            }
        }
    }

    /// Sets when a volume's file counts as bad (default [`BadFileBound::default`]).
    pub fn with_bad_file_bound(mut self, bound: BadFileBound) -> Self {
        self.bound = bound;
        self
    }

    /// The index the next call to [`ScannerFolder::next`] waits for.
    pub fn next_index(&self) -> u32 {
        self.next_index
    }

    /// The canonical folder watched.
    pub fn dir(&self) -> &Path {
        self.watch.dir()
    }

    /// The pattern.
    pub fn pattern(&self) -> &FilePattern {
        &self.pattern
    }

    /// Waits (without limit: wrap in `tokio::time::timeout`) for the next volume.
    /// Cancel-safe: a cancelled call loses nothing and the next call waits for the
    /// same index.
    ///
    /// Errors: [`FilestoreError::BadFile`] when this index's file is bad (see
    /// [`BadFileBound`]); the next call goes on with the next index. Any other error
    /// ends the stream.
    pub async fn next(&mut self) -> Result<CompleteFile> {
        let name = OsString::from(self.pattern.name_for(self.next_index));
        let upcoming: Vec<OsString> = (1..=LOOKAHEAD)
            .map(|k| {
                self.pattern
                    .name_for(self.next_index.saturating_add(k))
                    .into()
            })
            .collect();
        let mut file = loop {
            match tokio::time::timeout(OVERDUE_CHECK, self.watch.wait_complete(&name, &upcoming))
                .await
            {
                // A file the rules refuse (too large, a hard link, a symlink out)
                // fails its volume only, like a file that never completes.
                Ok(Err(e)) if e.is_refusal_of_one_file() => {
                    let bad = FilestoreError::BadFile {
                        index: self.next_index,
                        path: self.watch.dir().join(&name),
                        reason: self.watch.reason(e),
                        waited: Duration::ZERO,
                    };
                    self.advance();
                    return Err(bad);
                }
                Ok(file) => break file?,
                Err(_) => {
                    if let Some(bad) = self.overdue(&name, &upcoming) {
                        self.advance();
                        return Err(bad);
                    }
                }
            }
        };
        file.index = self.next_index;
        let now = Instant::now();
        if let Some((index, at)) = self.last {
            if index.checked_add(1) == Some(file.index) {
                let interval = now - at;
                // Volumes held back behind a slow file come out in a burst, microseconds
                // apart: such an interval is not the scanner's TR, and taking it would
                // shrink the bound so that the next slow but good file is failed (found
                // by the fault suite, docs/faults.md).
                if self.tr.is_none_or(|tr| interval > tr / 4) {
                    self.tr = Some(interval);
                }
            }
        }
        self.last = Some((file.index, now));
        self.advance();
        Ok(file)
    }

    /// How long the current file may stay incomplete.
    fn bound_now(&self) -> Duration {
        let b = &self.bound;
        match self.tr {
            Some(tr) => tr.mul_f64(b.trs.max(0.0)).max(b.at_least),
            None => b.before_tr_known,
        }
    }

    /// The bad-file error for the current index once it is overdue: its file (or a
    /// later one) has been there for the bound and it is still not complete.
    fn overdue(&mut self, name: &OsString, upcoming: &[OsString]) -> Option<FilestoreError> {
        let dir = self.watch.dir().to_path_buf();
        let there = |n: &OsString| dir.join(n).symlink_metadata().is_ok();
        if !there(name) && !upcoming.iter().any(there) {
            // The scanner has not got this far: that is the caller's timeout.
            self.stalled_since = None;
            return None;
        }
        let since = *self.stalled_since.get_or_insert_with(Instant::now);
        let waited = since.elapsed();
        if waited < self.bound_now() {
            return None;
        }
        let reason = self.watch.why_not_complete(name)?;
        tracing::warn!(index = self.next_index, file = ?name, %reason, "bad scanner file: volume skipped");
        Some(FilestoreError::BadFile {
            index: self.next_index,
            path: dir.join(name),
            reason,
            waited,
        })
    }

    /// Moves on to the next index.
    fn advance(&mut self) {
        self.stalled_since = None;
        // Drop what is known about this and any earlier volume (stray events), so the
        // state stays small over a long session.
        let (pattern, done) = (&self.pattern, self.next_index);
        self.watch.files.retain(|n, _| {
            n.to_str()
                .and_then(|n| pattern.index_of(n))
                .is_none_or(|i| i > done)
        });
        self.next_index += 1;
    }
}
