//! A scanner stream as the analyser holds it: volumes that arrived, waiting for
//! `get_image_data`. Fed by pushes from a streamer (remote) or by a local folder task;
//! duplicates (re-sent after a reconnect) are dropped by index, and each index is
//! returned at most once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::error::{LinkError, Result};

/// One volume of a scanner stream: the (de-identified) DICOM file as it arrived.
#[derive(Debug, Clone)]
pub struct ImageData {
    /// The index in the file pattern (e.g. the TR number).
    pub index: u32,
    /// The DICOM file's bytes.
    pub bytes: Bytes,
    /// The file's path on the streamer (or the local disk).
    pub path: String,
    /// When the file was seen complete, on the streamer's clock.
    pub completed_at: SystemTime,
    /// When the streamer queued it on the link, on its clock (`None` for a local folder
    /// or an older streamer): the TR's timeline (issue 14).
    pub sent_at: Option<SystemTime>,
    /// When the whole volume was held by the analyser, on the analyser's clock.
    pub received_at: SystemTime,
}

/// A volume whose file was bad where it was read: the streamer's message, which names
/// the file and the reason.
type BadFile = String;

#[derive(Debug, Default)]
struct State {
    volumes: BTreeMap<u32, Result<ImageData, BadFile>>,
    taken: BTreeSet<u32>,
    failed: Option<String>,
    closed: bool,
}

/// Volumes of one stream, by index.
#[derive(Debug)]
pub(crate) struct ScannerStream {
    pub id: String,
    /// The station it was opened on ("" for the local disk).
    pub station: String,
    /// Folder and pattern, for logs.
    pub source: String,
    /// How it was opened on the streamer (remote streams), to open it again on a
    /// streamer process that does not know it.
    init: Option<protocol::v1::InitScannerStream>,
    state: Mutex<State>,
    arrived: Notify,
}

impl ScannerStream {
    pub fn new(id: String, station: String, dir: String, pattern: String) -> Self {
        Self {
            id,
            station,
            source: format!("{dir}/{pattern}"),
            init: None,
            state: Mutex::new(State::default()),
            arrived: Notify::new(),
        }
    }

    /// Remembers the request that opened it on the streamer.
    pub fn with_init(self, init: protocol::v1::InitScannerStream) -> Self {
        Self {
            init: Some(init),
            ..self
        }
    }

    /// The request to open it again on a streamer that lost it (a restarted process),
    /// from the first index that neither arrived nor was taken; `None` for a local,
    /// closed or failed stream. Indices that arrive twice are dropped as duplicates.
    pub fn resume_request(&self) -> Option<protocol::v1::InitScannerStream> {
        let init = self.init.as_ref()?;
        let st = self.lock();
        if st.closed || st.failed.is_some() {
            return None;
        }
        let mut next = init.start_index;
        while st.taken.contains(&next) || st.volumes.contains_key(&next) {
            next += 1;
        }
        Some(protocol::v1::InitScannerStream {
            start_index: next,
            ..init.clone()
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Single inserts/removes: a panic elsewhere cannot leave it half-updated.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores a volume; false when it is a duplicate (held or already returned).
    pub fn insert(&self, volume: ImageData) -> bool {
        self.insert_at(volume.index, Ok(volume))
    }

    /// Stores the failure of volume `index` (a bad file; the stream goes on): its
    /// `get_image_data` gets the message. False when it is a duplicate.
    pub fn insert_bad(&self, index: u32, message: String) -> bool {
        self.insert_at(index, Err(message))
    }

    fn insert_at(&self, index: u32, volume: Result<ImageData, BadFile>) -> bool {
        let mut st = self.lock();
        if st.taken.contains(&index) || st.volumes.contains_key(&index) {
            return false;
        }
        if let Err(message) = &volume {
            tracing::error!(stream = %self.id, source = %self.source, index, "bad scanner file: {message}");
        }
        st.volumes.insert(index, volume);
        drop(st);
        self.arrived.notify_waiters();
        true
    }

    /// Marks the stream failed for good (waiters get the message).
    pub fn fail(&self, message: String) {
        tracing::error!(stream = %self.id, source = %self.source, "scanner stream failed: {message}");
        self.lock().failed = Some(message);
        self.arrived.notify_waiters();
    }

    /// Marks the stream closed (waiters fail at once).
    pub fn close(&self) {
        self.lock().closed = true;
        self.arrived.notify_waiters();
    }

    /// Waits up to `timeout` for volume `index` and hands it over (once).
    pub async fn take(&self, index: u32, timeout: Duration) -> Result<ImageData> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.arrived.notified();
            tokio::pin!(notified);
            // Register before looking, so an insert between the look and the wait is seen.
            notified.as_mut().enable();
            {
                let mut st = self.lock();
                if let Some(v) = st.volumes.remove(&index) {
                    st.taken.insert(index);
                    return v.map_err(|message| LinkError::BadFile {
                        stream_id: self.id.clone(),
                        index,
                        message,
                    });
                }
                if st.taken.contains(&index) {
                    return Err(LinkError::AlreadyTaken {
                        stream_id: self.id.clone(),
                        index,
                    });
                }
                if let Some(message) = &st.failed {
                    return Err(LinkError::StreamFailed {
                        stream_id: self.id.clone(),
                        message: message.clone(),
                    });
                }
                if st.closed {
                    return Err(LinkError::UnknownStream {
                        stream_id: self.id.clone(),
                    });
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                let station = if self.station.is_empty() {
                    "local disk".to_owned()
                } else {
                    self.station.clone()
                };
                return Err(LinkError::Timeout {
                    station,
                    call: format!("get_image_data({}, {index})", self.id),
                    timeout,
                });
            }
        }
    }
}
