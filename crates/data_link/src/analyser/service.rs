//! `rtcloud.v1.DataLink/Open` on the analyser: takes a streamer's Hello, registers
//! the link under its station, then routes responses to pending calls and pushed
//! volumes to their scanner streams (ACKing each one held).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use protocol::v1::data_link_server::{DataLink, DataLinkServer};
use protocol::v1::link_error::Code;
use protocol::v1::{
    from_streamer, request, response, to_streamer, Ack, Compression, FromStreamer, OpenStream,
    ProtocolVersion, Push, ToStreamer, Welcome,
};
use security::{Identity, RequireLogin};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status, Streaming};

use super::registry::{Link, Reply, Station, Streamers};
use super::streams::ImageData;
use crate::error::LinkError;
use crate::payload::{Assembler, MAX_MESSAGE_BYTES};
use crate::{PROTOCOL_MAJOR, PROTOCOL_MINOR};

/// How long a streamer has to send Hello after opening the stream.
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);

/// The DataLink service: add it to the analyser's routes with [`DataLinkService::server`].
#[derive(Debug, Clone)]
pub struct DataLinkService {
    streamers: Streamers,
}

impl DataLinkService {
    pub fn new(streamers: Streamers) -> Self {
        Self { streamers }
    }

    /// The tonic service with explicit message limits, admitting only logged-in
    /// callers (`sessions.interceptor()`).
    pub fn server(
        self,
        login: RequireLogin,
    ) -> InterceptedService<DataLinkServer<DataLinkService>, RequireLogin> {
        InterceptedService::new(
            DataLinkServer::new(self)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
            login,
        )
    }
}

type OutStream = UnboundedReceiverStream<Result<ToStreamer, Status>>;

#[tonic::async_trait]
impl DataLink for DataLinkService {
    type OpenStream = OutStream;

    async fn open(
        &self,
        request: Request<Streaming<FromStreamer>>,
    ) -> Result<Response<Self::OpenStream>, Status> {
        let identity = request.extensions().get::<Identity>().cloned();
        let user = identity
            .as_ref()
            .map(|i| i.user.clone())
            .unwrap_or_default();
        let login_station = identity.map(|i| i.station).unwrap_or_default();
        let peer = request
            .remote_addr()
            .map(|a| a.to_string())
            .unwrap_or_else(|| "(unknown peer)".to_owned());
        let mut inbound = request.into_inner();
        let hello = match tokio::time::timeout(HELLO_TIMEOUT, inbound.message()).await {
            Ok(Ok(Some(FromStreamer {
                kind: Some(from_streamer::Kind::Hello(h)),
            }))) => h,
            Ok(Err(e)) => return Err(e),
            _ => {
                return Err(Status::invalid_argument(
                    "the first message on DataLink/Open must be Hello (is the streamer the same version as the analyser?)",
                ))
            }
        };
        let major = hello.version.map(|v| v.major).unwrap_or(0);
        if major != PROTOCOL_MAJOR {
            return Err(Status::failed_precondition(format!(
                "streamer {} speaks data-link protocol {major}, this analyser speaks {PROTOCOL_MAJOR}: install the same rtcloud-rs version on both",
                hello.station
            )));
        }
        // The name goes into logs and the web page: plain and short (no forged lines).
        if let Err(why) = security::users::check_station_name(&hello.station) {
            return Err(Status::invalid_argument(format!("--station: {why}")));
        }
        // The login checked that this user may be this station: the Hello must agree.
        if login_station != hello.station {
            return Err(Status::permission_denied(format!(
                "the streamer logged in as station {login_station:?} but says it is station {}: use the same --station for both",
                hello.station
            )));
        }
        let station = self.streamers.claim(&hello.station)?;
        let compression = if hello.compressions.contains(&(Compression::Zstd as i32)) {
            Compression::Zstd
        } else {
            Compression::None
        };
        let unknown_streams = hello
            .open_streams
            .iter()
            .filter(|s| {
                self.streamers
                    .stream(&s.stream_id)
                    .is_none_or(|known| known.station != hello.station)
            })
            .map(|s| s.stream_id.clone())
            .collect();
        let (tx, rx) = mpsc::unbounded_channel();
        let welcome = Welcome {
            version: Some(ProtocolVersion {
                major: PROTOCOL_MAJOR,
                minor: PROTOCOL_MINOR,
            }),
            compression: compression as i32,
            unknown_streams,
        };
        let _ = tx.send(Ok(ToStreamer {
            kind: Some(to_streamer::Kind::Welcome(welcome)),
        }));
        let generation = self.streamers.next_generation();
        let old = {
            let mut link = station.lock_link();
            // A second claim of a live station is refused unless it is the same user
            // reconnecting (its old link may be dead without anyone having noticed).
            if link.as_ref().is_some_and(|l| l.user != user) {
                tracing::warn!(station = %station.name, %peer, %user, "claim of a station connected by another user refused");
                // PERMISSION_DENIED: the dialer's "refused" (slow retry), as a login refusal.
                return Err(Status::permission_denied(format!(
                    "station {} is connected by another user: stop that streamer first, or use another --station",
                    station.name
                )));
            }
            link.replace(Link {
                generation,
                tx: tx.clone(),
                pending: HashMap::new(),
                user: user.clone(),
            })
        };
        {
            let mut info = station.lock_info();
            info.user = user.clone();
            info.peer = peer.clone();
            info.allowed_dirs = hello.allowed_dirs.clone();
            info.allowed_types = hello.allowed_types.clone();
            info.compression = compression == Compression::Zstd;
            info.connected_since = Some(SystemTime::now());
            info.connections += 1;
        }
        if let Some(old) = old {
            tracing::warn!(station = %station.name, %peer, "streamer reconnected while its old link looked alive: the old link is closed");
            // Ends the old stream (its reader holds a sender too), so if that streamer
            // is alive after all it notices and reconnects instead of staying orphaned.
            let _ = old.tx.send(Err(Status::aborted(
                "this link was replaced by a newer connection of the same station",
            )));
        }
        self.streamers.notify_changed();
        tracing::info!(station = %station.name, %peer, %user, compression = ?compression, "streamer connected");
        resume_lost_streams(&self.streamers, &station, &hello.open_streams);
        let reader = Reader {
            streamers: self.streamers.clone(),
            station,
            generation,
            tx,
            pushes: HashMap::new(),
        };
        tokio::spawn(reader.run(inbound));
        Ok(Response::new(UnboundedReceiverStream::new(rx)))
    }
}

