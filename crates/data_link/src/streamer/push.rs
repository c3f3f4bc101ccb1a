//! Scanner streams on the streamer: one task per stream waits for each complete file
//! (`filestore::ScannerFolder`), de-identifies it (one `Deidentifier` per stream so UIDs
//! stay consistent), and pushes it on the current link. A volume stays in `unacked`
//! until the analyser ACKs it and is sent again after a reconnect, so with the
//! analyser's drop-by-index every volume arrives exactly once.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use filestore::ScannerFolder;
use protocol::v1::{from_streamer, link_error::Code, FromStreamer, LinkError, OpenStream, Push};
use tokio::sync::mpsc;

use super::adaptive::LinkEstimate;
use super::Shared;
use crate::payload::{chunks, encode, Encoded};

/// At most this many scanner streams are open at once on one streamer.
const MAX_STREAMS: usize = 64;

/// The current link's outbound queue and whether payloads are compressed on it.
#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    pub tx: mpsc::UnboundedSender<FromStreamer>,
    /// The zstd level, None when payloads go uncompressed on this link.
    pub level: Option<i32>,
    /// Choose per volume from measurements (see `adaptive`).
    pub adaptive: bool,
    pub generation: u64,
}

#[derive(Debug)]
struct Volume {
    raw: Bytes,
    enc: Encoded,
    path: String,
    completed_at: f64,
    /// When and on which link it was last queued (for the link estimate).
    sent: Option<(Instant, u64)>,
    /// Set when the file was bad (the message names it and why): this is sent instead
    /// of data, ACKed and re-sent like a volume.
    bad: Option<String>,
}

#[derive(Debug)]
struct Stream {
    dir: String,
    pattern: String,
    next_index: u32,
    unacked: BTreeMap<u32, Volume>,
    task: tokio::task::AbortHandle,
}

/// Every open scanner stream and the link they push on.
#[derive(Debug, Default)]
pub(crate) struct PushState {
    streams: HashMap<String, Stream>,
    outbox: Option<Outbox>,
    estimate: LinkEstimate,
}

impl PushState {
    /// The streams for Hello.
    pub fn open_streams(&self) -> Vec<OpenStream> {
        self.streams
            .iter()
            .map(|(id, s)| OpenStream {
                stream_id: id.clone(),
                dir: s.dir.clone(),
                pattern: s.pattern.clone(),
                next_index: s.next_index,
            })
            .collect()
    }

    /// Pushes go to `outbox` from now on; every unACKed volume is sent again first, in
    /// index order per stream.
    pub fn attach(&mut self, outbox: Outbox) {
        for (id, s) in self.streams.iter_mut() {
            for (index, v) in s.unacked.iter_mut() {
                // Uncompressed is always understood; zstd only where agreed.
                if v.bad.is_none()
                    && outbox.level.is_none()
                    && v.enc.compression == protocol::v1::Compression::Zstd
                {
                    v.enc = encode(v.raw.clone(), None);
                }
                send_volume(&outbox, id, *index, v);
            }
        }
        self.estimate.new_link();
        self.outbox = Some(outbox);
    }

    /// The link of `generation` ended.
    pub fn detach(&mut self, generation: u64) {
        if self
            .outbox
            .as_ref()
            .is_some_and(|o| o.generation == generation)
        {
            self.outbox = None;
        }
    }

    pub fn ack(&mut self, stream_id: &str, index: u32) {
        let Some(v) = self
            .streams
            .get_mut(stream_id)
            .and_then(|s| s.unacked.remove(&index))
        else {
            return;
        };
        let current = self.outbox.as_ref().map(|o| o.generation);
        if let Some((at, generation)) = v.sent.filter(|_| v.bad.is_none()) {
            if Some(generation) == current {
                self.estimate
                    .record_ack(v.enc.wire.len() as u64, at.elapsed());
            }
        }
    }

    pub fn close(&mut self, stream_id: &str) -> bool {
        match self.streams.remove(stream_id) {
            Some(s) => {
                s.task.abort();
                true
            }
            None => false,
        }
    }

    pub fn close_all(&mut self) {
        for (_, s) in self.streams.drain() {
            s.task.abort();
        }
        self.outbox = None;
    }

    /// The zstd level for a volume of `raw` bytes on the current link, if any.
    fn level_for(&mut self, raw: u64) -> Option<i32> {
        let outbox = self.outbox.as_ref()?;
        let level = outbox.level?;
        (!outbox.adaptive || self.estimate.worth_compressing(raw)).then_some(level)
    }
}

fn send_volume(outbox: &Outbox, stream_id: &str, index: u32, v: &mut Volume) {
    v.sent = Some((Instant::now(), outbox.generation));
    // The TR's timeline (issue 14): one clock read per sending.
    let sent_at = crate::epoch_secs(SystemTime::now());
    if let Some(message) = &v.bad {
        let _ = outbox.tx.send(FromStreamer {
            kind: Some(from_streamer::Kind::Push(Push {
                stream_id: stream_id.to_owned(),
                index,
                path: v.path.clone(),
                completed_at: v.completed_at,
                sent_at,
                data: None,
                error: Some(LinkError {
                    code: Code::BadFile as i32,
                    message: message.clone(),
                }),
            })),
        });
        return;
    }
    for (i, chunk) in chunks(&v.enc).into_iter().enumerate() {
        let push = Push {
            stream_id: stream_id.to_owned(),
            index,
            path: if i == 0 {
                v.path.clone()
            } else {
                String::new()
            },
            completed_at: v.completed_at,
            sent_at,
            data: Some(chunk),
            error: None,
        };
        // A closed queue means the link is ending; the volume stays unACKed.
        let _ = outbox.tx.send(FromStreamer {
            kind: Some(from_streamer::Kind::Push(push)),
        });
    }
}

