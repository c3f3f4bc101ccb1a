//! session: everything one experimenter's session produces, kept in memory for the web
//! page and the listener, and on disk for afterwards.
//!
//! Owns: results (numbered, for exactly-once delivery to the stimulus PC), messages,
//! plot points per run, the logs, participant responses, and the record of each script
//! launch (Run, Initialize, Finalize) with the settings it used. Every change is also
//! an [`Event`] on a broadcast channel that live views subscribe to.
//!
//! On disk, below `ROOT/PROJECT/YYYYMMDD-HHMMSS/`:
//! - `session.log`: every log line of the session;
//! - `launches/NNN-KIND/`: `config.toml` (the settings used), `log.txt`, `results.tsv`,
//!   `plot.tsv` (run, TR, value as plotted), `volumes.tsv` (index, closed, received,
//!   served: when each volume went through), `timeline.tsv` (Run launches: each TR's
//!   whole timeline, see [`timeline`]) and `status.json` (how it ended), each
//!   replaced atomically or appended by line.
//!
//! Must never: block a caller on the disk (a writer thread does the IO), or grow
//! without bound in memory (logs keep the last [`MAX_LOG_LINES`]).

mod records;
mod run_view;
pub mod timeline;
mod writer;

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use tokio::sync::broadcast;

pub use records::{Event, Launch, LaunchKind, LogKind, LogLine, Response, ResultRecord};
pub use run_view::{BrainView, MotionPoint, Slice, Stage, TrLatency, MAX_VIEW_TRS};
pub use timeline::{ClockOffset, TrTimeline, VolumeStamps};
use writer::Writer;

/// Log lines kept in memory (all of them stay in the files).
pub const MAX_LOG_LINES: usize = 20_000;
/// The longest log line kept in memory and sent to the page (8 KiB); the rest of a
/// longer line is in session.log.
pub const MAX_LOG_LINE_BYTES: usize = 8 * 1024;
/// The log text kept in memory at most (8 MiB): older lines go first.
pub const MAX_LOG_BYTES: usize = 8 * 1024 * 1024;
/// How long a Run launch's TR timelines wait for a listener's acknowledgement after the
/// script ended before they are written without it.
const UNACKNOWLEDGED_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// Events a slow live view may fall behind by before it must reload.
const EVENT_BACKLOG: usize = 4096;

/// What can go wrong creating a session.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot create the session folder {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no script launch {0} in this session")]
    NoLaunch(u32),
}

/// One session; cheap to clone (all clones share it).
#[derive(Debug, Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Unique among sessions: listeners tell by it whether their output folder is of
    /// this session.
    id: String,
    dir: PathBuf,
    project: String,
    state: Mutex<State>,
    events: broadcast::Sender<Event>,
    writer: Writer,
}

#[derive(Debug, Default)]
struct State {
    results: Vec<ResultRecord>,
    messages: Vec<(f64, String)>,
    plots: BTreeMap<i64, Vec<(i64, f64)>>,
    logs: VecDeque<LogLine>,
    /// Bytes of text in `logs`.
    log_bytes: usize,
    log_seq: u64,
    responses: Vec<Response>,
    /// Ids of responses recorded through `record_response`, so a resent one counts once.
    response_ids: std::collections::HashSet<String>,
    user_error: Option<String>,
    launches: Vec<Launch>,
    /// The launch whose script is running, which results and logs are filed under.
    current: Option<u32>,
    /// The Run tab's motion, latency and brain view of the latest Run launch.
    view: run_view::RunViewState,
    /// The running (or last) Run launch's TR timelines.
    timelines: timeline::Timelines,
}

/// Seconds since the epoch, as every record stores time.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

