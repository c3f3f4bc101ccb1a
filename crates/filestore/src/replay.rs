//! The scanner simulator: copies a folder's files into a watched folder at TR pace,
//! writing each in a few chunks with short pauses before closing it, as a scanner does.
//!
//! Used by `data_streamer replay`, tests and benchmarks. It records the wall-clock time
//! right after each `close()`, the reference point for "file complete -> volume at the
//! analyser" latencies. It writes only where it is told to; it does not use the access
//! rules (it plays the scanner, not the streamer).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::error::{io_err, FilestoreError, Result};
use crate::pattern::FilePattern;

/// How to replay.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Time between the starts of two files.
    pub tr: Duration,
    /// Each file is written in this many chunks (at least 1).
    pub chunks: usize,
    /// Pause between two chunks of one file.
    pub chunk_pause: Duration,
    /// Rename the files: file `i` (in name order) becomes `pattern.name_for(start_index + i)`.
    pub rename: Option<FilePattern>,
    pub start_index: u32,
    /// Only source files with one of these extensions (case-insensitive, no dot);
    /// empty = every regular file.
    pub extensions: Vec<String>,
    /// Replay at most this many files.
    pub limit: Option<usize>,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        Self {
            tr: Duration::from_millis(1500),
            chunks: 4,
            chunk_pause: Duration::from_millis(5),
            rename: None,
            start_index: 0,
            extensions: Vec::new(),
            limit: None,
        }
    }
}

/// One file written by the replay.
#[derive(Debug, Clone)]
pub struct ReplayedFile {
    pub source: PathBuf,
    pub target: PathBuf,
    /// Position in the replay (0-based).
    pub position: usize,
    pub bytes: u64,
    /// Wall-clock time right after the final write, just before `close()`: nothing can
    /// call the file complete through a close event before this.
    pub last_write_at: SystemTime,
    /// Wall-clock time right after `close()` returned (a watcher reacting to the close
    /// event may report the file a few microseconds before this).
    pub closed_at: SystemTime,
}

/// The source files a replay would write, in order (regular files sorted by name).
pub fn replay_sources(source: &Path, opts: &ReplayOptions) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(source)
        .map_err(io_err("list", source))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| {
            opts.extensions.is_empty()
                || p.extension().and_then(|x| x.to_str()).is_some_and(|x| {
                    opts.extensions
                        .iter()
                        .any(|want| want.trim_start_matches('.').eq_ignore_ascii_case(x))
                })
        })
        .collect();
    files.sort();
    if let Some(limit) = opts.limit {
        files.truncate(limit);
    }
    Ok(files)
}

/// Replays `source` into `into` on the calling thread (it sleeps: not for async code),
/// calling `on_closed` right after each file is closed. Creates `into` if missing.
pub fn replay_blocking(
    source: &Path,
    into: &Path,
    opts: &ReplayOptions,
    mut on_closed: impl FnMut(&ReplayedFile),
) -> Result<Vec<ReplayedFile>> {
    let files = replay_sources(source, opts)?;
    if files.is_empty() {
        return Err(FilestoreError::Refused {
            path: source.to_path_buf(),
            reason: "no files to replay there".into(),
        });
    }
    fs::create_dir_all(into).map_err(io_err("create folder", into))?;
    let chunks = opts.chunks.max(1);
    let start = Instant::now();
    let mut out = Vec::with_capacity(files.len());
    for (position, src) in files.iter().enumerate() {
        // Pace from the start, not from the previous file, so pauses do not accumulate.
        let due = start + opts.tr * position as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let bytes = fs::read(src).map_err(io_err("read", src))?;
        let name = match &opts.rename {
            Some(pattern) => pattern.name_for(opts.start_index + position as u32).into(),
            None => src.file_name().unwrap_or_default().to_owned(),
        };
        let target = into.join(name);
        let mut file = fs::File::create(&target).map_err(io_err("create", &target))?;
        let chunk_len = bytes.len().div_ceil(chunks).max(1);
        for (i, chunk) in bytes.chunks(chunk_len).enumerate() {
            if i > 0 && !opts.chunk_pause.is_zero() {
                std::thread::sleep(opts.chunk_pause);
            }
            file.write_all(chunk).map_err(io_err("write", &target))?;
            // Flush each chunk to the kernel so readers see a growing, partial file.
            file.flush().map_err(io_err("write", &target))?;
        }
        let last_write_at = SystemTime::now();
        drop(file);
        let closed_at = SystemTime::now();
        let replayed = ReplayedFile {
            source: src.clone(),
            target,
            position,
            bytes: bytes.len() as u64,
            last_write_at,
            closed_at,
        };
        on_closed(&replayed);
        out.push(replayed);
    }
    Ok(out)
}

/// [`replay_blocking`] on a blocking thread, for async callers.
pub async fn replay(source: &Path, into: &Path, opts: &ReplayOptions) -> Result<Vec<ReplayedFile>> {
    let (source, target, opts) = (source.to_path_buf(), into.to_path_buf(), opts.clone());
    tokio::task::spawn_blocking(move || replay_blocking(&source, &target, &opts, |_| {}))
        .await
        .unwrap_or_else(|e| {
            Err(FilestoreError::Refused {
                path: into.to_path_buf(),
                reason: format!("the replay thread failed: {e}"),
            })
        })
}
