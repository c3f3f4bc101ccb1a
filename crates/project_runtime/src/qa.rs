//! The protocol QA verdicts of this analyser's stations (issue 12): what the live QA
//! page, the Run tab's banner and the project API's `get_qa_report` read. The analyser
//! (`data_analyser::qa::live`) publishes one [`SeriesVerdict`] per new series a
//! streamer reports; the comparison itself is `protocol_qa`.

use std::sync::{Arc, Mutex};

use protocol_qa::{Check, Verdict};
use serde::Serialize;
use tokio::sync::broadcast;

/// Verdicts kept in memory (the session log keeps every one).
const MAX_VERDICTS: usize = 1000;

/// The verdict on one new series of one station.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesVerdict {
    pub station: String,
    /// The series id (`protocol_qa::names::series_id`, under the allowed folder's name).
    pub series: String,
    pub session: String,
    /// The file its parameters were read from.
    pub first_file: String,
    /// Seconds since the epoch (streamer clock) when the series was noticed.
    pub seen_at: f64,
    /// How many series of this station's session had this template key, this one
    /// included (a repeated protocol: 2, 3, ...).
    pub repeat: u32,
    /// Unreadable files skipped before `first_file`, each with the reason.
    pub skipped: Vec<String>,
    /// Why there is no check (no readable file in the series).
    pub error: Option<String>,
    /// The worst verdict of the check (amber without a template or a check).
    pub verdict: Verdict,
    pub check: Option<Check>,
}

/// Every station's verdicts, newest last, and a channel of new ones. Cheap to clone.
#[derive(Debug, Clone)]
pub struct QaBoard {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    verdicts: Mutex<Vec<SeriesVerdict>>,
    tx: broadcast::Sender<SeriesVerdict>,
}

impl Default for QaBoard {
    fn default() -> Self {
        QaBoard {
            inner: Arc::new(Inner {
                verdicts: Mutex::new(Vec::new()),
                tx: broadcast::channel(64).0,
            }),
        }
    }
}

impl QaBoard {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<SeriesVerdict>> {
        self.inner
            .verdicts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a verdict (the oldest go beyond [`MAX_VERDICTS`]) and tells the subscribers.
    pub fn publish(&self, verdict: SeriesVerdict) {
        {
            let mut all = self.lock();
            if all.len() >= MAX_VERDICTS {
                all.remove(0);
            }
            all.push(verdict.clone());
        }
        let _ = self.inner.tx.send(verdict);
    }

    /// The verdicts of one station, oldest first.
    pub fn station(&self, station: &str) -> Vec<SeriesVerdict> {
        self.lock()
            .iter()
            .filter(|v| v.station == station)
            .cloned()
            .collect()
    }

    /// The latest verdict on `series` (a series id, or its end such as `001_000013`).
    pub fn find(&self, series: &str) -> Option<SeriesVerdict> {
        self.lock()
            .iter()
            .rev()
            .find(|v| v.series == series || v.series.ends_with(&format!("/{series}")))
            .cloned()
    }

    /// The newest verdict of `station`.
    pub fn latest(&self, station: &str) -> Option<SeriesVerdict> {
        self.lock()
            .iter()
            .rev()
            .find(|v| v.station == station)
            .cloned()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<SeriesVerdict> {
        self.inner.tx.subscribe()
    }
}

/// A verdict as the project API's `QaReport` message.
pub fn report_message(v: &SeriesVerdict) -> protocol::project::v1::QaReport {
    use protocol::project::v1::{QaParameter, QaReport};
    let text = |value: &Option<protocol_qa::Value>| {
        value
            .as_ref()
            .map_or("unknown".to_string(), |v| v.to_string())
    };
    let parameters = v.check.as_ref().map_or_else(Vec::new, |c| {
        c.rows
            .iter()
            .map(|r| QaParameter {
                parameter: r.parameter.key().to_string(),
                series_value: text(&r.series),
                template_value: text(&r.template),
                tolerance: r.tolerance.clone(),
                verdict: r.verdict.as_str().to_string(),
            })
            .collect()
    });
    QaReport {
        station: v.station.clone(),
        series: v.series.clone(),
        verdict: v.verdict.as_str().to_string(),
        repeat: v.repeat,
        first_file: v.first_file.clone(),
        template: v
            .check
            .as_ref()
            .and_then(|c| c.template.as_ref())
            .map_or(String::new(), |k| k.to_string()),
        error: v.error.clone().unwrap_or_default(),
        parameters,
        skipped: v.skipped.clone(),
    }
}
