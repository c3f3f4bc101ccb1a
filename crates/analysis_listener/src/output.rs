//! The listener's folder, for presentation software that polls files (RT-Cloud's way):
//!
//! - `run-<run>/tr-<tr:04>.json`: one result, written atomically;
//! - `run-<run>/results.tsv`: one line per result, appended;
//! - `messages.log` (appended) and `latest_message.txt` (replaced);
//! - `.rtcloud-listener.json`: which session the folder belongs to and the last result
//!   and message written, so a restarted listener asks for exactly what it lacks.
//! - `earlier-sessions/<session id>/`: the files above of each earlier analyser session
//!   (with its own position file), moved there when a new session starts, so the
//!   top-level files always belong to one session and never mix two.
//!
//! Each result is written at most once: anything at or below the saved position is
//! skipped, and a results.tsv line already there (a crash between the append and the
//! position update) is not appended again.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const POSITION_FILE: &str = ".rtcloud-listener.json";
/// Where the files of earlier analyser sessions are moved, one folder per session.
pub const EARLIER_SESSIONS: &str = "earlier-sessions";
const TSV_HEADER: &str = "seq\trun\ttr\tvalue\tonset_delay_ms\tsent_at\treceived_at\tshown_at\n";

/// What went wrong writing the folder.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct OutputError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// How far the folder is, across restarts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub session_id: String,
    pub last_seq: u64,
    pub last_message_seq: u64,
}

/// One result as the presentation software reads it (the JSON file's content).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivered {
    pub seq: u64,
    pub run: i64,
    pub tr: i64,
    /// A number, or the object given to set_result_dict.
    pub value: serde_json::Value,
    pub onset_delay_ms: f64,
    /// When the project made it, on the listener's clock (corrected for skew).
    pub sent_at: f64,
    /// When the listener received it (its clock).
    pub received_at: f64,
    /// When it was made visible here (its clock): sent_at + onset delay, or on arrival.
    pub shown_at: f64,
}

/// The output folder.
#[derive(Debug)]
pub struct Output {
    dir: PathBuf,
    position: Position,
    /// Also write RT-Cloud's files (`--rtcloud-layout`, see `rtcloud_layout`).
    rtcloud_layout: bool,
    /// The last result in each run's results.tsv, once read or written here.
    tsv_last_seq: std::collections::HashMap<i64, u64>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError {
        path: path.to_owned(),
        source,
    }
}

