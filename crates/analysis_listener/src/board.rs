//! The results as the local server hands them out: every result of this listener's
//! run so far (and, after a restart, those found in the output folder), the latest
//! result and message, and a signal for long-polls and live streams.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::output::Delivered;

/// Results live streams may fall behind by before they skip ahead.
const LIVE_BACKLOG: usize = 1024;

/// Shared; cheap to clone.
#[derive(Debug, Clone)]
pub struct Board {
    inner: Arc<Mutex<State>>,
    live: broadcast::Sender<Delivered>,
}

#[derive(Debug, Default)]
struct State {
    results: BTreeMap<(i64, i64), Delivered>,
    latest: Option<Delivered>,
    message: Option<String>,
    connected: bool,
    session_id: String,
    skew_s: f64,
    /// Why the result or message in hand cannot be written (a full disk), while it is
    /// being retried.
    write_error: Option<String>,
}

impl Default for Board {
    fn default() -> Self {
        Board {
            inner: Arc::default(),
            live: broadcast::channel(LIVE_BACKLOG).0,
        }
    }
}

impl Board {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A result became visible.
    pub fn publish(&self, result: Delivered) {
        {
            let mut state = self.state();
            state
                .results
                .insert((result.run, result.tr), result.clone());
            state.latest = Some(result.clone());
        }
        let _ = self.live.send(result);
    }

    pub fn set_message(&self, text: &str) {
        self.state().message = Some(text.to_owned());
    }

    pub fn set_link(&self, connected: bool, session_id: &str, skew_s: f64) {
        let mut state = self.state();
        state.connected = connected;
        if !session_id.is_empty() {
            state.session_id = session_id.to_owned();
            state.skew_s = skew_s;
        }
    }

    pub fn result(&self, run: i64, tr: i64) -> Option<Delivered> {
        self.state().results.get(&(run, tr)).cloned()
    }

    pub fn latest(&self) -> Option<Delivered> {
        self.state().latest.clone()
    }

    pub fn message(&self) -> Option<String> {
        self.state().message.clone()
    }

    /// (connected, analyser session, clock skew in seconds).
    pub fn link(&self) -> (bool, String, f64) {
        let state = self.state();
        (state.connected, state.session_id.clone(), state.skew_s)
    }

    /// Sets (or clears, with None) why writing the output folder fails right now.
    pub fn set_write_error(&self, error: Option<String>) {
        self.state().write_error = error;
    }

    /// Why writing the output folder fails right now, if it does.
    pub fn write_error(&self) -> Option<String> {
        self.state().write_error.clone()
    }

    /// Results from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Delivered> {
        self.live.subscribe()
    }
}
