//! The project API server: the Data, Subject, Web and Session services of
//! `proto/rtcloud/project/v1/api.proto`, on 127.0.0.1 only, for the script of the
//! current launch (its bearer token is issued at start and revoked at exit).
//!
//! Data calls go to the [`DataInterface`] (a streamer or the local disk); subject and
//! web calls go to the [`Session`], which shows them on the web page, files them, and
//! hands results to the listener.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use data_link::{DataInterface, LinkError};
use protocol::project::v1 as pb;
use security::sessions::{Identity, Sessions};
use session::{LogKind, Session};
use tokio::net::TcpListener;
use tonic::{Request, Response, Status};

/// Volumes and files can be large; the link is loopback and the caller holds a token.
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;
/// The longest wait a script may ask for in one call.
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// What a script may ask about its surroundings.
#[derive(Debug, Clone)]
pub struct ApiInfo {
    pub project: String,
    pub subject_remote: bool,
    /// The streamer station data calls go to (empty for the local disk).
    pub station: String,
    /// Protocol QA verdicts, for `get_qa_report` (issue 12).
    pub qa: crate::qa::QaBoard,
}

/// The running project API; dropping it does not stop the server (it runs until the
/// process ends), but revoking every token closes it to scripts.
#[derive(Debug, Clone)]
pub struct ProjectApi {
    addr: SocketAddr,
    tokens: Sessions,
    info: ApiInfo,
}

#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) data: DataInterface,
    pub(crate) session: Session,
    info: ApiInfo,
    tap: Option<VolumeTap>,
    /// The Bids service's open streams (issue 11).
    pub(crate) bids: std::sync::Arc<crate::bids_api::BidsStreams>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// A scanner volume a script was served, as it came from the stream: what the
/// analyser's session dataset (data_analyser `session_dataset`) keeps of each run.
#[derive(Debug, Clone)]
pub struct TappedVolume {
    pub stream_id: String,
    pub index: u32,
    /// The file's name on the scanner side.
    pub path: String,
    /// The DICOM bytes (de-identified by the streamer unless the project said otherwise).
    pub bytes: Bytes,
}

/// Called with every volume `get_image_data` serves; must not block (hand it on).
pub type VolumeTap = std::sync::Arc<dyn Fn(TappedVolume) + Send + Sync>;

impl ProjectApi {
    /// Binds 127.0.0.1 on an ephemeral port and serves the API in the background.
    pub async fn start(
        data: DataInterface,
        session: Session,
        info: ApiInfo,
    ) -> std::io::Result<ProjectApi> {
        Self::start_with_tap(data, session, info, None).await
    }

    /// [`ProjectApi::start`], handing every served scanner volume to `tap` as well.
    pub async fn start_with_tap(
        data: DataInterface,
        session: Session,
        info: ApiInfo,
        tap: Option<VolumeTap>,
    ) -> std::io::Result<ProjectApi> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        // Tokens last as long as a launch; they are revoked when the script ends.
        let tokens = Sessions::new(Duration::from_secs(7 * 24 * 3600));
        let shared = Shared {
            data,
            session,
            info: info.clone(),
            tap,
            bids: Default::default(),
        };
        let gate = ScriptToken(tokens.interceptor());
        let router = tonic::transport::Server::builder()
            .tcp_nodelay(true)
            .add_service(limits(
                pb::data_server::DataServer::new(shared.clone()),
                gate.clone(),
            ))
            .add_service(pb::subject_server::SubjectServer::with_interceptor(
                shared.clone(),
                gate.clone(),
            ))
            .add_service(pb::web_server::WebServer::with_interceptor(
                shared.clone(),
                gate.clone(),
            ))
            .add_service(tonic::service::interceptor::InterceptedService::new(
                pb::preprocess_server::PreprocessServer::new(
                    crate::preprocess_api::PreprocessStates::default(),
                )
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
                gate.clone(),
            ))
            .add_service(tonic::service::interceptor::InterceptedService::new(
                pb::bids_server::BidsServer::new(shared.clone())
                    .max_decoding_message_size(MAX_MESSAGE_BYTES)
                    .max_encoding_message_size(MAX_MESSAGE_BYTES),
                gate.clone(),
            ))
            .add_service(pb::protocol_qa_server::ProtocolQaServer::with_interceptor(
                shared.clone(),
                gate.clone(),
            ))
            .add_service(pb::session_server::SessionServer::with_interceptor(
                shared, gate,
            ));
        // Nagle off: a volume's last segment must not wait for the client's delayed ACK
        // (40 ms a TR otherwise).
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        tokio::spawn(async move {
            if let Err(e) = router.serve_with_incoming(incoming).await {
                tracing::error!(error = %e, "project API server stopped");
            }
        });
        tracing::info!(%addr, "project API listening");
        Ok(ProjectApi { addr, tokens, info })
    }

    /// Where scripts reach it (RTCLOUD_API).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The protocol QA verdicts `get_qa_report` answers from (issue 12).
    pub fn qa_board(&self) -> &crate::qa::QaBoard {
        &self.info.qa
    }

    /// A new token for one launch's script (RTCLOUD_TOKEN).
    pub fn issue_token(&self) -> String {
        self.tokens
            .issue(Identity {
                user: self.info.project.clone(),
                client_kind: "script".into(),
                station: self.info.station.clone(),
            })
            .0
    }

    /// The script ended: its token no longer opens anything.
    pub fn revoke_token(&self, token: &str) {
        self.tokens.revoke(token);
    }
}

