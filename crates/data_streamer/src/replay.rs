//! `data_streamer replay`: plays a recorded run into a folder at TR pace, each file
//! written in a few chunks and then closed, as the scanner does. Point a streamer at
//! that folder to rehearse a session, or to test the link, without a scanner.

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::Args;
use filestore::replay::{replay_blocking, ReplayOptions};
use filestore::FilePattern;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Folder with the recorded files (played in name order).
    #[arg(long, value_name = "DIR")]
    source: PathBuf,
    /// Folder to write them into (the one the streamer watches); created if missing.
    #[arg(long, value_name = "DIR")]
    into: PathBuf,
    /// Seconds from the start of one file to the start of the next.
    #[arg(long, default_value_t = 1.5, value_name = "SEC")]
    tr: f64,
    /// Write each file in this many pieces, like a scanner writing slowly.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1000))]
    chunks: u32,
    /// Milliseconds between two pieces of one file.
    #[arg(long, default_value_t = 5, value_name = "MS")]
    chunk_pause_ms: u64,
    /// Rename the files, e.g. 001_000013_{TR:06d}.dcm: the i-th file gets --start-index + i.
    #[arg(long, value_name = "PATTERN")]
    rename: Option<String>,
    /// The index of the first file when renaming.
    #[arg(long, default_value_t = 1, requires = "rename")]
    start_index: u32,
    /// Only files with these extensions (comma separated, e.g. dcm); default: all files.
    #[arg(long, value_delimiter = ',', value_name = "EXT,...")]
    only: Vec<String>,
    /// Play at most this many files.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
}

/// Plays the run, printing one line per file as soon as it is closed:
/// `closed <position> <path> <bytes> <unix time of close>`.
pub fn run(args: ReplayArgs) -> Result<()> {
    let tr = Duration::try_from_secs_f64(args.tr)
        .ok()
        .with_context(|| format!("--tr {} is not a number of seconds >= 0", args.tr))?;
    let rename = args
        .rename
        .as_deref()
        .map(FilePattern::new)
        .transpose()
        .context("--rename")?;
    let options = ReplayOptions {
        tr,
        chunks: args.chunks as usize,
        chunk_pause: Duration::from_millis(args.chunk_pause_ms),
        rename,
        start_index: args.start_index,
        extensions: args
            .only
            .iter()
            .map(|e| e.trim_start_matches('.').to_owned())
            .collect(),
        limit: args.limit,
    };
    let played = replay_blocking(&args.source, &args.into, &options, |file| {
        let closed = file
            .closed_at
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        println!(
            "closed {} {} {} {:.6}",
            file.position,
            file.target.display(),
            file.bytes,
            closed.as_secs_f64()
        );
    })
    .with_context(|| {
        format!(
            "replaying {} into {}",
            args.source.display(),
            args.into.display()
        )
    })?;
    tracing::info!(files = played.len(), "replay finished");
    Ok(())
}
