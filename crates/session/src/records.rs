//! What a session records, as plain values: these travel to the web page (as JSON) and
//! to the listener, and are written to the session's files.

use serde::Serialize;

/// One result of the project (RT-Cloud's setResult / setResultDict).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultRecord {
    /// 1, 2, ... in the order results were made, over the whole session; the listener
    /// acknowledges by this number.
    pub seq: u64,
    /// The script launch that made it.
    pub launch: u32,
    pub run: i64,
    pub tr: i64,
    /// A number for set_result, any JSON object for set_result_dict.
    pub value: serde_json::Value,
    /// How long after `made_at` the stimulus PC should show it.
    pub onset_delay_ms: f64,
    /// When the analyser received it, seconds since the epoch (analyser clock).
    pub made_at: f64,
}

/// A participant's response, sent back by the listener.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Response {
    pub run: i64,
    pub tr: i64,
    /// As the stimulus PC sent it (JSON).
    pub value: serde_json::Value,
    pub received_at: f64,
}

/// Which log a line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogKind {
    /// For the experimenter (web userLog).
    User,
    /// The session's record (web sessionLog, runs starting and ending).
    Session,
    /// The script's standard output.
    Stdout,
    /// The script's standard error.
    Stderr,
    /// Something went wrong that the experimenter must see (setUserError, failed runs).
    Error,
}

/// One line of the session's logs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogLine {
    pub seq: u64,
    pub at: f64,
    pub kind: LogKind,
    /// The launch it belongs to, if a script was running.
    pub launch: Option<u32>,
    pub text: String,
}

/// Which script a launch ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LaunchKind {
    Main,
    Initialize,
    Finalize,
}

impl LaunchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LaunchKind::Main => "main",
            LaunchKind::Initialize => "initialize",
            LaunchKind::Finalize => "finalize",
        }
    }
}

/// One start of a project script (Run, Initialize or Finalize).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Launch {
    pub number: u32,
    pub kind: LaunchKind,
    pub runs: Vec<i64>,
    pub scans: Vec<i64>,
    pub started_at: f64,
    /// None while running.
    pub ended_at: Option<f64>,
    /// How it ended, e.g. "exit 0", "exit 1", "killed by signal 9"; None while running.
    pub outcome: Option<String>,
    pub succeeded: Option<bool>,
    /// Folder with its config.toml, log.txt, results.tsv and status.json.
    pub dir: String,
}

/// Something that changed in the session, as the web page and listener see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Result(ResultRecord),
    /// Message `seq` (1, 2, ... in the session) for the stimulus PC.
    Message {
        seq: u64,
        text: String,
        at: f64,
    },
    Plot {
        run: i64,
        tr: i64,
        value: f64,
    },
    /// One run's plot cleared, or all when `run` is None.
    PlotCleared {
        run: Option<i64>,
    },
    Log(LogLine),
    Launch(Launch),
    UserError {
        text: Option<String>,
    },
    Response(Response),
    /// A TR's head motion (the Run tab's motion plot).
    Motion(crate::MotionPoint),
    /// A TR's latency, stage by stage (the Run tab's latency plot).
    Latency(crate::TrLatency),
    /// A new brain view of this TR is ready (`GET /api/brain-view`).
    BrainView {
        run: i64,
        tr: i64,
    },
}
