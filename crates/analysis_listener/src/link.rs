//! The link to the analyser: dial (never listen), Hello with the folder's position,
//! then results and messages in order, each written out at its onset time and then
//! acknowledged; posted responses go back until the analyser confirms them. Reconnects
//! forever with `dialer::Backoff`, resuming exactly where the folder is.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use dialer::{Backoff, Token};
use protocol::v1::subject_link_client::SubjectLinkClient;
use protocol::v1::{
    from_listener, to_listener, FromListener, ListenerHello, ParticipantResponse, ProtocolVersion,
    ResultAck, SubjectResult,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::Channel;

use crate::board::Board;
use crate::output::{Delivered, Output};

/// The subject-link protocol version this listener speaks.
pub const PROTOCOL_MAJOR: u32 = 1;

/// Seconds since the epoch, as the protocol carries times.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// A participant's response on its way to the analyser.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Unique, so the analyser records a resent response once.
    pub id: String,
    pub run: i64,
    pub tr: i64,
    pub json: String,
    pub received_at: f64,
}

impl Reply {
    pub fn new(run: i64, tr: i64, value: &serde_json::Value) -> Reply {
        Reply {
            id: format!(
                "{:016x}{:016x}",
                rand::random::<u64>(),
                rand::random::<u64>()
            ),
            run,
            tr,
            json: value.to_string(),
            received_at: now(),
        }
    }
}

/// What arrived, for the writer, tagged with the session it belongs to.
enum Arrival {
    Result {
        session: String,
        result: SubjectResult,
        received_at: f64,
        skew_s: f64,
    },
    Message {
        session: String,
        seq: u64,
        made_at: f64,
        text: String,
        skew_s: f64,
    },
}

/// Where acknowledgements go: the current connection, if any.
type AckSender = Arc<Mutex<Option<mpsc::UnboundedSender<FromListener>>>>;

