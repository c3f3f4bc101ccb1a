//! The registry of analysis_listeners, by name: connected or not, how far acknowledged.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

/// One listener as the web page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerInfo {
    pub name: String,
    pub user: String,
    pub connected: bool,
    /// The last result it has written out (acknowledged).
    pub acked_seq: u64,
}

/// Shared registry; cheap to clone.
#[derive(Debug, Clone)]
pub struct Listeners {
    map: Arc<Mutex<BTreeMap<String, (ListenerInfo, u64)>>>,
    changed: watch::Sender<u64>,
}

impl Default for Listeners {
    fn default() -> Self {
        Listeners {
            map: Arc::default(),
            changed: watch::channel(0).0,
        }
    }
}

impl Listeners {
    pub fn new() -> Self {
        Self::default()
    }

    fn update(&self, f: impl FnOnce(&mut BTreeMap<String, (ListenerInfo, u64)>)) {
        f(&mut self.map.lock().unwrap_or_else(|e| e.into_inner()));
        self.changed.send_modify(|n| *n += 1);
    }

    /// A listener connected; returns its connection number (a newer connection of the
    /// same name replaces the older one).
    pub(crate) fn connected(&self, name: &str, user: &str, acked_seq: u64) -> u64 {
        let mut number = 0;
        self.update(|map| {
            let entry = map.entry(name.to_owned()).or_insert_with(|| {
                (
                    ListenerInfo {
                        name: name.to_owned(),
                        user: user.to_owned(),
                        connected: false,
                        acked_seq: 0,
                    },
                    0,
                )
            });
            entry.1 += 1;
            number = entry.1;
            entry.0.connected = true;
            entry.0.user = user.to_owned();
            entry.0.acked_seq = acked_seq;
        });
        number
    }

    pub(crate) fn acked(&self, name: &str, seq: u64) {
        self.update(|map| {
            if let Some((info, _)) = map.get_mut(name) {
                info.acked_seq = info.acked_seq.max(seq);
            }
        });
    }

    /// Connection `number` of `name` ended (ignored if a newer one has replaced it).
    pub(crate) fn disconnected(&self, name: &str, number: u64) {
        self.update(|map| {
            if let Some((info, current)) = map.get_mut(name) {
                if *current == number {
                    info.connected = false;
                }
            }
        });
    }

    /// Every listener seen in this session, by name.
    pub fn list(&self) -> Vec<ListenerInfo> {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|(info, _)| info.clone())
            .collect()
    }

    /// True when at least one listener is connected.
    pub fn any_connected(&self) -> bool {
        self.list().iter().any(|l| l.connected)
    }

    /// Waits until some listener is connected, at most `timeout`; true if one is.
    pub async fn wait_for_any(&self, timeout: Duration) -> bool {
        let mut changes = self.changed.subscribe();
        let wait = async {
            loop {
                if self.any_connected() {
                    return;
                }
                if changes.changed().await.is_err() {
                    return;
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok() && self.any_connected()
    }

    /// A receiver that changes whenever a listener connects, acknowledges or leaves.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}