/// The login interceptor, with a refusal that tells a script where its token is.
#[derive(Debug, Clone)]
struct ScriptToken(security::sessions::RequireLogin);

impl tonic::service::Interceptor for ScriptToken {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        self.0.call(request).map_err(|_| {
            Status::unauthenticated(
                "the project API needs the launch's token: send RTCLOUD_TOKEN (set by the \
                 analyser when it starts the script, valid until the script ends) as \
                 `authorization: Bearer <token>`",
            )
        })
    }
}

fn limits<S>(
    server: pb::data_server::DataServer<S>,
    gate: ScriptToken,
) -> tonic::service::interceptor::InterceptedService<pb::data_server::DataServer<S>, ScriptToken>
where
    S: pb::data_server::Data,
{
    tonic::service::interceptor::InterceptedService::new(
        server
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES),
        gate,
    )
}

/// A data-link error as the script sees it: a status code it can act on and the
/// message that names what was wrong.
pub(crate) fn status(e: LinkError) -> Status {
    use filestore::FilestoreError as Fs;
    use protocol::v1::link_error::Code;
    let message = e.to_string();
    if e.is_refused() {
        return Status::permission_denied(message);
    }
    match &e {
        LinkError::NotConnected { .. } | LinkError::Disconnected { .. } => {
            Status::unavailable(message)
        }
        LinkError::Timeout { .. } | LinkError::Local(Fs::Timeout { .. }) => {
            Status::deadline_exceeded(message)
        }
        LinkError::UnknownStream { .. } => Status::not_found(message),
        LinkError::AlreadyTaken { .. } => Status::failed_precondition(message),
        // A bad scanner file: this volume is lost, the stream goes on.
        LinkError::BadFile { .. } => Status::data_loss(message),
        LinkError::Local(Fs::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            Status::not_found(message)
        }
        LinkError::Local(Fs::BadPattern { .. } | Fs::WrongKind { .. }) => {
            Status::invalid_argument(message)
        }
        LinkError::Remote { .. } => match e.remote_code() {
            Some(Code::NotFound | Code::UnknownStream) => Status::not_found(message),
            Some(Code::Timeout) => Status::deadline_exceeded(message),
            Some(Code::Invalid) => Status::invalid_argument(message),
            _ => Status::internal(message),
        },
        _ => Status::internal(message),
    }
}

#[allow(clippy::result_large_err)] // tonic's Status is the error type of every handler
pub(crate) fn timeout(seconds: f64) -> Result<Duration, Status> {
    Duration::try_from_secs_f64(seconds)
        .ok()
        .map(|d| d.min(MAX_TIMEOUT))
        .ok_or_else(|| {
            Status::invalid_argument(format!(
                "timeout {seconds} s is not a number of seconds >= 0"
            ))
        })
}

fn file(bytes: Bytes) -> Response<pb::FileData> {
    Response::new(pb::FileData { data: bytes })
}

fn empty() -> Response<pb::Empty> {
    Response::new(pb::Empty {})
}

#[tonic::async_trait]
impl pb::data_server::Data for Shared {
    async fn init_watch(
        &self,
        request: Request<pb::InitWatchRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let r = request.into_inner();
        self.data
            .init_watch(&r.dir, &r.pattern, r.min_size)
            .await
            .map_err(status)?;
        Ok(empty())
    }