/// Runs the listener until `shutdown`: `connect` dials and logs in.
pub async fn run<F, Fut, E>(
    mut connect: F,
    output: Output,
    board: Board,
    mut replies: mpsc::UnboundedReceiver<Reply>,
    shutdown: impl Future<Output = ()>,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(Channel, Token), E>>,
    E: Display,
{
    let output = Arc::new(Mutex::new(output));
    let acks: AckSender = Arc::default();
    let (arrivals, queue) = mpsc::unbounded_channel();
    let writer = tokio::spawn(write_loop(
        queue,
        output.clone(),
        board.clone(),
        acks.clone(),
    ));
    let mut pending: BTreeMap<String, Reply> = BTreeMap::new();
    let mut backoff = Backoff::default();
    tokio::pin!(shutdown);
    loop {
        let attempt = async {
            let (channel, token) = connect().await.map_err(|e| e.to_string())?;
            connection(
                channel,
                token,
                &output,
                &board,
                &acks,
                &arrivals,
                &mut replies,
                &mut pending,
                &mut backoff,
            )
            .await
        };
        tokio::select! {
            () = &mut shutdown => break,
            result = attempt => match result {
                Ok(()) => tracing::warn!("the analyser closed the link; reconnecting"),
                Err(e) => tracing::warn!(attempt = backoff.attempts() + 1, "no link to the analyser: {e}"),
            },
        }
        board.set_link(false, "", 0.0);
        *acks.lock().unwrap_or_else(|e| e.into_inner()) = None;
        tokio::select! {
            () = &mut shutdown => break,
            () = backoff.wait() => {}
        }
    }
    drop(arrivals);
    writer.abort();
    tracing::info!("listener stopped");
}

#[allow(clippy::too_many_arguments)] // the loop's state, threaded through one connection
async fn connection(
    channel: Channel,
    token: Token,
    output: &Arc<Mutex<Output>>,
    board: &Board,
    acks: &AckSender,
    arrivals: &mpsc::UnboundedSender<Arrival>,
    replies: &mut mpsc::UnboundedReceiver<Reply>,
    pending: &mut BTreeMap<String, Reply>,
    backoff: &mut Backoff,
) -> Result<(), String> {
    let position = output
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .position()
        .clone();
    let (out, out_queue) = mpsc::unbounded_channel();
    let hello_sent_at = now();
    let hello = from(from_listener::Kind::Hello(ListenerHello {
        version: Some(ProtocolVersion {
            major: PROTOCOL_MAJOR,
            minor: 0,
        }),
        session_id: position.session_id.clone(),
        last_seq: position.last_seq,
        last_message_seq: position.last_message_seq,
        sent_at: hello_sent_at,
    }));
    out.send(hello).map_err(|_| "closed".to_owned())?;
    let mut client = SubjectLinkClient::with_interceptor(channel, token.interceptor());
    let mut incoming = client
        .subscribe(UnboundedReceiverStream::new(out_queue))
        .await
        .map_err(|s| format!("subscribe refused: {}", s.message()))?
        .into_inner();
    let welcome = match incoming.message().await {
        Ok(Some(m)) => match m.kind {
            Some(to_listener::Kind::Welcome(w)) => w,
            _ => return Err("the analyser did not start with Welcome".into()),
        },
        Ok(None) => return Err("the analyser closed the stream".into()),
        Err(s) => return Err(s.message().to_owned()),
    };
    // Its clock minus ours, from the Hello/Welcome round trip.
    let skew_s = welcome.analyser_time - (welcome.hello_sent_at + now()) / 2.0;
    let session = welcome.session_id.clone();
    if welcome.new_session {
        output
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .begin_session(&session)
            .map_err(|e| e.to_string())?;
    }
    backoff.reset();
    board.set_link(true, &session, skew_s);
    *acks.lock().unwrap_or_else(|e| e.into_inner()) = Some(out.clone());
    tracing::info!(
        session = %session,
        project = %welcome.project,
        skew_ms = skew_s * 1000.0,
        "connected to the analyser"
    );
    for reply in pending.values() {
        out.send(response(reply)).map_err(|_| "closed".to_owned())?;
    }
    loop {
        tokio::select! {
            message = incoming.message() => match message {
                Ok(Some(m)) => match m.kind {
                    Some(to_listener::Kind::Result(result)) => {
                        let arrival = Arrival::Result {
                            session: session.clone(),
                            result,
                            received_at: now(),
                            skew_s,
                        };
                        arrivals.send(arrival).map_err(|_| "writer stopped".to_owned())?;
                    }
                    Some(to_listener::Kind::Message(m)) => {
                        let arrival = Arrival::Message {
                            session: session.clone(),
                            seq: m.seq,
                            made_at: m.made_at,
                            text: m.text,
                            skew_s,
                        };
                        arrivals.send(arrival).map_err(|_| "writer stopped".to_owned())?;
                    }
                    Some(to_listener::Kind::ResponseAck(ack)) => {
                        pending.remove(&ack.id);
                    }
                    Some(to_listener::Kind::Welcome(_)) | None => {
                        return Err("unexpected message from the analyser".into());
                    }
                },
                Ok(None) => return Ok(()),
                Err(s) => return Err(s.message().to_owned()),
            },
            reply = replies.recv() => {
                let Some(reply) = reply else { return Ok(()) };
                out.send(response(&reply)).map_err(|_| "closed".to_owned())?;
                pending.insert(reply.id.clone(), reply);
            }
        }
    }
}

fn from(kind: from_listener::Kind) -> FromListener {
    FromListener { kind: Some(kind) }
}

fn response(reply: &Reply) -> FromListener {
    from(from_listener::Kind::Response(ParticipantResponse {
        id: reply.id.clone(),
        run: reply.run,
        tr: reply.tr,
        json: reply.json.clone(),
        received_at: reply.received_at,
    }))
}

/// Writes arrivals in order, each at its onset time, then acknowledges it.
async fn write_loop(
    mut queue: mpsc::UnboundedReceiver<Arrival>,
    output: Arc<Mutex<Output>>,
    board: Board,
    acks: AckSender,
) {
    while let Some(arrival) = queue.recv().await {
        let current = output
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .position()
            .session_id
            .clone();
        match arrival {
            Arrival::Result {
                session,
                result,
                received_at,
                skew_s,
            } if session == current => {
                let sent_at = result.made_at - skew_s;
                let due = sent_at + result.onset_delay_ms.max(0.0) / 1000.0;
                let wait = due - now();
                if wait > 0.0 {
                    tokio::time::sleep(Duration::from_secs_f64(wait.min(3600.0))).await;
                }
                let value = serde_json::from_str(&result.json)
                    .unwrap_or(serde_json::Value::String(result.json.clone()));
                let delivered = Delivered {
                    seq: result.seq,
                    run: result.run,
                    tr: result.tr,
                    value,
                    onset_delay_ms: result.onset_delay_ms,
                    sent_at,
                    received_at,
                    shown_at: now(),
                };
                let written = output
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .write_result(&delivered, || board.publish(delivered.clone()));
                match written {
                    Ok(_) => {
                        let ack = from(from_listener::Kind::Ack(ResultAck { seq: result.seq }));
                        if let Some(out) = acks.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                            out.send(ack).ok();
                        }
                    }
                    // Not acknowledged: it comes again after the next reconnect.
                    Err(e) => tracing::error!("result {} not written: {e}", result.seq),
                }
            }
            Arrival::Message {
                session,
                seq,
                made_at,
                text,
                skew_s,
            } if session == current => {
                let written = output
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .write_message(seq, made_at - skew_s, &text);
                match written {
                    Ok(_) => board.set_message(&text),
                    Err(e) => tracing::error!("message {seq} not written: {e}"),
                }
            }
            // From a session the analyser has since replaced: its results went with it.
            _ => {}
        }
    }
}
