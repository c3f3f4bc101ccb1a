//! Live protocol QA: every new series a streamer reports (its console noticed it from
//! the file names and sent the first file's parameters) is checked against its
//! template in the store, published on the [`QaBoard`] (web page, Run-tab banner,
//! project API) and written to the session log.
//!
//! Runs on its own task and blocking thread, apart from the volume path: a series
//! record arrives on the link beside the volumes, and a slow check only delays the next
//! check (beyond a queue of 256 records new ones are dropped with a warning).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use data_link::analyser::{SeriesNotice, Streamers};
use project_runtime::qa::{QaBoard, SeriesVerdict};
use protocol_qa::{AcquisitionRecord, Check, TemplateKey, Verdict};
use session::{LogKind, Session};

use super::store::Store;

/// Records waiting to be checked.
const QUEUE: usize = 256;

/// Starts checking the series `streamers` report; verdicts go to `board` and `session`.
/// Without a usable store (e.g. a read-only sessions folder) every series is amber.
pub fn start(streamers: &Streamers, sessions_dir: &Path, board: QaBoard, session: Session) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<SeriesNotice>(QUEUE);
    streamers.set_series_sink(tx);
    let store = match Store::open(sessions_dir) {
        Ok(store) => Some(Arc::new(Mutex::new(store))),
        Err(e) => {
            session.log(
                LogKind::Error,
                format!("protocol QA without templates: {e:#}"),
            );
            None
        }
    };
    tokio::spawn(async move {
        let mut repeats: HashMap<(String, String, TemplateKey), u32> = HashMap::new();
        while let Some(notice) = rx.recv().await {
            let store = store.clone();
            let checked =
                tokio::task::spawn_blocking(move || judge(notice, store.as_deref())).await;
            let Ok((mut verdict, key)) = checked else {
                continue;
            };
            if let Some(key) = key {
                let n = repeats
                    .entry((verdict.station.clone(), verdict.session.clone(), key))
                    .or_default();
                *n += 1;
                verdict.repeat = *n;
            }
            session.log(LogKind::Session, log_line(&verdict));
            board.publish(verdict);
        }
    });
}

/// Checks one record against its template; also returns the record's template key.
fn judge(
    notice: SeriesNotice,
    store: Option<&Mutex<Store>>,
) -> (SeriesVerdict, Option<TemplateKey>) {
    let seen = notice.seen;
    let mut verdict = SeriesVerdict {
        station: notice.station,
        series: seen.series,
        session: seen.session,
        first_file: seen.first_file,
        seen_at: seen.seen_at,
        repeat: 1,
        skipped: seen.skipped,
        error: None,
        verdict: Verdict::Amber,
        check: None,
    };
    if seen.record_json.is_empty() {
        verdict.error = Some("no file of the series could be read".into());
        return (verdict, None);
    }
    let record: AcquisitionRecord = match serde_json::from_str(&seen.record_json) {
        Ok(r) => r,
        Err(e) => {
            verdict.error = Some(format!(
                "the streamer's parameter record is not readable: {e}"
            ));
            return (verdict, None);
        }
    };
    let key = TemplateKey::of(&record);
    let template = store.and_then(|s| {
        let store = s.lock().unwrap_or_else(|e| e.into_inner());
        store.get(&key).unwrap_or_else(|e| {
            tracing::warn!("protocol QA: reading template {key}: {e:#}");
            None
        })
    });
    let check = match template {
        Some(t) => t.check(&record),
        None => Check::without_template(&record),
    };
    verdict.verdict = check.verdict();
    verdict.check = Some(check);
    (verdict, Some(key))
}

/// One line for the session log: station, series, verdict and what deviates.
fn log_line(v: &SeriesVerdict) -> String {
    let mut line = format!(
        "protocol QA {} {}: {}",
        v.station,
        v.series,
        v.verdict.as_str()
    );
    match &v.check {
        Some(check) if check.template.is_none() => line.push_str(" (no template)"),
        Some(check) => {
            let red = check.with_verdict(Verdict::Red);
            if !red.is_empty() {
                let names: Vec<&str> = red.iter().map(|p| p.key()).collect();
                line.push_str(&format!(" ({} deviate)", names.join(", ")));
            }
        }
        None => {}
    }
    if let Some(e) = &v.error {
        line.push_str(&format!(": {e}"));
    }
    if v.repeat > 1 {
        line.push_str(&format!(" [repeat {}]", v.repeat));
    }
    line
}