    async fn watch_file(
        &self,
        request: Request<pb::WatchFileRequest>,
    ) -> Result<Response<pb::FileData>, Status> {
        let r = request.into_inner();
        let bytes = self
            .data
            .watch_file(&r.name, timeout(r.timeout_s)?)
            .await
            .map_err(status)?;
        Ok(file(bytes))
    }

    async fn get_file(
        &self,
        request: Request<pb::PathRequest>,
    ) -> Result<Response<pb::FileData>, Status> {
        let path = request.into_inner().path;
        Ok(file(self.data.get_file(&path).await.map_err(status)?))
    }

    async fn get_newest_file(
        &self,
        request: Request<pb::PatternRequest>,
    ) -> Result<Response<pb::FileData>, Status> {
        let pattern = request.into_inner().pattern;
        Ok(file(
            self.data.get_newest_file(&pattern).await.map_err(status)?,
        ))
    }

    async fn list_files(
        &self,
        request: Request<pb::PatternRequest>,
    ) -> Result<Response<pb::PathList>, Status> {
        let pattern = request.into_inner().pattern;
        let paths = self.data.list_files(&pattern).await.map_err(status)?;
        Ok(Response::new(pb::PathList { paths }))
    }

    async fn list_dirs(
        &self,
        request: Request<pb::PatternRequest>,
    ) -> Result<Response<pb::PathList>, Status> {
        let pattern = request.into_inner().pattern;
        let paths = self.data.list_dirs(&pattern).await.map_err(status)?;
        Ok(Response::new(pb::PathList { paths }))
    }

    async fn put_file(
        &self,
        request: Request<pb::PutFileRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let r = request.into_inner();
        self.data
            .put_file(&r.path, r.data, r.overwrite)
            .await
            .map_err(status)?;
        Ok(empty())
    }

    async fn init_scanner_stream(
        &self,
        request: Request<pb::InitScannerStreamRequest>,
    ) -> Result<Response<pb::StreamId>, Status> {
        let r = request.into_inner();
        let stream_id = self
            .data
            .init_scanner_stream_at(
                &r.dir,
                &r.pattern,
                r.min_size,
                r.anonymize,
                // 0 is a volume like any other: RT-Cloud's streams start there.
                r.start_index,
            )
            .await
            .map_err(status)?;
        self.measure_console_clock();
        Ok(Response::new(pb::StreamId { stream_id }))
    }

    async fn get_image_data(
        &self,
        request: Request<pb::GetImageDataRequest>,
    ) -> Result<Response<pb::ImageData>, Status> {
        let r = request.into_inner();
        let form = pb::ImageForm::try_from(r.form).unwrap_or(pb::ImageForm::Dicom);
        let image = self
            .served_image(&r.stream_id, r.index, timeout(r.timeout_s)?)
            .await?;
        let volume = if form == pb::ImageForm::Dicom {
            None
        } else {
            Some(volume_message(&self.decode(&image, &r.stream_id).await?))
        };
        Ok(Response::new(pb::ImageData {
            index: image.index,
            dicom: if form == pb::ImageForm::Volume {
                Bytes::new()
            } else {
                image.bytes
            },
            volume,
            closed_at: data_link::epoch_secs(image.completed_at),
        }))
    }

    async fn close_scanner_stream(
        &self,
        request: Request<pb::StreamId>,
    ) -> Result<Response<pb::Empty>, Status> {
        let id = request.into_inner().stream_id;
        self.data.close_scanner_stream(&id).await.map_err(status)?;
        Ok(empty())
    }

    async fn get_allowed_file_types(
        &self,
        _request: Request<pb::Empty>,
    ) -> Result<Response<pb::PathList>, Status> {
        let paths = self.data.get_allowed_file_types().await.map_err(status)?;
        Ok(Response::new(pb::PathList { paths }))
    }

    async fn ping(&self, _request: Request<pb::Empty>) -> Result<Response<pb::PingReply>, Status> {
        let streamer_time = self.data.ping().await.map_err(status)?;
        Ok(Response::new(pb::PingReply { streamer_time }))
    }

    async fn get_clock_skew(
        &self,
        request: Request<pb::ClockSkewRequest>,
    ) -> Result<Response<pb::ClockSkewReply>, Status> {
        let r = request.into_inner();
        let skew_s = self
            .data
            .get_clock_skew(r.caller_time, r.round_trip_s)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ClockSkewReply { skew_s }))
    }
}

