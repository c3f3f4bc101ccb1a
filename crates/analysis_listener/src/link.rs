//! The link to the analyser: dial (never listen), Hello with the folder's position,
//! then results and messages in order, each written out at its onset time and then
//! acknowledged; posted responses go back until the analyser confirms them. Reconnects
//! forever with `dialer::Backoff`, resuming exactly where the folder is.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use dialer::{Backoff, Pace, Paced, Token};
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
        skew_uncertainty_s: f64,
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
    E: Display + Paced,
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
            let (channel, token) = connect().await.map_err(|e| (e.pace(), e.to_string()))?;
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
            .map_err(|e| (Pace::Outage, e))
        };
        let (pace, why) = tokio::select! {
            () = &mut shutdown => break,
            result = attempt => match result {
                Ok(()) => (Pace::Outage, "the analyser closed the link".to_owned()),
                Err(e) => e,
            },
        };
        board.set_link(false, "", 0.0);
        *acks.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let delay = backoff.delay_after(pace);
        dialer::report_retry(pace, &why, delay, backoff.attempts());
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(delay) => {}
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
    // Its clock minus ours, from the Hello/Welcome round trip (uncertain by half of it).
    let welcomed_at = now();
    let skew_s = welcome.analyser_time - (welcome.hello_sent_at + welcomed_at) / 2.0;
    let skew_uncertainty_s = ((welcomed_at - welcome.hello_sent_at) / 2.0).max(0.0);
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
                            skew_uncertainty_s,
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
                skew_uncertainty_s,
            } if session == current => {
                let sent_at = result.made_at - skew_s;
                let due = sent_at + result.onset_delay_ms.max(0.0) / 1000.0;
                let wait = due - now();
                // No onset delay means "on arrival": a wait then is only an error in the
                // skew estimate, and a timer would round it up to whole milliseconds.
                if result.onset_delay_ms > 0.0 && wait > 0.0 {
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
                let what = format!(
                    "result {} (run {}, TR {})",
                    result.seq, result.run, result.tr
                );
                let shown_at = delivered.shown_at;
                let (out, shown) = (output.clone(), board.clone());
                until_written(&board, &what, move || {
                    out.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .write_result(&delivered, || shown.publish(delivered.clone()))
                })
                .await;
                // The TR's timeline (issue 14): our stamps and clock offset go back.
                let ack = from(from_listener::Kind::Ack(ResultAck {
                    seq: result.seq,
                    received_at,
                    shown_at,
                    clock_offset_s: -skew_s,
                    clock_uncertainty_s: skew_uncertainty_s,
                }));
                if let Some(out) = acks.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                    out.send(ack).ok();
                }
            }
            Arrival::Message {
                session,
                seq,
                made_at,
                text,
                skew_s,
            } if session == current => {
                let out = output.clone();
                let line = text.clone();
                until_written(&board, &format!("message {seq}"), move || {
                    out.lock().unwrap_or_else(|e| e.into_inner()).write_message(
                        seq,
                        made_at - skew_s,
                        &line,
                    )
                })
                .await;
                board.set_message(&text);
            }
            // From a session the analyser has since replaced: its results went with it.
            _ => {}
        }
    }
}

/// How often a result that could not be written (a full disk) is tried again.
const WRITE_RETRY: Duration = Duration::from_secs(1);

/// Runs `write` until it succeeds, every [`WRITE_RETRY`]: later results wait behind it,
/// so the folder stays in order and nothing is skipped. The board (GET /status) and the
/// log say what is stuck and why while it lasts.
pub(crate) async fn until_written<T>(
    board: &Board,
    what: &str,
    mut write: impl FnMut() -> Result<T, crate::output::OutputError> + Send + 'static,
) -> T
where
    T: Send + 'static,
{
    let mut failing = false;
    loop {
        // On a blocking thread (issue 14): the write's fsyncs take milliseconds, and a
        // long-poll woken by the result from a runtime worker waits in that worker's
        // own queue (not stolen by the other worker) until the worker is free again.
        let (writer, attempt) = match tokio::task::spawn_blocking(move || {
            let attempt = write();
            (write, attempt)
        })
        .await
        {
            Ok(done) => done,
            Err(e) => match e.try_into_panic() {
                // A panic in the write itself ends the loop's task, as it did inline.
                Ok(panic) => std::panic::resume_unwind(panic),
                // Not started: the runtime is shutting down, and this task with it.
                Err(_) => std::future::pending().await,
            },
        };
        write = writer;
        match attempt {
            Ok(done) => {
                if failing {
                    tracing::info!("{what} written after all");
                    board.set_write_error(None);
                }
                return done;
            }
            Err(e) => {
                if !failing {
                    tracing::error!("{what} not written, retrying every {WRITE_RETRY:?}: {e}");
                    failing = true;
                }
                board.set_write_error(Some(format!("{what} not written yet: {e}")));
                tokio::time::sleep(WRITE_RETRY).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder that cannot be written (as after a full disk) delays the result, the
    /// board says why, and it is written once the folder can be written again.
    #[tokio::test]
    async fn a_result_not_written_is_retried_until_it_is() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut out = Output::open(dir.path()).expect("opens");
        out.begin_session("s1").expect("session");
        // A file where the run folder must go: every write of run 1 fails.
        std::fs::write(dir.path().join("run-1"), b"in the way").expect("blocker");
        let output = Arc::new(Mutex::new(out));
        let board = Board::default();
        let result = Delivered {
            seq: 1,
            run: 1,
            tr: 1,
            value: serde_json::json!(0.5),
            onset_delay_ms: 0.0,
            sent_at: 1.0,
            received_at: 2.0,
            shown_at: 2.0,
        };
        let task = {
            let (output, board) = (output.clone(), board.clone());
            tokio::spawn(async move {
                until_written(&board, "result 1", move || {
                    output
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .write_result(&result, || {})
                })
                .await
            })
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while board.write_error().is_none() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no write error shown"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let shown = board.write_error().expect("shown");
        assert!(shown.contains("result 1 not written yet"), "{shown}");
        assert!(!task.is_finished());
        // Space is back.
        std::fs::remove_file(dir.path().join("run-1")).expect("unblock");
        assert!(task.await.expect("task"), "written, not skipped");
        assert!(dir.path().join("run-1/tr-0001.json").is_file());
        assert_eq!(board.write_error(), None);
        assert_eq!(
            output.lock().expect("lock").position().last_seq,
            1,
            "the position moved on"
        );
    }
}