impl Output {
    /// Opens (creating) `dir` and reads where it is.
    pub fn open(dir: &Path) -> Result<Output, OutputError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join(POSITION_FILE);
        let position = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), "unreadable position ({e}); starting over");
                Position::default()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Position::default(),
            Err(e) => return Err(io(&path)(e)),
        };
        Ok(Output {
            dir: dir.to_owned(),
            position,
            rtcloud_layout: false,
            tsv_last_seq: Default::default(),
        })
    }

    /// Also writes each result as RT-Cloud's subject service did
    /// (`run<R>/classoutput/vol-<R>-<T>.txt`, `<name>.json`), beside this folder's own.
    pub fn with_rtcloud_layout(mut self, on: bool) -> Self {
        self.rtcloud_layout = on;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn position(&self) -> &Position {
        &self.position
    }

    /// The analyser started a session this folder has not seen: the earlier session's
    /// files move to `earlier-sessions/<its id>/` and this one counts from zero.
    pub fn begin_session(&mut self, session_id: &str) -> Result<(), OutputError> {
        if self.position.session_id != session_id {
            self.set_aside()?;
            self.tsv_last_seq.clear();
            self.position = Position {
                session_id: session_id.to_owned(),
                last_seq: 0,
                last_message_seq: 0,
            };
            self.save()?;
        }
        Ok(())
    }

    /// The JSON file of a result.
    pub fn result_path(&self, run: i64, tr: i64) -> PathBuf {
        self.dir
            .join(format!("run-{run}"))
            .join(format!("tr-{tr:04}.json"))
    }

    /// Writes a result unless it was written before; false when skipped. The JSON
    /// comes first, since it is what presentation software waits for; `on_visible` runs
    /// as soon as it is in place, then the results.tsv line and the position follow.
    pub fn write_result(
        &mut self,
        result: &Delivered,
        on_visible: impl FnOnce(),
    ) -> Result<bool, OutputError> {
        if result.seq <= self.position.last_seq {
            return Ok(false);
        }
        let json = serde_json::to_vec_pretty(result).unwrap_or_default();
        let path = self.result_path(result.run, result.tr);
        let mut placed = vec![(
            filestore::publish_unsynced(&path, &json).map_err(io(&path))?,
            path,
        )];
        if self.rtcloud_layout {
            if let Some((path, bytes)) = crate::rtcloud_layout::file_for(&self.dir, result) {
                placed.push((
                    filestore::publish_unsynced(&path, &bytes).map_err(io(&path))?,
                    path,
                ));
            }
        }
        // Readers are told once the files are in place; the fsyncs (milliseconds on a
        // busy disk) follow, and the position is saved only after them.
        on_visible();
        for (unsynced, path) in placed {
            unsynced.sync().map_err(io(&path))?;
        }
        let tsv = self
            .dir
            .join(format!("run-{}", result.run))
            .join("results.tsv");
        // Only the first result of a run in this process looks at the file (a line left
        // by a crash between the append and the position update); after that the last
        // line is known, so a TR's cost does not grow with the run.
        let last_in_tsv = match self.tsv_last_seq.get(&result.run) {
            Some(&last) => last,
            None => tsv_last_seq(&tsv),
        };
        if last_in_tsv < result.seq {
            let value = match &result.value {
                serde_json::Value::String(s) => s.replace(['\t', '\n'], " "),
                other => other.to_string(),
            };
            let line = format!(
                "{}\t{}\t{}\t{value}\t{}\t{:.6}\t{:.6}\t{:.6}\n",
                result.seq,
                result.run,
                result.tr,
                result.onset_delay_ms,
                result.sent_at,
                result.received_at,
                result.shown_at
            );
            append(&tsv, TSV_HEADER, &line)?;
        }
        self.tsv_last_seq.insert(result.run, result.seq);
        self.position.last_seq = result.seq;
        self.save()?;
        Ok(true)
    }

    /// Writes a message unless it was written before; false when skipped.
    pub fn write_message(&mut self, seq: u64, at: f64, text: &str) -> Result<bool, OutputError> {
        if seq <= self.position.last_message_seq {
            return Ok(false);
        }
        let log = self.dir.join("messages.log");
        let line = format!("{seq}\t{at:.6}\t{}\n", text.replace('\n', " "));
        append(&log, "", &line)?;
        let latest = self.dir.join("latest_message.txt");
        filestore::write_atomic(&latest, text.as_bytes()).map_err(io(&latest))?;
        self.position.last_message_seq = seq;
        self.save()?;
        Ok(true)
    }

    /// Moves the current session's files (if any) into their own folder under
    /// [`EARLIER_SESSIONS`]. Each move is a rename, so a file is either here or there.
    fn set_aside(&self) -> Result<(), OutputError> {
        let ours = |name: &str| {
            name == POSITION_FILE
                || name == "messages.log"
                || name == "latest_message.txt"
                || name
                    .strip_prefix("run-")
                    .is_some_and(|r| r.parse::<i64>().is_ok())
        };
        let entries = std::fs::read_dir(&self.dir).map_err(io(&self.dir))?;
        let names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| ours(n) && n != POSITION_FILE)
            .collect();
        if names.is_empty() {
            return Ok(());
        }
        let id = match self.position.session_id.as_str() {
            // Files from before a position was kept: a name that cannot clash.
            "" => format!("unknown-{}", crate::link::now() as u64),
            id => id.replace(['/', '\\'], "_"),
        };
        let into = self.dir.join(EARLIER_SESSIONS).join(id);
        std::fs::create_dir_all(&into).map_err(io(&into))?;
        for name in names.iter().map(String::as_str).chain([POSITION_FILE]) {
            let from = self.dir.join(name);
            match std::fs::rename(&from, into.join(name)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&from)(e)),
            }
        }
        tracing::info!(folder = %into.display(), "the earlier session's results were moved aside");
        Ok(())
    }

    fn save(&self) -> Result<(), OutputError> {
        let path = self.dir.join(POSITION_FILE);
        let json = serde_json::to_vec_pretty(&self.position).unwrap_or_default();
        filestore::write_atomic(&path, &json).map_err(io(&path))
    }
}

/// Appends `line`, writing `header` first when the file is new.
fn append(path: &Path, header: &str, line: &str) -> Result<(), OutputError> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io(path))?;
    let new = file.metadata().map(|m| m.len() == 0).unwrap_or(false);
    let text = if new {
        format!("{header}{line}")
    } else {
        line.to_owned()
    };
    file.write_all(text.as_bytes()).map_err(io(path))?;
    file.sync_data().map_err(io(path))
}