impl Shared {
    /// Volume `index` of scanner stream `stream_id`, as served to a script: a bad file
    /// is logged for the experimenter, the volume goes to the tap, its times to the session.
    #[allow(clippy::result_large_err)] // tonic's Status is the error of every handler
    pub(crate) async fn served_image(
        &self,
        stream_id: &str,
        index: u32,
        timeout: Duration,
    ) -> Result<data_link::ImageData, Status> {
        let image = self
            .data
            .get_image_data(stream_id, index, timeout)
            .await
            .map_err(|e| {
                if matches!(e, LinkError::BadFile { .. }) {
                    // The experimenter sees which file was bad in the log and the page.
                    self.session.log(LogKind::Error, e.to_string());
                }
                status(e)
            })?;
        if let Some(tap) = &self.tap {
            tap(TappedVolume {
                stream_id: stream_id.to_string(),
                index: image.index,
                path: image.path.clone(),
                bytes: image.bytes.clone(),
            });
        }
        let served = session::now();
        // A walk over the first few dozen element headers: cheap enough for every TR.
        let times = imaging::prescan::header_times(&image.bytes);
        self.session.note_volume(session::VolumeStamps {
            index: image.index,
            acquisition_time_of_day_s: times.acquisition_time_s,
            tr_s: times.repetition_time_s,
            detected: data_link::epoch_secs(image.completed_at),
            sent: image.sent_at.map(data_link::epoch_secs),
            received: data_link::epoch_secs(image.received_at),
            served,
        });
        Ok(image)
    }

    /// The served file decoded into a volume (imaging), off the async threads.
    #[allow(clippy::result_large_err)]
    pub(crate) async fn decode(
        &self,
        image: &data_link::ImageData,
        stream_id: &str,
    ) -> Result<imaging::Volume, Status> {
        let bytes = image.bytes.clone();
        let index = image.index;
        let volume = tokio::task::spawn_blocking(move || imaging::volume_from_file(&bytes))
            .await
            .map_err(|e| Status::internal(format!("decoding volume {index}: {e}")))?
            .map_err(|e| {
                Status::invalid_argument(format!(
                    "volume {index} of stream {stream_id} ({}) cannot be decoded: {e}",
                    image.path
                ))
            })?;
        self.session.note_converted(index, session::now());
        Ok(volume)
    }

    /// Measures the data streamer's clock against this one by three pings (the one with
    /// the shortest round trip counts: `offset = streamer_time - midpoint`, uncertain by
    /// half the round trip) for the TR timelines; in a task, so the stream's opening does
    /// not wait. The streamer's Hello also carries its clock, but one way only: its
    /// error is the unknown transit time, which the round trip bounds.
    pub(crate) fn measure_console_clock(&self) {
        let (data, session) = (self.data.clone(), self.session.clone());
        tokio::spawn(async move {
            let mut best: Option<session::ClockOffset> = None;
            for _ in 0..3 {
                let sent = session::now();
                let Ok(remote) = data.ping().await else {
                    return;
                };
                let back = session::now();
                let measured = session::ClockOffset {
                    offset_s: remote - (sent + back) / 2.0,
                    uncertainty_s: (back - sent) / 2.0,
                };
                if best.is_none_or(|b| measured.uncertainty_s < b.uncertainty_s) {
                    best = Some(measured);
                }
            }
            if let Some(offset) = best {
                tracing::info!(
                    offset_ms = offset.offset_s * 1e3,
                    uncertainty_ms = offset.uncertainty_s * 1e3,
                    "data streamer clock measured"
                );
                session.set_console_clock(offset);
            }
        });
    }
}

/// A decoded volume on the wire (see the proto for the layout).
pub use rtcloud_client::volume_message;

#[allow(clippy::result_large_err)] // tonic's Status is the error type of every handler
fn finite(what: &str, value: f64) -> Result<f64, Status> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Status::invalid_argument(format!(
            "{what} must be a finite number, not {value}"
        )))
    }
}

#[tonic::async_trait]
impl pb::subject_server::Subject for Shared {
    async fn set_result(
        &self,
        request: Request<pb::SetResultRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let r = request.into_inner();
        let value = finite("the result value", r.value)?;
        let delay = finite("onset_delay_ms", r.onset_delay_ms)?.max(0.0);
        self.session
            .add_result(r.run, r.tr, serde_json::json!(value), delay);
        Ok(empty())
    }

