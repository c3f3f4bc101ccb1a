//! `SubjectLink/Subscribe`: one stream per connected listener. After its Hello, the
//! backlog it has not written out, then live results and messages; acknowledgements and
//! participant responses come back.

use std::pin::Pin;
use std::time::Duration;

use protocol::v1::subject_link_server::{SubjectLink, SubjectLinkServer};
use protocol::v1::{
    from_listener, to_listener, AnalyserWelcome, FromListener, ProtocolVersion, ResponseAck,
    SubjectMessage, SubjectResult, ToListener,
};
use security::sessions::{Identity, RequireLogin};
use session::{Event, ResultRecord, Session};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status, Streaming};

use crate::Listeners;

/// The protocol version in Hello/Welcome; a different major version is refused.
pub const PROTOCOL_MAJOR: u32 = 1;
/// How long a new stream may take to say Hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages queued for one listener before sending waits for it.
const QUEUE: usize = 256;

/// The service, for `Routes::add_service`.
#[derive(Debug, Clone)]
pub struct SubjectLinkService {
    session: Session,
    listeners: Listeners,
}

impl SubjectLinkService {
    pub fn new(session: Session, listeners: Listeners) -> Self {
        SubjectLinkService { session, listeners }
    }

    /// The gRPC server, admitting only logged-in callers.
    pub fn server(
        self,
        login: RequireLogin,
    ) -> InterceptedService<SubjectLinkServer<SubjectLinkService>, RequireLogin> {
        InterceptedService::new(SubjectLinkServer::new(self), login)
    }
}

type Outgoing = Pin<Box<dyn Stream<Item = Result<ToListener, Status>> + Send>>;

#[tonic::async_trait]
impl SubjectLink for SubjectLinkService {
    type SubscribeStream = Outgoing;

