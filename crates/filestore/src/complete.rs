//! When is a file complete? The content checks that follow a "closed" or "stable" signal.
//!
//! The watcher (`watch.rs`) decides *when* to look; this module decides whether what it
//! sees may be handed out: at least `min_size` bytes and, for DICOM, a structure that is
//! not cut short (`imaging::prescan`, the cheap walk, not a full parse). It must never
//! call a file complete on a guess.

use std::path::Path;

/// The verdict on one look at a file.
#[derive(Debug)]
pub(crate) enum Check {
    /// Complete: here are its bytes.
    Complete(Vec<u8>),
    /// Not (yet) complete; the reason is logged at debug level.
    NotYet(String),
    /// Gone or unreadable right now (the scanner may be renaming it).
    Missing,
    /// Larger than the rules allow (the size is in the error).
    TooLarge(crate::FilestoreError),
}

/// Reads `path` and checks it. Plain `std::fs` on purpose: this is the latency-critical
/// path and the files are small (under a few MB), so a blocking read beats a thread hop.
pub(crate) fn check_file(path: &Path, min_size: u64, max_size: u64) -> Check {
    let bytes = match crate::fileops::read_capped(path, max_size) {
        Ok(bytes) => bytes,
        Err(e @ crate::FilestoreError::TooLarge { .. }) => return Check::TooLarge(e),
        Err(_) => return Check::Missing,
    };
    check_bytes(path, bytes, min_size)
}

pub(crate) fn check_bytes(path: &Path, bytes: Vec<u8>, min_size: u64) -> Check {
    if (bytes.len() as u64) < min_size {
        return Check::NotYet(format!("{} bytes < min size {min_size}", bytes.len()));
    }
    if bytes.is_empty() {
        return Check::NotYet("empty".into());
    }
    if imaging::dicom::is_dicom(path, &bytes) {
        if let Err(e) = imaging::prescan::prescan(&bytes) {
            return Check::NotYet(format!("DICOM not complete: {e}"));
        }
    }
    Check::Complete(bytes)
}