    async fn set_result_dict(
        &self,
        request: Request<pb::SetResultDictRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let r = request.into_inner();
        let value: serde_json::Value = serde_json::from_str(&r.json)
            .map_err(|e| Status::invalid_argument(format!("the result is not valid JSON: {e}")))?;
        if !value.is_object() {
            return Err(Status::invalid_argument(
                "set_result_dict takes a JSON object (a dict)",
            ));
        }
        let number = |keys: [&str; 2]| {
            keys.iter()
                .find_map(|k| value.get(*k).and_then(serde_json::Value::as_i64))
                .unwrap_or(0)
        };
        let (run, tr) = (number(["run", "runId"]), number(["tr", "trId"]));
        let delay = finite("onset_delay_ms", r.onset_delay_ms)?.max(0.0);
        self.session.add_result(run, tr, value, delay);
        Ok(empty())
    }

    async fn set_message(
        &self,
        request: Request<pb::SetMessageRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        self.session.set_message(&request.into_inner().text);
        Ok(empty())
    }

    async fn get_response(
        &self,
        request: Request<pb::GetResponseRequest>,
    ) -> Result<Response<pb::ResponseReply>, Status> {
        let r = request.into_inner();
        let response = self.session.response(r.run, r.tr).map(response_message);
        Ok(Response::new(pb::ResponseReply { response }))
    }

    async fn get_all_responses(
        &self,
        _request: Request<pb::Empty>,
    ) -> Result<Response<pb::ResponseList>, Status> {
        let responses = self
            .session
            .responses()
            .into_iter()
            .map(response_message)
            .collect();
        Ok(Response::new(pb::ResponseList { responses }))
    }
}

fn response_message(r: session::Response) -> pb::Response {
    pb::Response {
        run: r.run,
        tr: r.tr,
        json: r.value.to_string(),
        received_at: r.received_at,
    }
}

#[tonic::async_trait]
impl pb::web_server::Web for Shared {
    async fn plot_data_point(
        &self,
        request: Request<pb::PlotDataPointRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let r = request.into_inner();
        let value = finite("the plotted value", r.value)?;
        self.session.plot_point(r.run, r.tr, value);
        Ok(empty())
    }

    async fn clear_run_plot(
        &self,
        request: Request<pb::ClearRunPlotRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        self.session.clear_plot(request.into_inner().run);
        Ok(empty())
    }

    async fn clear_all_plots(
        &self,
        _request: Request<pb::Empty>,
    ) -> Result<Response<pb::Empty>, Status> {
        self.session.clear_all_plots();
        Ok(empty())
    }

    async fn user_log(
        &self,
        request: Request<pb::LogRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        self.session.log(LogKind::User, request.into_inner().text);
        Ok(empty())
    }

    async fn session_log(
        &self,
        request: Request<pb::LogRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        self.session
            .log(LogKind::Session, request.into_inner().text);
        Ok(empty())
    }

    async fn set_user_error(
        &self,
        request: Request<pb::LogRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        self.session.set_user_error(&request.into_inner().text);
        Ok(empty())
    }

    async fn show_preprocessing(
        &self,
        request: Request<pb::ShowPreprocessingRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let shown = crate::run_view::views(&request.into_inner())?;
        if let Some(point) = shown.motion {
            self.session.show_motion(point);
        }
        if let Some(view) = shown.brain {
            self.session.show_brain(view);
        }
        Ok(empty())
    }
}

#[tonic::async_trait]
impl pb::session_server::Session for Shared {
    async fn get_info(
        &self,
        _request: Request<pb::Empty>,
    ) -> Result<Response<pb::SessionInfo>, Status> {
        Ok(Response::new(pb::SessionInfo {
            project: self.info.project.clone(),
            data_remote: self.data.is_remote(),
            subject_remote: self.info.subject_remote,
            station: self.info.station.clone(),
            session_dir: self.session.dir().display().to_string(),
            launch: self.session.current_launch().unwrap_or(0),
        }))
    }
}

/// Protocol QA (issue 12): the verdict on a series, from the analyser's [`crate::qa::QaBoard`].
#[tonic::async_trait]
impl pb::protocol_qa_server::ProtocolQa for Shared {
    async fn get_qa_report(
        &self,
        request: Request<pb::QaReportRequest>,
    ) -> Result<Response<pb::QaReport>, Status> {
        let series = request.into_inner().series;
        let found = if series.is_empty() {
            self.info.qa.latest(&self.info.station)
        } else {
            self.info.qa.find(&series)
        };
        let v = found.ok_or_else(|| {
            Status::not_found(if series.is_empty() {
                format!(
                    "no series of station {:?} has been seen yet",
                    self.info.station
                )
            } else {
                format!("no series {series:?} has been seen (yet)")
            })
        })?;
        Ok(Response::new(crate::qa::report_message(&v)))
    }
}
