//! Protocol QA on the console (issue 12): notices each new series in the allowed
//! folders from the file names alone (`protocol_qa::names`) and sends the analyser a
//! parameter record of its first file, whether or not a project streams it.
//!
//! Only folders whose modification time changed are listed again, and only a series'
//! first file is read: the images of a series are never parsed here. The first file is
//! de-identified with the streamer's own options before its parameters are read, so the
//! record holds nothing that the file itself could not take out of the console. A file
//! still being written is tried again on the next poll; one that is not readable DICOM
//! is reported in the record and the next file of the series is used.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use protocol::v1::{from_streamer, FromStreamer, SeriesSeen};
use tokio::sync::mpsc;

use super::Shared;

/// How often the allowed folders are looked at.
const POLL: Duration = Duration::from_millis(200);
/// How deep below an allowed folder series are looked for (allowed/session/series/file).
const MAX_DEPTH: usize = 3;
/// Polls a first file may stay incomplete before the next file is tried (2 s).
const INCOMPLETE_POLLS: u32 = 10;
/// A folder's listing is trusted to be unchanged once its time is this old.
const SETTLED: Duration = Duration::from_secs(2);
/// Records kept while the link is down (the oldest are dropped beyond).
const MAX_PENDING: usize = 256;

/// Where series records go: the current link's sender, or a backlog while it is down.
#[derive(Debug, Default)]
pub(crate) struct SeriesOutbox {
    tx: Option<mpsc::UnboundedSender<FromStreamer>>,
    pending: VecDeque<SeriesSeen>,
}

impl SeriesOutbox {
    /// A new connection: the backlog goes first.
    pub fn attach(&mut self, tx: mpsc::UnboundedSender<FromStreamer>) {
        self.tx = Some(tx);
        while let Some(seen) = self.pending.pop_front() {
            if let Some(back) = self.send_now(seen) {
                self.pending.push_front(back);
                break;
            }
        }
    }

    fn send(&mut self, seen: SeriesSeen) {
        if let Some(seen) = self.send_now(seen) {
            if self.pending.len() >= MAX_PENDING {
                self.pending.pop_front();
            }
            self.pending.push_back(seen);
        }
    }

    /// Sends on the current link; the record back when there is none (or it is gone).
    fn send_now(&mut self, seen: SeriesSeen) -> Option<SeriesSeen> {
        let Some(tx) = self.tx.as_ref() else {
            return Some(seen);
        };
        let msg = FromStreamer {
            kind: Some(from_streamer::Kind::SeriesSeen(seen)),
        };
        let unsent = tx.send(msg).err()?;
        // The link is gone: keep the record for the next one.
        self.tx = None;
        match unsent.0.kind {
            Some(from_streamer::Kind::SeriesSeen(s)) => Some(s),
            _ => None,
        }
    }
}

/// A series noticed but not reported yet: its files in name order and how far we got.
#[derive(Debug, Default)]
struct Candidate {
    files: Vec<PathBuf>,
    tried: usize,
    /// Polls spent waiting on an incomplete file, or for a next file after failures.
    waiting: u32,
    skipped: Vec<String>,
}

/// What the allowed folders held when the streamer started: those series are old and
/// never reported.
#[derive(Debug, Default)]
pub(crate) struct Baseline {
    dirs: Known,
    reported: HashSet<String>,
}

/// Lists the allowed folders once (before the streamer first connects, so that every
/// series written after the link is up counts as new).
pub(crate) async fn baseline(shared: &Arc<Shared>) -> Baseline {
    let roots = shared.config.rules.allowed_dirs().to_vec();
    let scanned = tokio::task::spawn_blocking(move || scan(&roots, Known::new())).await;
    let (files, dirs) = scanned.unwrap_or_default();
    let reported = files.iter().map(|f| series_of(shared, f)).collect();
    Baseline { dirs, reported }
}

/// Watches the allowed folders until the task is dropped, reporting each series that
/// is not in `baseline`.
pub(crate) async fn watch(shared: Arc<Shared>, baseline: Baseline) {
    let Baseline {
        mut dirs,
        mut reported,
    } = baseline;
    let mut candidates: HashMap<String, Candidate> = HashMap::new();
    loop {
        tokio::time::sleep(POLL).await;
        let roots = shared.config.rules.allowed_dirs().to_vec();
        let known = std::mem::take(&mut dirs);
        let scanned = tokio::task::spawn_blocking(move || scan(&roots, known)).await;
        let new_files = match scanned {
            Ok((files, now)) => {
                dirs = now;
                files
            }
            Err(_) => Vec::new(),
        };
        for file in new_files {
            let id = series_of(&shared, &file);
            if !reported.contains(&id) {
                let c = candidates.entry(id).or_default();
                if !c.files.contains(&file) {
                    c.files.push(file);
                    c.files.sort();
                }
            }
        }
        let ids: Vec<String> = candidates.keys().cloned().collect();
        for id in ids {
            let Some(c) = candidates.get_mut(&id) else {
                continue;
            };
            if let Some(seen) = try_first(&shared, &id, c).await {
                tracing::info!(series = %seen.series, file = %seen.first_file, "new series: parameters sent for protocol QA");
                shared.lock_series().send(seen);
                candidates.remove(&id);
                reported.insert(id);
            }
        }
    }
}