impl Session {
    /// Starts a new session of `project` in a new folder below `root`.
    pub fn create(root: &Path, project: &str) -> Result<Session, SessionError> {
        let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S").to_string();
        let base = root.join(project);
        let create = |path: &Path, source| SessionError::Create {
            path: path.to_owned(),
            source,
        };
        std::fs::create_dir_all(&base).map_err(|e| create(&base, e))?;
        // Two sessions started within a second get -2, -3, ...
        let mut dir = base.join(&stamp);
        let mut n = 1;
        loop {
            match std::fs::create_dir(&dir) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => {
                    n += 1;
                    dir = base.join(format!("{stamp}-{n}"));
                }
                Err(e) => return Err(create(&dir, e)),
            }
        }
        let writer = Writer::start().map_err(|e| create(&dir, e))?;
        let (events, _) = broadcast::channel(EVENT_BACKLOG);
        tracing::info!(dir = %dir.display(), "session started");
        Ok(Session {
            inner: Arc::new(Inner {
                id: format!(
                    "{}-{:08x}",
                    dir.file_name().unwrap_or_default().to_string_lossy(),
                    rand::random::<u32>()
                ),
                dir,
                project: project.to_owned(),
                state: Mutex::default(),
                events,
                writer,
            }),
        })
    }

    /// This session's unique id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    pub fn project(&self) -> &str {
        &self.inner.project
    }

    /// Live changes from now on. A receiver that falls more than a few thousand events
    /// behind gets `Lagged` and should reload the state.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn emit(&self, event: Event) {
        // No receivers is fine: nobody is watching.
        let _ = self.inner.events.send(event);
    }

    fn launch_dir(&self, launch: &Launch) -> PathBuf {
        self.inner.dir.join(&launch.dir)
    }

    /// `name` in the folder of the launch whose script is running, if one is.
    fn running_launch_file(&self, state: &State, name: &str) -> Option<PathBuf> {
        let number = state.current?;
        let launch = state.launches.iter().find(|l| l.number == number)?;
        Some(self.launch_dir(launch).join(name))
    }

    // ------------------------------------------------------------ launches

    /// Records the start of a script with the settings text it was given; returns the
    /// launch (whose folder holds `config.toml`). Results and logs go to it until
    /// [`Session::end_launch`].
    pub fn begin_launch(
        &self,
        kind: LaunchKind,
        runs: &[i64],
        scans: &[i64],
        config_text: &str,
    ) -> Launch {
        let mut state = self.state();
        let number = state.launches.len() as u32 + 1;
        let launch = Launch {
            number,
            kind,
            runs: runs.to_vec(),
            scans: scans.to_vec(),
            started_at: now(),
            ended_at: None,
            outcome: None,
            succeeded: None,
            dir: format!("launches/{number:03}-{}", kind.as_str()),
        };
        let dir = self.launch_dir(&launch);
        self.inner
            .writer
            .replace(dir.join("config.toml"), config_text.as_bytes().to_vec());
        self.inner.writer.replace(
            dir.join("results.tsv"),
            RESULTS_TSV_HEADER.as_bytes().to_vec(),
        );
        self.write_status(&launch);
        state.launches.push(launch.clone());
        state.current = Some(number);
        if kind == LaunchKind::Main {
            state.view = Default::default();
            state.timelines.new_launch(number);
            self.inner.writer.replace(
                dir.join("timeline.tsv"),
                timeline::TIMELINE_TSV_HEADER.as_bytes().to_vec(),
            );
        }
        state.user_error = None;
        drop(state);
        self.emit(Event::Launch(launch.clone()));
        self.emit(Event::UserError { text: None });
        self.log(
            LogKind::Session,
            format!(
                "{} script started (launch {number}, runs {runs:?}, scans {scans:?})",
                kind.as_str()
            ),
        );
        launch
    }

    /// Records how launch `number` ended (e.g. "exit 0", "killed by signal 9").
    pub fn end_launch(
        &self,
        number: u32,
        outcome: &str,
        succeeded: bool,
    ) -> Result<Launch, SessionError> {
        let mut state = self.state();
        let launch = state
            .launches
            .iter_mut()
            .find(|l| l.number == number)
            .ok_or(SessionError::NoLaunch(number))?;
        launch.ended_at = Some(now());
        launch.outcome = Some(outcome.to_owned());
        launch.succeeded = Some(succeeded);
        let launch = launch.clone();
        self.write_status(&launch);
        drop(state);
        let kind = if succeeded {
            LogKind::Session
        } else {
            LogKind::Error
        };
        self.log(
            kind,
            format!(
                "{} script ended: {outcome} (launch {number})",
                launch.kind.as_str()
            ),
        );
        // Log first, so the line lands in the launch's own log.txt.
        let mut state = self.state();
        if state.current == Some(number) {
            state.current = None;
        }
        drop(state);
        self.emit(Event::Launch(launch.clone()));
        if launch.kind == LaunchKind::Main {
            self.flush_timelines_later(number);
        }
        Ok(launch)
    }

    /// Writes the timelines of launch `number` that no listener acknowledged, once
    /// [`UNACKNOWLEDGED_WAIT`] has passed (a listener's acknowledgement of the last
    /// results usually comes after the script ended).
    fn flush_timelines_later(&self, number: u32) {
        let session = self.clone();
        let spawned = std::thread::Builder::new()
            .name("timeline-flush".into())
            .spawn(move || {
                std::thread::sleep(UNACKNOWLEDGED_WAIT);
                let mut state = session.state();
                let left = state.timelines.take_unacknowledged(number);
                let Some(launch) = state.launches.iter().find(|l| l.number == number) else {
                    return;
                };
                let path = session.launch_dir(launch).join("timeline.tsv");
                drop(state);
                for t in left {
                    session.inner.writer.append(path.clone(), t.tsv_line());
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("timelines of launch {number} not flushed: {e}");
        }
    }

    fn write_status(&self, launch: &Launch) {
        let json = serde_json::to_vec_pretty(launch).unwrap_or_default();
        self.inner
            .writer
            .replace(self.launch_dir(launch).join("status.json"), json);
    }

    pub fn launches(&self) -> Vec<Launch> {
        self.state().launches.clone()
    }

    /// The launch whose script is running, if any.
    pub fn current_launch(&self) -> Option<u32> {
        self.state().current
    }

    // ------------------------------------------------------------ results

    /// Records a result of the running launch (launch 0 when none runs) and appends it
    /// to that launch's results.tsv (an append, not a rewrite: the cost of a TR must not
    /// grow with the run).
    pub fn add_result(
        &self,
        run: i64,
        tr: i64,
        value: serde_json::Value,
        onset_delay_ms: f64,
    ) -> ResultRecord {
        let mut state = self.state();
        let launch = state.current.unwrap_or(0);
        let record = ResultRecord {
            seq: state.results.len() as u64 + 1,
            launch,
            run,
            tr,
            value,
            onset_delay_ms,
            made_at: now(),
        };
        state.results.push(record.clone());
        let latency = state
            .timelines
            .result_made(record.seq, run, tr, record.made_at)
            .map(|t| t.latency());
        if let Some(l) = &latency {
            state.view.push_latency(l.clone());
        }
        if let Some(l) = state.launches.iter().find(|l| l.number == launch) {
            let path = self.launch_dir(l).join("results.tsv");
            self.inner.writer.append(path, results_tsv_line(&record));
        }
        drop(state);
        self.emit(Event::Result(record.clone()));
        if let Some(latency) = latency {
            self.emit(Event::Latency(latency));
        }
        record
    }

    /// Results with a sequence number above `seq`, in order (all for 0).
    pub fn results_after(&self, seq: u64) -> Vec<ResultRecord> {
        let state = self.state();
        let start = usize::try_from(seq)
            .unwrap_or(usize::MAX)
            .min(state.results.len());
        state.results[start..].to_vec()
    }

    pub fn set_message(&self, text: &str) {
        let at = now();
        let seq = {
            let mut state = self.state();
            state.messages.push((at, text.to_owned()));
            state.messages.len() as u64
        };
        self.log(
            LogKind::Session,
            format!("message to the participant: {text}"),
        );
        self.emit(Event::Message {
            seq,
            text: text.to_owned(),
            at,
        });
    }

    /// Every message so far, oldest first, as (time, text); message n has sequence
    /// number n + 1.
    pub fn messages(&self) -> Vec<(f64, String)> {
        self.state().messages.clone()
    }

    /// Messages with a sequence number above `seq`, as (seq, time, text).
    pub fn messages_after(&self, seq: u64) -> Vec<(u64, f64, String)> {
        let state = self.state();
        let start = usize::try_from(seq)
            .unwrap_or(usize::MAX)
            .min(state.messages.len());
        state.messages[start..]
            .iter()
            .enumerate()
            .map(|(i, (at, text))| ((start + i) as u64 + 1, *at, text.clone()))
            .collect()
    }

    /// Records when a volume went through (for latency diagnostics): appended to the
    /// running launch's volumes.tsv (index, detected on the console's clock, received
    /// and served on the analyser's) and kept for its TR's timeline, which the Run tab's
    /// latency plot gets when the TR's result arrives.
    pub fn note_volume(&self, stamps: VolumeStamps) {
        let mut state = self.state();
        state.timelines.note_volume(stamps);
        let file = self.running_launch_file(&state, "volumes.tsv");
        drop(state);
        if let Some(path) = file {
            let VolumeStamps {
                index,
                detected,
                received,
                served,
                ..
            } = stamps;
            let line = format!("{index}\t{detected:.6}\t{received:.6}\t{served:.6}\n");
            self.inner.writer.append(path, line);
        }
    }

    /// Records that volume `index` was decoded for the project at `at` (analyser clock).
    pub fn note_converted(&self, index: u32, at: f64) {
        self.state().timelines.note_converted(index, at);
    }

    /// The data streamer's clock against the analyser's, measured by a round trip.
    pub fn set_console_clock(&self, offset: ClockOffset) {
        self.state().timelines.set_console_clock(offset);
    }

    /// Result `seq` was written out by a listener (`listener_received` and `shown` on
    /// its clock, 0 when unknown, `offset` its clock's); completes its TR's timeline:
    /// appended to its launch's timeline.tsv and shown in the latency plot.
    pub fn note_delivered(
        &self,
        seq: u64,
        listener_received: f64,
        shown: f64,
        offset: ClockOffset,
    ) {
        let acked = now();
        let mut state = self.state();
        let Some(timeline) =
            state
                .timelines
                .delivered(seq, listener_received, shown, offset, acked)
        else {
            return;
        };
        let latency = timeline.latency();
        state.view.push_latency(latency.clone());
        let file = state
            .launches
            .iter()
            .find(|l| l.number == timeline.launch)
            .map(|l| self.launch_dir(l).join("timeline.tsv"));
        drop(state);
        if let Some(path) = file {
            self.inner.writer.append(path, timeline.tsv_line());
        }
        self.emit(Event::Latency(latency));
    }

    // ------------------------------------------------------------ run view

    /// Records a TR's head motion for the Run tab's motion plot.
    pub fn show_motion(&self, point: MotionPoint) {
        self.state().view.push_motion(point.clone());
        self.emit(Event::Motion(point));
    }

    /// Replaces the Run tab's brain view; the page is told which TR it shows and fetches
    /// it ([`Session::brain_view`]).
    pub fn show_brain(&self, view: BrainView) {
        let (run, tr) = (view.run, view.tr);
        self.state().view.brain = Some(view);
        self.emit(Event::BrainView { run, tr });
    }

    /// The latest brain view of the running (or last) Run launch.
    pub fn brain_view(&self) -> Option<BrainView> {
        self.state().view.brain.clone()
    }

    /// The motion points and TR latencies of the running (or last) Run launch.
    pub fn run_view(&self) -> (Vec<MotionPoint>, Vec<TrLatency>) {
        let state = self.state();
        (
            state.view.motion.iter().cloned().collect(),
            state.view.latency.iter().cloned().collect(),
        )
    }

    // ------------------------------------------------------------ responses

    /// Records a response from the stimulus PC; a later one for the same TR wins in
    /// [`Session::response`], all are kept in [`Session::responses`].
    pub fn add_response(&self, run: i64, tr: i64, value: serde_json::Value) -> Response {
        let response = Response {
            run,
            tr,
            value,
            received_at: now(),
        };
        self.state().responses.push(response.clone());
        self.emit(Event::Response(response.clone()));
        response
    }

    /// Records a response that carries the sender's unique `id`; a response with an id
    /// seen before (resent after a reconnect) is ignored. Returns whether it was new.
    pub fn record_response(&self, id: &str, run: i64, tr: i64, value: serde_json::Value) -> bool {
        if !self.state().response_ids.insert(id.to_owned()) {
            return false;
        }
        self.add_response(run, tr, value);
        true
    }

    pub fn response(&self, run: i64, tr: i64) -> Option<Response> {
        self.state()
            .responses
            .iter()
            .rev()
            .find(|r| r.run == run && r.tr == tr)
            .cloned()
    }

    pub fn responses(&self) -> Vec<Response> {
        self.state().responses.clone()
    }

    // ------------------------------------------------------------ plots

    /// Adds (or replaces) the point of `tr` in `run`'s plot.
    pub fn plot_point(&self, run: i64, tr: i64, value: f64) {
        let mut state = self.state();
        let points = state.plots.entry(run).or_default();
        match points.binary_search_by_key(&tr, |p| p.0) {
            Ok(i) => points[i].1 = value,
            Err(i) => points.insert(i, (tr, value)),
        }
        // Also on disk with the running launch, at full precision, for afterwards.
        let file = self.running_launch_file(&state, "plot.tsv");
        drop(state);
        if let Some(path) = file {
            self.inner
                .writer
                .append(path, format!("{run}\t{tr}\t{value}\n"));
        }
        self.emit(Event::Plot { run, tr, value });
    }

    pub fn clear_plot(&self, run: i64) {
        self.state().plots.remove(&run);
        self.emit(Event::PlotCleared { run: Some(run) });
    }

    pub fn clear_all_plots(&self) {
        self.state().plots.clear();
        self.emit(Event::PlotCleared { run: None });
    }

    /// Every run's points, sorted by TR.
    pub fn plots(&self) -> BTreeMap<i64, Vec<(i64, f64)>> {
        self.state().plots.clone()
    }

    // ------------------------------------------------------------ logs

    /// Adds a line to the logs (memory, session.log and the running launch's log.txt).
    /// Memory and the page keep at most [`MAX_LOG_LINE_BYTES`] of it, and
    /// [`MAX_LOG_LINES`] lines or [`MAX_LOG_BYTES`] in all; the files keep everything.
    pub fn log(&self, kind: LogKind, text: impl Into<String>) {
        self.log_piece(kind, text.into(), false);
    }

    /// [`Session::log`] for a piece of a script's output line; a piece that continues
    /// an overlong line (`continued`) goes to the files only.
    pub fn log_piece(&self, kind: LogKind, text: String, continued: bool) {
        let mut state = self.state();
        state.log_seq += 1;
        let mut line = LogLine {
            seq: state.log_seq,
            at: now(),
            kind,
            launch: state.current,
            text,
        };
        let launch_log = self.running_launch_file(&state, "log.txt");
        let formatted = log_file_line(&line);
        let shown = (!continued).then(|| {
            cap_line(&mut line.text);
            while state.logs.len() >= MAX_LOG_LINES
                || state.log_bytes + line.text.len() > MAX_LOG_BYTES
            {
                let Some(old) = state.logs.pop_front() else {
                    break;
                };
                state.log_bytes -= old.text.len();
            }
            state.log_bytes += line.text.len();
            state.logs.push_back(line.clone());
            line
        });
        drop(state);
        if let Some(path) = launch_log {
            self.inner.writer.append(path, formatted.clone());
        }
        self.inner
            .writer
            .append(self.inner.dir.join("session.log"), formatted);
        if let Some(line) = shown {
            self.emit(Event::Log(line));
        }
    }

    /// Shows `text` as the experimenter's current error (until the next launch).
    pub fn set_user_error(&self, text: &str) {
        self.state().user_error = Some(text.to_owned());
        self.log(LogKind::Error, text);
        self.emit(Event::UserError {
            text: Some(text.to_owned()),
        });
    }

    pub fn user_error(&self) -> Option<String> {
        self.state().user_error.clone()
    }

    /// The last log lines in memory, oldest first.
    pub fn logs(&self) -> Vec<LogLine> {
        self.state().logs.iter().cloned().collect()
    }

    /// Waits until every file write asked for so far is done (tests, shutdown).
    pub fn flush(&self) {
        self.inner.writer.flush();
    }
}

/// The first line of each launch's results.tsv.
const RESULTS_TSV_HEADER: &str = "seq\trun\ttr\tvalue\tonset_delay_ms\tmade_at\n";

/// One result as a results.tsv line (tabs and newlines in a string value become spaces).
fn results_tsv_line(r: &ResultRecord) -> String {
    let value = match &r.value {
        serde_json::Value::String(s) => s.replace(['\t', '\n'], " "),
        other => other.to_string(),
    };
    format!(
        "{}\t{}\t{}\t{value}\t{}\t{:.6}\n",
        r.seq, r.run, r.tr, r.onset_delay_ms, r.made_at
    )
}

/// Cuts `text` to [`MAX_LOG_LINE_BYTES`] (on a character boundary) with a note.
fn cap_line(text: &mut String) {
    if text.len() <= MAX_LOG_LINE_BYTES {
        return;
    }
    let mut end = MAX_LOG_LINE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = text.len() - end;
    text.truncate(end);
    let _ = write!(
        text,
        " … [{cut} more bytes: the whole line is in session.log]"
    );
}

fn log_file_line(line: &LogLine) -> String {
    let kind = serde_json::to_value(line.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let at = chrono::DateTime::<chrono::Local>::from(
        SystemTime::UNIX_EPOCH + std::time::Duration::from_secs_f64(line.at.max(0.0)),
    )
    .format("%H:%M:%S%.3f");
    // One record per line in the file, whatever the text holds.
    let text = line.text.replace('\n', "\n\t");
    format!("{at}\t{kind}\t{text}\n")
}
