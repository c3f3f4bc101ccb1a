//! The streamers the analyser knows, by station name: whether each is connected, its
//! access rules, the calls pending on its link, its scanner streams and byte counters.
//! A reconnect of the same station by the same user replaces the old link (the old one
//! may be dead without either side having noticed yet) and closes it; calls pending on
//! the old link fail with "streamer STATION disconnected". Another user's claim of a
//! connected station is refused, and at most [`MAX_STATIONS`] names are remembered.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use protocol::v1::{to_streamer, Cancel, Request, ToStreamer};
use tokio::sync::{mpsc, oneshot, watch};
use tonic::Status;

use super::streams::ScannerStream;
use crate::error::{LinkError, Result};
use crate::payload::Assembler;

/// A finished answer to a request.
#[derive(Debug)]
pub(crate) enum Reply {
    File { bytes: Bytes },
    Paths(Vec<String>),
    Pong(f64),
    Done,
    ClockSkew(f64),
}

pub(crate) type Outbound = mpsc::UnboundedSender<Result<ToStreamer, Status>>;

/// A request waiting for its answer.
pub(crate) struct Pending {
    pub reply: oneshot::Sender<Result<Reply>>,
    pub call: String,
    pub file: Option<(String, Assembler)>,
}

/// A live link to a streamer.
pub(crate) struct Link {
    pub generation: u64,
    pub tx: Outbound,
    pub pending: HashMap<u64, Pending>,
    /// Who logged in for it.
    pub user: String,
}

/// Station names remembered at once (connected or seen before); a new name beyond
/// this replaces one that is not connected, or is refused.
pub const MAX_STATIONS: usize = 256;

/// What the UI shows about a station.
#[derive(Debug, Clone, Default)]
pub struct StationInfo {
    pub station: String,
    pub connected: bool,
    pub user: String,
    pub peer: String,
    pub allowed_dirs: Vec<String>,
    pub allowed_types: Vec<String>,
    pub compression: bool,
    pub connected_since: Option<SystemTime>,
    /// File bytes received (before decompression: the file sizes) and on the wire.
    pub raw_bytes: u64,
    pub wire_bytes: u64,
    pub volumes: u64,
    pub connections: u64,
}

/// One station's state.
pub(crate) struct Station {
    pub name: String,
    pub link: Mutex<Option<Link>>,
    pub info: Mutex<StationInfo>,
    pub raw_bytes: AtomicU64,
    pub wire_bytes: AtomicU64,
    pub volumes: AtomicU64,
    next_id: AtomicU64,
}

impl Station {
    fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            link: Mutex::new(None),
            info: Mutex::new(StationInfo {
                station: name.to_owned(),
                ..Default::default()
            }),
            raw_bytes: AtomicU64::new(0),
            wire_bytes: AtomicU64::new(0),
            volumes: AtomicU64::new(0),
            next_id: AtomicU64::new(1),
        }
    }

    pub fn lock_link(&self) -> std::sync::MutexGuard<'_, Option<Link>> {
        self.link.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn lock_info(&self) -> std::sync::MutexGuard<'_, StationInfo> {
        self.info.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends a request (one message, or several for put_file) and waits up to
    /// `timeout` for the answer.
    pub async fn call(
        &self,
        call: String,
        messages: Vec<to_streamer::Kind>,
        timeout: Duration,
    ) -> Result<Reply> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let deadline_ms = timeout.as_millis().min(u64::MAX as u128) as u64;
        let (reply, rx) = oneshot::channel();
        let tx = {
            let mut link = self.lock_link();
            let Some(link) = link.as_mut() else {
                return Err(LinkError::NotConnected {
                    station: self.name.clone(),
                });
            };
            for kind in messages {
                let kind = match kind {
                    to_streamer::Kind::Request(r) => to_streamer::Kind::Request(Request {
                        id,
                        deadline_ms,
                        ..r
                    }),
                    other => other,
                };
                // A closed channel means the link is ending: the reply then fails below.
                let _ = link.tx.send(Ok(ToStreamer { kind: Some(kind) }));
            }
            link.pending.insert(
                id,
                Pending {
                    reply,
                    call: call.clone(),
                    file: None,
                },
            );
            link.tx.clone()
        };
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(LinkError::Disconnected {
                station: self.name.clone(),
                call,
            }),
            Err(_) => {
                if let Some(link) = self.lock_link().as_mut() {
                    link.pending.remove(&id);
                }
                let _ = tx.send(Ok(ToStreamer {
                    kind: Some(to_streamer::Kind::Cancel(Cancel { id })),
                }));
                Err(LinkError::Timeout {
                    station: self.name.clone(),
                    call,
                    timeout,
                })
            }
        }
    }
}

#[derive(Default)]
struct Inner {
    stations: Mutex<HashMap<String, Arc<Station>>>,
    streams: Mutex<HashMap<String, Arc<ScannerStream>>>,
    /// Bumped whenever a station connects or disconnects.
    changed: watch::Sender<u64>,
    generation: AtomicU64,
    /// Where the streamers' new-series records go (protocol QA), when someone listens.
    series_sink: Mutex<Option<mpsc::Sender<SeriesNotice>>>,
}

/// A new series a streamer noticed, with its parameter record (protocol QA, issue 12).
#[derive(Debug, Clone)]
pub struct SeriesNotice {
    pub station: String,
    pub seen: protocol::v1::SeriesSeen,
}