/// Opens again, on a streamer that does not know them (a new process after a crash or
/// restart: its Hello lists no open streams), the streams its station had open, each
/// from the first volume the analyser does not hold, so the project's run goes on.
/// Found by the fault suite (docs/faults.md): before, such a run waited forever.
fn resume_lost_streams(streamers: &Streamers, station: &Arc<Station>, known: &[OpenStream]) {
    for stream in streamers.streams_of(&station.name) {
        if known.iter().any(|k| k.stream_id == stream.id) {
            continue;
        }
        let Some(init) = stream.resume_request() else {
            continue;
        };
        let station = station.clone();
        tokio::spawn(async move {
            let (id, from) = (init.stream_id.clone(), init.start_index);
            let msg = to_streamer::Kind::Request(protocol::v1::Request {
                id: 0,
                deadline_ms: 0,
                call: Some(request::Call::InitScannerStream(init)),
            });
            let name = format!("init_scanner_stream({id}) again");
            match station
                .call(name, vec![msg], crate::DEFAULT_CALL_TIMEOUT)
                .await
            {
                Ok(_) => {
                    tracing::info!(station = %station.name, stream = %id, from, "scanner stream opened again on the new streamer")
                }
                Err(e) => {
                    tracing::warn!(station = %station.name, stream = %id, "scanner stream not opened again: {e}")
                }
            }
        });
    }
}

/// Reads one link's messages until it ends.
struct Reader {
    streamers: Streamers,
    station: Arc<Station>,
    generation: u64,
    tx: mpsc::UnboundedSender<Result<ToStreamer, Status>>,
    pushes: HashMap<(String, u32), (Push, Assembler)>,
}

impl Reader {
    async fn run(mut self, mut inbound: Streaming<FromStreamer>) {
        let end = loop {
            match inbound.message().await {
                Ok(Some(msg)) => {
                    if let Err(e) = self.handle(msg) {
                        break Some(format!("protocol error: {e}"));
                    }
                }
                Ok(None) => break None,
                // The streamer hung up (it was stopped): it left, nothing broke.
                Err(status) if status.code() == tonic::Code::Cancelled => break None,
                Err(status) => break Some(format!("link lost: {}", status.message())),
            }
        };
        let mut link = self.station.lock_link();
        if link
            .as_ref()
            .is_some_and(|l| l.generation == self.generation)
        {
            // Dropping the pending calls' senders fails them with "disconnected".
            *link = None;
            drop(link);
            self.streamers.notify_changed();
            match end {
                Some(why) => {
                    tracing::warn!(station = %self.station.name, "streamer disconnected: {why}")
                }
                None => tracing::info!(station = %self.station.name, "the streamer left"),
            }
        }
    }

