//! [`ScannerFolder`]: a scanner's output folder as a stream of complete volumes in
//! index order, on top of [`FolderWatch`]. It never skips an index and never yields one
//! twice; waiting for a missing volume is the caller's timeout to set.

use std::ffi::OsString;
use std::path::Path;

use crate::error::Result;
use crate::events::FolderEvents;
use crate::pattern::FilePattern;
use crate::rules::AccessRules;
use crate::watch::{CompleteFile, FolderWatch, WatchOptions};

/// How many later volumes a scanner folder polls ahead (see `wait_complete`).
const LOOKAHEAD: u32 = 8;

/// A scanner's output folder: yields volumes `start_index, start_index + 1, ...` in
/// order, each as soon as it is complete (files already there are yielded at once).
#[derive(Debug)]
pub struct ScannerFolder {
    watch: FolderWatch,
    pattern: FilePattern,
    next_index: u32,
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
        })
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
    pub async fn next(&mut self) -> Result<CompleteFile> {
        let name = OsString::from(self.pattern.name_for(self.next_index));
        let upcoming: Vec<OsString> = (1..=LOOKAHEAD)
            .map(|k| {
                self.pattern
                    .name_for(self.next_index.saturating_add(k))
                    .into()
            })
            .collect();
        let mut file = self.watch.wait_complete(&name, &upcoming).await?;
        file.index = self.next_index;
        // Drop what is known about this and any earlier volume (stray events), so the
        // state stays small over a long session.
        let (pattern, done) = (&self.pattern, self.next_index);
        self.watch.files.retain(|n, _| {
            n.to_str()
                .and_then(|n| pattern.index_of(n))
                .is_none_or(|i| i > done)
        });
        self.next_index += 1;
        Ok(file)
    }
}