/// Opens a scanner stream and starts its task.
pub(crate) fn open(
    shared: &Arc<Shared>,
    stream_id: String,
    folder: ScannerFolder,
    dir: String,
    pattern: String,
    anonymize: bool,
) -> Result<(), String> {
    let next_index = folder.next_index();
    // Hold the lock while spawning, so the task cannot look for its stream before it
    // is registered.
    let mut st = shared.lock_push();
    // A new stream on the same folder and pattern replaces the old one (a project run
    // again, or an analyser that restarted): one watcher per folder, no double pushes.
    let same: Vec<String> = st
        .streams
        .iter()
        .filter(|(_, s)| s.dir == dir && s.pattern == pattern)
        .map(|(id, _)| id.clone())
        .collect();
    for id in same {
        tracing::info!(stream = %id, "scanner stream replaced by {stream_id}");
        st.close(&id);
    }
    if st.streams.len() >= MAX_STREAMS {
        return Err(format!(
            "{MAX_STREAMS} scanner streams are open on this streamer already: close some (close_scanner_stream) or restart it"
        ));
    }
    let task = tokio::spawn(run_stream(
        shared.clone(),
        stream_id.clone(),
        folder,
        anonymize,
    ));
    if let Some(old) = st.streams.insert(
        stream_id,
        Stream {
            dir,
            pattern,
            next_index,
            unacked: BTreeMap::new(),
            task: task.abort_handle(),
        },
    ) {
        old.task.abort();
    }
    Ok(())
}

async fn run_stream(shared: Arc<Shared>, id: String, mut folder: ScannerFolder, anonymize: bool) {
    let mut deid = anonymize.then(|| shared.config.deidentifier());
    loop {
        let (index, mut volume) = match folder.next().await {
            Ok(file) => {
                let path = shared.config.rules.shown(&file.path);
                let completed_at = crate::epoch_secs(file.completed_at);
                // The one decision on what leaves the console (DICOM by name or
                // content); what cannot be de-identified fails its volume, unsent.
                let volume =
                    match imaging::deid::outgoing(Path::new(&path), file.bytes, deid.as_mut()) {
                        Ok(raw) => ready(&shared, Bytes::from(raw), path, completed_at),
                        Err(e) => bad(path, completed_at, e.to_string()),
                    };
                (file.index, volume)
            }
            Err(e) => {
                // Messages leave the console with paths shown, like the paths themselves.
                let e = shared.config.rules.shown_error(e);
                match &e {
                    filestore::FilestoreError::BadFile { index, path, .. } => {
                        let now = crate::epoch_secs(SystemTime::now());
                        (*index, bad(path.display().to_string(), now, e.to_string()))
                    }
                    _ => return fail(&shared, &id, Code::Io, e.to_string()),
                }
            }
        };
        if let Some(message) = &volume.bad {
            tracing::error!(stream = %id, index, "bad scanner file, volume not sent: {message}");
        }
        let mut st = shared.lock_push();
        let outbox = st.outbox.clone();
        let Some(stream) = st.streams.get_mut(&id) else {
            return;
        };
        stream.next_index = index.saturating_add(1);
        if let Some(outbox) = outbox {
            send_volume(&outbox, &id, index, &mut volume);
        }
        stream.unacked.insert(index, volume);
        tracing::debug!(stream = %id, index, at = ?SystemTime::now(), "volume pushed");
    }
}

/// A volume to send: compressed if that pays on the current link.
fn ready(shared: &Shared, raw: Bytes, path: String, completed_at: f64) -> Volume {
    let level = shared.lock_push().level_for(raw.len() as u64);
    // Compress outside the lock: it is the slow part.
    let started = Instant::now();
    let enc = encode(raw.clone(), level);
    if level.is_some() {
        shared.lock_push().estimate.record_compress(
            raw.len() as u64,
            enc.wire.len() as u64,
            started.elapsed(),
        );
    }
    Volume {
        raw,
        enc,
        path,
        completed_at,
        sent: None,
        bad: None,
    }
}

/// A volume whose file was bad: only the message goes.
fn bad(path: String, completed_at: f64, message: String) -> Volume {
    Volume {
        raw: Bytes::new(),
        enc: encode(Bytes::new(), None),
        path,
        completed_at,
        sent: None,
        bad: Some(message),
    }
}

fn fail(shared: &Shared, id: &str, code: Code, message: String) {
    tracing::error!(stream = %id, "scanner stream failed: {message}");
    let st = shared.lock_push();
    if let Some(outbox) = &st.outbox {
        let _ = outbox.tx.send(FromStreamer {
            kind: Some(from_streamer::Kind::Push(Push {
                stream_id: id.to_owned(),
                error: Some(LinkError {
                    code: code as i32,
                    message,
                }),
                ..Default::default()
            })),
        });
    }
}