/// The streamers known to this analyser, by station name. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct Streamers {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Streamers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streamers")
            .field("stations", &self.list())
            .finish()
    }
}

impl Streamers {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The station, if a streamer of that name ever connected.
    pub(crate) fn get(&self, name: &str) -> Option<Arc<Station>> {
        self.inner
            .stations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// The station for a new link, made if new: refused when [`MAX_STATIONS`]
    /// stations are connected (an unconnected one is forgotten to make room).
    #[allow(clippy::result_large_err)] // tonic's Status is what the handler returns
    pub(crate) fn claim(&self, name: &str) -> std::result::Result<Arc<Station>, Status> {
        let mut map = self
            .inner
            .stations
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(station) = map.get(name) {
            return Ok(station.clone());
        }
        if map.len() >= MAX_STATIONS {
            let idle = map
                .iter()
                .filter(|(_, s)| s.lock_link().is_none())
                .min_by_key(|(_, s)| s.lock_info().connected_since)
                .map(|(n, _)| n.clone());
            match idle {
                Some(old) => {
                    map.remove(&old);
                }
                None => {
                    return Err(Status::resource_exhausted(format!(
                        "{MAX_STATIONS} stations are connected; no room for station {name}"
                    )))
                }
            }
        }
        Ok(map
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(Station::new(name)))
            .clone())
    }

    pub(crate) fn next_generation(&self) -> u64 {
        self.inner.generation.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Sends every new-series record the streamers report to `sink` from now on.
    pub fn set_series_sink(&self, sink: mpsc::Sender<SeriesNotice>) {
        *self
            .inner
            .series_sink
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(sink);
    }

    /// Hands on a streamer's new-series record; dropped with a warning when nobody keeps
    /// up (QA must never slow the link).
    pub(crate) fn series_seen(&self, station: &str, seen: protocol::v1::SeriesSeen) {
        let sink = self
            .inner
            .series_sink
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let Some(sink) = sink.as_ref() else { return };
        let series = seen.series.clone();
        let notice = SeriesNotice {
            station: station.to_owned(),
            seen,
        };
        if sink.try_send(notice).is_err() {
            tracing::warn!(%station, %series, "protocol QA is behind: this series is not checked");
        }
    }

    pub(crate) fn notify_changed(&self) {
        self.inner.changed.send_modify(|n| *n += 1);
    }

    /// Every station seen since start, connected or not, sorted by name.
    pub fn list(&self) -> Vec<StationInfo> {
        let stations: Vec<Arc<Station>> = self
            .inner
            .stations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        let mut out: Vec<StationInfo> = stations.iter().map(|s| station_info(s)).collect();
        out.sort_by(|a, b| a.station.cmp(&b.station));
        out
    }

    /// The state of one station, if it was ever seen.
    pub fn info(&self, station: &str) -> Option<StationInfo> {
        let map = self
            .inner
            .stations
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.get(station).map(|s| station_info(s))
    }

    /// True when a streamer of `station` is connected now.
    pub fn is_connected(&self, station: &str) -> bool {
        self.info(station).is_some_and(|i| i.connected)
    }

    /// Waits up to `timeout` until a streamer of `station` is connected.
    pub async fn wait_for(&self, station: &str, timeout: Duration) -> Result<()> {
        let mut rx = self.inner.changed.subscribe();
        let wait = async {
            loop {
                if self.is_connected(station) {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| LinkError::NotConnected {
                station: station.to_owned(),
            })?;
        if self.is_connected(station) {
            Ok(())
        } else {
            Err(LinkError::NotConnected {
                station: station.to_owned(),
            })
        }
    }

    /// Waits up to `timeout` until any streamer is connected; returns its station.
    pub async fn wait_for_any(&self, timeout: Duration) -> Result<String> {
        let mut rx = self.inner.changed.subscribe();
        let wait = async {
            loop {
                if let Some(s) = self.list().into_iter().find(|s| s.connected) {
                    return Some(s.station);
                }
                if rx.changed().await.is_err() {
                    return None;
                }
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(Some(station)) => Ok(station),
            _ => Err(LinkError::NotConnected {
                station: "(any)".to_owned(),
            }),
        }
    }

    pub(crate) fn add_stream(&self, stream: Arc<ScannerStream>) {
        self.inner
            .streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(stream.id.clone(), stream);
    }

    pub(crate) fn stream(&self, id: &str) -> Option<Arc<ScannerStream>> {
        self.inner
            .streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    /// The streams opened on `station`.
    pub(crate) fn streams_of(&self, station: &str) -> Vec<Arc<ScannerStream>> {
        self.inner
            .streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|s| s.station == station)
            .cloned()
            .collect()
    }

    pub(crate) fn remove_stream(&self, id: &str) -> Option<Arc<ScannerStream>> {
        self.inner
            .streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
    }
}

fn station_info(s: &Station) -> StationInfo {
    let mut info = s.lock_info().clone();
    info.connected = s.lock_link().is_some();
    info.raw_bytes = s.raw_bytes.load(Ordering::Relaxed);
    info.wire_bytes = s.wire_bytes.load(Ordering::Relaxed);
    info.volumes = s.volumes.load(Ordering::Relaxed);
    info
}