/// The series id of a file, from its path as the analyser sees it.
fn series_of(shared: &Shared, file: &Path) -> String {
    protocol_qa::names::series_id(Path::new(&shared.config.rules.shown(file)))
}

/// Tries the series' next untried file: the record when it is read (or, after every
/// file failed and no new one came for a while, the failure), `None` to wait.
async fn try_first(shared: &Arc<Shared>, id: &str, c: &mut Candidate) -> Option<SeriesSeen> {
    let rules = &shared.config.rules;
    let seen = |record_json: String, file: &Path, skipped: Vec<String>| {
        let shown = rules.shown(file);
        SeriesSeen {
            series: id.to_string(),
            session: protocol_qa::names::session_id(Path::new(&shown)),
            first_file: shown,
            record_json,
            skipped,
            seen_at: crate::epoch_secs(SystemTime::now()),
        }
    };
    let Some(path) = c.files.get(c.tried).cloned() else {
        c.waiting += 1;
        let last = c.files.last()?.clone();
        return (c.waiting >= INCOMPLETE_POLLS)
            .then(|| seen(String::new(), &last, std::mem::take(&mut c.skipped)));
    };
    let outcome = {
        let shared = shared.clone();
        let path = path.clone();
        tokio::task::spawn_blocking(move || read_record(&shared, &path)).await
    };
    match outcome.unwrap_or_else(|e| Err((false, e.to_string()))) {
        Ok(json) => Some(seen(json, &path, std::mem::take(&mut c.skipped))),
        Err((true, _)) if c.waiting < INCOMPLETE_POLLS => {
            c.waiting += 1;
            None
        }
        Err((_, reason)) => {
            c.skipped.push(format!("{}: {reason}", rules.shown(&path)));
            c.tried += 1;
            c.waiting = 0;
            None
        }
    }
}

/// The record of one file as JSON; `Err((incomplete, reason))`.
fn read_record(shared: &Shared, path: &Path) -> Result<String, (bool, String)> {
    let bytes = shared
        .config
        .rules
        .read_file(path)
        .map_err(|e| (false, e.to_string()))?;
    // De-identified first: the record carries only what the file could carry out.
    let bytes = shared
        .config
        .deidentifier()
        .deidentify(&bytes)
        .map_err(|e| {
            (
                matches!(e, imaging::ImagingError::Incomplete(_)),
                e.to_string(),
            )
        })?;
    let record =
        protocol_qa::AcquisitionRecord::from_dicom(&bytes).map_err(|e| (false, e.to_string()))?;
    serde_json::to_string(&record).map_err(|e| (false, e.to_string()))
}

/// Each folder's modification time and subfolders when last listed.
type Known = HashMap<PathBuf, (SystemTime, Vec<PathBuf>)>;

/// Lists again only the folders whose modification time changed since `known` (all at
/// first; an unchanged folder's subfolders are still visited): the DICOM-named files in
/// them, and every folder's state now.
fn scan(roots: &[PathBuf], known: Known) -> (Vec<PathBuf>, Known) {
    let mut files = Vec::new();
    let mut now = Known::new();
    let mut stack: Vec<(PathBuf, usize)> = roots.iter().map(|r| (r.clone(), 0)).collect();
    while let Some((dir, depth)) = stack.pop() {
        let Ok(modified) = std::fs::metadata(&dir).and_then(|m| m.modified()) else {
            continue;
        };
        // A folder changed in the last seconds is listed again anyway: a file added in
        // the same tick of the file system's clock as our last listing leaves its time as it was.
        let settled = SystemTime::now()
            .duration_since(modified)
            .is_ok_and(|age| age > SETTLED);
        let subdirs = match known.get(&dir) {
            Some((time, subdirs)) if *time == modified && settled => subdirs.clone(),
            _ => {
                let mut subdirs = Vec::new();
                for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                    let Ok(kind) = entry.file_type() else {
                        continue;
                    };
                    let path = entry.path();
                    if kind.is_dir() {
                        subdirs.push(path);
                    } else if kind.is_file() && dicom_by_name(&path) {
                        files.push(path);
                    }
                }
                subdirs
            }
        };
        if depth < MAX_DEPTH {
            stack.extend(subdirs.iter().map(|d| (d.clone(), depth + 1)));
        }
        now.insert(dir, (modified, subdirs));
    }
    (files, now)
}

fn dicom_by_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["dcm", "ima"].iter().any(|x| e.eq_ignore_ascii_case(x)))
}
