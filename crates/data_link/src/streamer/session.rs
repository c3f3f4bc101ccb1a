//! One connection of the streamer: Hello/Welcome, then requests handled concurrently
//! (each in its own task, so a slow get_file never delays a push), ACKs and cancels,
//! until the link ends.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use dialer::{Backoff, Pace, Token};
use protocol::v1::data_link_client::DataLinkClient;
use protocol::v1::{
    from_streamer, request, to_streamer, Compression, FromStreamer, Hello, ProtocolVersion,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::Channel;

use super::handler;
use super::push::Outbox;
use super::Shared;
use crate::payload::{Assembler, MAX_MESSAGE_BYTES};
use crate::{PROTOCOL_MAJOR, PROTOCOL_MINOR};

static GENERATION: AtomicU64 = AtomicU64::new(1);

/// Why a connection ended, and how soon to try again.
#[derive(Debug)]
pub(crate) struct LinkEnd {
    pub pace: Pace,
    pub message: String,
}

impl From<String> for LinkEnd {
    /// A lost link: an outage, retried soon.
    fn from(message: String) -> Self {
        LinkEnd {
            pace: Pace::Outage,
            message,
        }
    }
}

impl From<&str> for LinkEnd {
    fn from(message: &str) -> Self {
        message.to_owned().into()
    }
}

/// Serves one connection; returns when it ends (Ok when the analyser closed it).
pub(crate) async fn run(
    shared: &Arc<Shared>,
    channel: Channel,
    token: Token,
    backoff: &mut Backoff,
) -> Result<(), LinkEnd> {
    let config = &shared.config;
    let mut client = DataLinkClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let (tx, rx) = mpsc::unbounded_channel();
    let hello = Hello {
        station: config.station.clone(),
        version: Some(ProtocolVersion {
            major: PROTOCOL_MAJOR,
            minor: PROTOCOL_MINOR,
        }),
        allowed_types: config.rules.allowed_types().to_vec(),
        // By name only, as every path is shown (see `AccessRules::shown`).
        allowed_dirs: config
            .rules
            .allowed_dirs()
            .iter()
            .map(|d| config.rules.shown(d))
            .collect(),
        compressions: if config.compression {
            vec![Compression::Zstd as i32]
        } else {
            Vec::new()
        },
        open_streams: shared.lock_push().open_streams(),
        streamer_time: crate::epoch_secs(SystemTime::now()),
    };
    let _ = tx.send(FromStreamer {
        kind: Some(from_streamer::Kind::Hello(hello)),
    });
    let mut request = tonic::Request::new(UnboundedReceiverStream::new(rx));
    token.authorize(&mut request);
    let mut inbound = client
        .open(request)
        .await
        .map_err(|s| LinkEnd {
            pace: match s.code() {
                tonic::Code::Unauthenticated
                | tonic::Code::PermissionDenied
                | tonic::Code::FailedPrecondition
                | tonic::Code::InvalidArgument => Pace::Refused,
                _ => Pace::Outage,
            },
            message: format!("the analyser refused the data link: {}", s.message()),
        })?
        .into_inner();
    let welcome = match inbound.message().await {
        Ok(Some(protocol::v1::ToStreamer {
            kind: Some(to_streamer::Kind::Welcome(w)),
        })) => w,
        Ok(_) => return Err("the analyser did not answer Hello with Welcome".into()),
        Err(s) => return Err(format!("link lost before Welcome: {}", s.message()).into()),
    };
    let major = welcome.version.map(|v| v.major).unwrap_or(0);
    if major != PROTOCOL_MAJOR {
        return Err(LinkEnd {
            pace: Pace::Refused,
            message: format!(
                "the analyser speaks data-link protocol {major}, this streamer {PROTOCOL_MAJOR}: install the same rtcloud-rs version on both"
            ),
        });
    }
    let level = (config.compression && welcome.compression == Compression::Zstd as i32)
        .then_some(config.compression_level);
    let generation = GENERATION.fetch_add(1, Ordering::Relaxed);
    {
        let mut push = shared.lock_push();
        for id in &welcome.unknown_streams {
            // The analyser restarted and does not know it: nobody would take its volumes.
            if push.close(id) {
                tracing::info!(stream = %id, "scanner stream closed: the analyser no longer knows it");
            }
        }
        push.attach(Outbox {
            tx: tx.clone(),
            level,
            adaptive: config.adaptive_compression,
            generation,
        });
    }
    shared.lock_series().attach(tx.clone());
    backoff.reset();
    tracing::info!(station = %config.station, compression_level = ?level, "connected to the analyser");

    let mut tasks: HashMap<u64, tokio::task::AbortHandle> = HashMap::new();
    let mut puts: HashMap<u64, (String, bool, Assembler)> = HashMap::new();
    let result = loop {
        let msg = match inbound.message().await {
            Ok(Some(m)) => m,
            Ok(None) => break Ok(()),
            Err(s) => break Err(format!("link lost: {}", s.message()).into()),
        };
        match msg.kind {
            Some(to_streamer::Kind::Request(req)) => {
                tasks.retain(|_, t| !t.is_finished());
                let id = req.id;
                let deadline_ms = req.deadline_ms;
                let call = match req.call {
                    Some(request::Call::PutFile(put)) => {
                        // Collect every chunk before writing anything.
                        let entry = puts.entry(id).or_insert_with(|| {
                            (put.path.clone(), put.overwrite, Assembler::default())
                        });
                        let Some(chunk) = put.data else {
                            puts.remove(&id);
                            handler::refuse(&tx, id, "put_file without data");
                            continue;
                        };
                        match entry.2.push(chunk) {
                            Ok(None) => continue,
                            Ok(Some(bytes)) => {
                                let (path, overwrite, _) = puts.remove(&id).unwrap_or_default();
                                handler::Call::Put {
                                    path,
                                    bytes,
                                    overwrite,
                                }
                            }
                            Err(e) => {
                                puts.remove(&id);
                                handler::refuse(&tx, id, &e);
                                continue;
                            }
                        }
                    }
                    Some(other) => handler::Call::Other(other),
                    None => {
                        handler::refuse(
                            &tx,
                            id,
                            "empty request (is the analyser newer than this streamer?)",
                        );
                        continue;
                    }
                };
                let task = tokio::spawn(handler::handle(
                    shared.clone(),
                    tx.clone(),
                    level,
                    id,
                    deadline_ms,
                    call,
                ));
                tasks.insert(id, task.abort_handle());
            }
            Some(to_streamer::Kind::Ack(ack)) => shared.lock_push().ack(&ack.stream_id, ack.index),
            Some(to_streamer::Kind::Cancel(c)) => {
                if let Some(t) = tasks.remove(&c.id) {
                    t.abort();
                }
            }
            Some(to_streamer::Kind::Welcome(_)) | None => {}
        }
    };
    shared.lock_push().detach(generation);
    for t in tasks.values() {
        t.abort();
    }
    result
}