/// The sequence number on the last line of `tsv` (0 when there is none).
fn tsv_last_seq(tsv: &Path) -> u64 {
    let Ok(text) = std::fs::read_to_string(tsv) else {
        return 0;
    };
    text.lines()
        .next_back()
        .and_then(|l| l.split('\t').next())
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(seq: u64, tr: i64) -> Delivered {
        Delivered {
            seq,
            run: 2,
            tr,
            value: serde_json::json!(0.5),
            onset_delay_ms: 0.0,
            sent_at: 1.0,
            received_at: 2.0,
            shown_at: 2.0,
        }
    }

    impl Output {
        fn write_result_(&mut self, result: &Delivered) -> Result<bool, OutputError> {
            self.write_result(result, || {})
        }
    }

    #[test]
    fn results_are_written_once_across_restarts() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut out = Output::open(dir.path()).expect("opens");
        out.begin_session("s1").expect("session");
        assert!(out.write_result_(&result(1, 1)).expect("writes"));
        assert!(out.write_result_(&result(2, 2)).expect("writes"));
        drop(out);

        let mut out = Output::open(dir.path()).expect("reopens");
        assert_eq!(out.position().last_seq, 2);
        out.begin_session("s1").expect("same session");
        assert!(!out.write_result_(&result(2, 2)).expect("skips"));
        assert!(out.write_result_(&result(3, 3)).expect("writes"));
        let tsv = std::fs::read_to_string(dir.path().join("run-2/results.tsv")).expect("tsv");
        assert_eq!(tsv.lines().count(), 4, "header + 3 lines: {tsv}");
        let json: Delivered = serde_json::from_slice(
            &std::fs::read(dir.path().join("run-2/tr-0003.json")).expect("json"),
        )
        .expect("parses");
        assert_eq!(json, result(3, 3));

        // A new analyser session counts from one again.
        out.begin_session("s2").expect("new session");
        assert!(out.write_result_(&result(1, 1)).expect("writes"));
    }

    /// A second analyser session in the same folder neither overwrites the first one's
    /// tr-*.json nor mixes its rows into results.tsv; the position files tell them apart.
    #[test]
    fn a_new_session_sets_the_earlier_one_aside() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut out = Output::open(dir.path()).expect("opens");
        out.begin_session("s1").expect("session");
        let first = Delivered {
            value: serde_json::json!("first session"),
            ..result(1, 1)
        };
        out.write_result_(&first).expect("writes");
        out.write_result_(&result(2, 2)).expect("writes");
        out.write_message(1, 1.0, "s1 message").expect("writes");
        drop(out);

        let mut out = Output::open(dir.path()).expect("reopens");
        out.begin_session("s2").expect("new session");
        let second = Delivered {
            value: serde_json::json!("second session"),
            ..result(1, 1)
        };
        assert!(out.write_result_(&second).expect("writes"));

        let read = |rel: &str| std::fs::read_to_string(dir.path().join(rel)).expect(rel);
        let json: Delivered = serde_json::from_str(&read("run-2/tr-0001.json")).expect("json");
        assert_eq!(json, second);
        let tsv = read("run-2/results.tsv");
        assert_eq!(
            tsv.lines().count(),
            2,
            "header + the new session's row: {tsv}"
        );
        assert!(!dir.path().join("messages.log").exists());

        let earlier = "earlier-sessions/s1";
        let json: Delivered =
            serde_json::from_str(&read(&format!("{earlier}/run-2/tr-0001.json"))).expect("json");
        assert_eq!(json, first);
        let tsv = read(&format!("{earlier}/run-2/results.tsv"));
        assert_eq!(tsv.lines().count(), 3, "{tsv}");
        assert_eq!(read(&format!("{earlier}/messages.log")).lines().count(), 1);
        let position =
            |rel: &str| -> Position { serde_json::from_str(&read(rel)).expect("position") };
        assert_eq!(
            position(&format!("{earlier}/{POSITION_FILE}")).session_id,
            "s1"
        );
        assert_eq!(position(&format!("{earlier}/{POSITION_FILE}")).last_seq, 2);
        assert_eq!(position(POSITION_FILE).session_id, "s2");
        assert_eq!(position(POSITION_FILE).last_seq, 1);
    }

    #[test]
    fn a_line_written_before_a_crash_is_not_appended_again() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut out = Output::open(dir.path()).expect("opens");
        out.begin_session("s").expect("session");
        out.write_result_(&result(1, 1)).expect("writes");
        // As if the listener died after the append but before saving its position.
        out.position.last_seq = 0;
        out.save().expect("saves");
        let mut out = Output::open(dir.path()).expect("reopens");
        assert!(out
            .write_result_(&result(1, 1))
            .expect("writes the JSON again"));
        let tsv = std::fs::read_to_string(dir.path().join("run-2/results.tsv")).expect("tsv");
        assert_eq!(tsv.lines().count(), 2, "{tsv}");
    }

    #[test]
    fn readers_are_told_once_the_json_is_in_place() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut out = Output::open(dir.path()).expect("opens");
        out.begin_session("s").expect("session");
        let path = out.result_path(2, 1);
        let mut told = false;
        out.write_result(&result(1, 1), || {
            told = true;
            let json = std::fs::read(&path).expect("in place when readers are told");
            assert_eq!(
                serde_json::from_slice::<Delivered>(&json).ok(),
                Some(result(1, 1))
            );
        })
        .expect("writes");
        assert!(told);
    }

    #[test]
    fn messages_are_logged_and_the_latest_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut out = Output::open(dir.path()).expect("opens");
        out.begin_session("s").expect("session");
        out.write_message(1, 1.0, "get ready").expect("writes");
        out.write_message(2, 2.0, "relax").expect("writes");
        assert!(!out.write_message(2, 2.0, "relax").expect("skips"));
        let log = std::fs::read_to_string(dir.path().join("messages.log")).expect("log");
        assert_eq!(log.lines().count(), 2);
        let latest =
            std::fs::read_to_string(dir.path().join("latest_message.txt")).expect("latest");
        assert_eq!(latest, "relax");
    }
}