    fn handle(&mut self, msg: FromStreamer) -> Result<(), String> {
        match msg.kind {
            Some(from_streamer::Kind::Response(r)) => self.response(r),
            Some(from_streamer::Kind::Push(p)) => self.push(p),
            Some(from_streamer::Kind::Hello(_)) => Err("a second Hello".to_owned()),
            Some(from_streamer::Kind::SeriesSeen(seen)) => {
                self.streamers.series_seen(&self.station.name, seen);
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn response(&mut self, r: protocol::v1::Response) -> Result<(), String> {
        let mut guard = self.station.lock_link();
        let Some(link) = guard.as_mut().filter(|l| l.generation == self.generation) else {
            return Ok(());
        };
        let Some(pending) = link.pending.get_mut(&r.id) else {
            // Timed out and forgotten already.
            return Ok(());
        };
        let station = self.station.name.clone();
        let result = match r.result {
            Some(response::Result::File(f)) => {
                let Some(chunk) = f.data else {
                    return Err(format!("file response {} without data", r.id));
                };
                let wire = chunk.data.len() as u64;
                let (path, asm) = pending
                    .file
                    .get_or_insert_with(|| (f.path.clone(), Assembler::default()));
                self.station.wire_bytes.fetch_add(wire, Ordering::Relaxed);
                match asm.push(chunk) {
                    Ok(None) => return Ok(()),
                    Ok(Some(bytes)) => {
                        self.station
                            .raw_bytes
                            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                        tracing::debug!(%path, bytes = bytes.len(), "file received");
                        Ok(Reply::File { bytes })
                    }
                    Err(detail) => Err(LinkError::Protocol {
                        peer: station,
                        detail,
                    }),
                }
            }
            Some(response::Result::Error(e)) => Err(LinkError::Remote {
                station,
                call: pending.call.clone(),
                code: e.code,
                message: e.message,
            }),
            Some(response::Result::Paths(p)) => Ok(Reply::Paths(p.paths)),
            Some(response::Result::Pong(p)) => Ok(Reply::Pong(p.streamer_time)),
            Some(response::Result::Done(_)) => Ok(Reply::Done),
            Some(response::Result::ClockSkew(s)) => Ok(Reply::ClockSkew(s)),
            None => Err(LinkError::Protocol {
                peer: station,
                detail: format!("empty response {}", r.id),
            }),
        };
        if let Some(p) = link.pending.remove(&r.id) {
            let _ = p.reply.send(result);
        }
        Ok(())
    }

    fn push(&mut self, mut p: Push) -> Result<(), String> {
        let Some(stream) = self
            .streamers
            .stream(&p.stream_id)
            .filter(|s| s.station == self.station.name)
        else {
            // A stream this analyser does not hold (closed, or from before a restart).
            return Ok(());
        };
        if let Some(e) = p.error {
            if e.code != Code::BadFile as i32 {
                stream.fail(e.message);
                return Ok(());
            }
            // One bad volume: held for get_image_data and ACKed like a volume.
            if stream.insert_bad(p.index, e.message) {
                self.station.volumes.fetch_add(1, Ordering::Relaxed);
            }
            return self.ack(p.stream_id, p.index);
        }
        let Some(chunk) = p.data.take() else {
            return Err(format!("push {}/{} without data", p.stream_id, p.index));
        };
        self.station
            .wire_bytes
            .fetch_add(chunk.data.len() as u64, Ordering::Relaxed);
        let (bytes, path, completed_at) = if chunk.offset == 0 && chunk.last {
            // The common case, one chunk: no bookkeeping, no copy.
            let mut asm = Assembler::default();
            (asm.push(chunk)?, p.path, p.completed_at)
        } else {
            let key = (p.stream_id.clone(), p.index);
            let entry = self.pushes.entry(key.clone()).or_insert_with(|| {
                let first = Push {
                    data: None,
                    ..p.clone()
                };
                (first, Assembler::default())
            });
            match entry.1.push(chunk) {
                Ok(Some(bytes)) => {
                    let (first, _) = self.pushes.remove(&key).unwrap_or_default();
                    (Some(bytes), first.path, first.completed_at)
                }
                Ok(None) => (None, String::new(), 0.0),
                Err(e) => {
                    self.pushes.remove(&key);
                    return Err(e);
                }
            }
        };
        let Some(bytes) = bytes else {
            return Ok(());
        };
        self.station
            .raw_bytes
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        let fresh = stream.insert(ImageData {
            index: p.index,
            bytes,
            path,
            completed_at: crate::from_epoch_secs(completed_at),
            sent_at: (p.sent_at > 0.0).then(|| crate::from_epoch_secs(p.sent_at)),
            received_at: SystemTime::now(),
        });
        if fresh {
            self.station.volumes.fetch_add(1, Ordering::Relaxed);
        } else {
            tracing::debug!(stream = %p.stream_id, index = p.index, "duplicate volume dropped");
        }
        self.ack(p.stream_id, p.index)
    }

    fn ack(&self, stream_id: String, index: u32) -> Result<(), String> {
        let _ = self.tx.send(Ok(ToStreamer {
            kind: Some(to_streamer::Kind::Ack(Ack { stream_id, index })),
        }));
        Ok(())
    }
}