    async fn subscribe(
        &self,
        request: Request<Streaming<FromListener>>,
    ) -> Result<Response<Outgoing>, Status> {
        let identity = request
            .extensions()
            .get::<Identity>()
            .cloned()
            .ok_or_else(|| Status::unauthenticated("log in first"))?;
        if identity.client_kind != "listener" {
            return Err(Status::permission_denied(format!(
                "SubjectLink is for analysis_listener; this login is a {:?}",
                identity.client_kind
            )));
        }
        let name = if identity.station.is_empty() {
            identity.user.clone()
        } else {
            identity.station.clone()
        };
        let mut incoming = request.into_inner();
        let hello = match tokio::time::timeout(HELLO_TIMEOUT, incoming.message()).await {
            Ok(Ok(Some(FromListener {
                kind: Some(from_listener::Kind::Hello(hello)),
            }))) => hello,
            _ => {
                return Err(Status::invalid_argument(
                    "the first message on SubjectLink/Subscribe must be Hello (is the listener the same version as the analyser?)",
                ))
            }
        };
        let major = hello.version.map(|v| v.major).unwrap_or(0);
        if major != PROTOCOL_MAJOR {
            return Err(Status::failed_precondition(format!(
                "listener {name} speaks subject-link protocol {major}, this analyser speaks {PROTOCOL_MAJOR}: install the same rtcloud-rs version on both"
            )));
        }
        let new_session = hello.session_id != self.session.id();
        let (from_seq, from_message) = if new_session {
            (0, 0)
        } else {
            (hello.last_seq, hello.last_message_seq)
        };
        // Subscribe before reading the backlog, so nothing made in between is missed.
        let events = self.session.subscribe();
        let (tx, rx) = mpsc::channel(QUEUE);
        let welcome = AnalyserWelcome {
            version: Some(ProtocolVersion {
                major: PROTOCOL_MAJOR,
                minor: 0,
            }),
            session_id: self.session.id().to_owned(),
            project: self.session.project().to_owned(),
            hello_sent_at: hello.sent_at,
            analyser_time: session::now(),
            new_session,
        };
        tx.send(Ok(to(to_listener::Kind::Welcome(welcome))))
            .await
            .map_err(|_| Status::cancelled("the listener left"))?;
        let number = self.listeners.connected(&name, &identity.user, from_seq);
        tracing::info!(listener = %name, from_seq, new_session, "listener subscribed");
        let stream = Stream_ {
            session: self.session.clone(),
            listeners: self.listeners.clone(),
            name,
            tx,
            sent_seq: from_seq,
            sent_message: from_message,
        };
        tokio::spawn(stream.run(incoming, events, number));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

fn to(kind: to_listener::Kind) -> ToListener {
    ToListener { kind: Some(kind) }
}

fn result_message(r: &ResultRecord) -> ToListener {
    to(to_listener::Kind::Result(SubjectResult {
        seq: r.seq,
        run: r.run,
        tr: r.tr,
        json: r.value.to_string(),
        onset_delay_ms: r.onset_delay_ms,
        made_at: r.made_at,
    }))
}

/// One listener's stream: what has been sent, to send each item once and in order.
struct Stream_ {
    session: Session,
    listeners: Listeners,
    name: String,
    tx: mpsc::Sender<Result<ToListener, Status>>,
    sent_seq: u64,
    sent_message: u64,
}

impl Stream_ {
    async fn run(
        mut self,
        mut incoming: Streaming<FromListener>,
        mut events: broadcast::Receiver<Event>,
        number: u64,
    ) {
        let outcome = async {
            self.catch_up().await?;
            loop {
                tokio::select! {
                    event = events.recv() => match event {
                        Ok(Event::Result(r)) if r.seq > self.sent_seq => {
                            // Anything between (none unless lagging) goes first.
                            if r.seq > self.sent_seq + 1 {
                                self.catch_up().await?;
                            } else {
                                self.send(result_message(&r)).await?;
                                self.sent_seq = r.seq;
                            }
                        }
                        Ok(Event::Message { seq, .. }) if seq > self.sent_message => {
                            self.catch_up().await?;
                        }
                        Ok(_) => {}
                        // Fell behind the broadcast: the session still has everything.
                        Err(broadcast::error::RecvError::Lagged(_)) => self.catch_up().await?,
                        Err(broadcast::error::RecvError::Closed) => return Ok(()),
                    },
                    message = incoming.message() => match message {
                        Ok(Some(m)) => self.received(m).await?,
                        Ok(None) => return Ok(()),
                        // The listener hung up (it was stopped): it left, nothing broke.
                        Err(status) if status.code() == tonic::Code::Cancelled => return Ok(()),
                        Err(status) => return Err(status.to_string()),
                    },
                }
            }
        }
        .await;
        self.listeners.disconnected(&self.name, number);
        match outcome {
            Ok(()) => tracing::info!(listener = %self.name, "listener left"),
            Err(e) => tracing::warn!(listener = %self.name, "listener link ended: {e}"),
        }
    }

    async fn send(&self, message: ToListener) -> Result<(), String> {
        self.tx
            .send(Ok(message))
            .await
            .map_err(|_| "the listener's stream closed".to_owned())
    }

    /// Sends every result and message after what was sent, in order.
    async fn catch_up(&mut self) -> Result<(), String> {
        for r in self.session.results_after(self.sent_seq) {
            self.send(result_message(&r)).await?;
            self.sent_seq = r.seq;
        }
        for (seq, made_at, text) in self.session.messages_after(self.sent_message) {
            self.send(to(to_listener::Kind::Message(SubjectMessage {
                text,
                made_at,
                seq,
            })))
            .await?;
            self.sent_message = seq;
        }
        Ok(())
    }

    async fn received(&self, message: FromListener) -> Result<(), String> {
        match message.kind {
            Some(from_listener::Kind::Ack(ack)) => {
                // The timeline first: whoever waits for the ack then finds it recorded.
                self.session.note_delivered(
                    ack.seq,
                    ack.received_at,
                    ack.shown_at,
                    session::ClockOffset {
                        offset_s: ack.clock_offset_s,
                        uncertainty_s: ack.clock_uncertainty_s,
                    },
                );
                self.listeners.acked(&self.name, ack.seq);
            }
            Some(from_listener::Kind::Response(r)) => {
                let value = serde_json::from_str(&r.json)
                    .unwrap_or(serde_json::Value::String(r.json.clone()));
                if self.session.record_response(&r.id, r.run, r.tr, value) {
                    tracing::debug!(listener = %self.name, run = r.run, tr = r.tr, "response");
                }
                self.send(to(to_listener::Kind::ResponseAck(ResponseAck { id: r.id })))
                    .await?;
            }
            Some(from_listener::Kind::Hello(_)) | None => {
                return Err("unexpected message after Hello".into());
            }
        }
        Ok(())
    }
}
