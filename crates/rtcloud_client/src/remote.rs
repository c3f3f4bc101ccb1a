//! The connection to the analyser's project API: one HTTP/2 channel to 127.0.0.1,
//! the launch's token on every call.

use std::sync::Arc;

use protocol::project::v1 as pb;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::{ClientError, Result};

/// Adds `authorization: Bearer <token>` to each call.
#[derive(Debug, Clone)]
pub(crate) struct Bearer(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

type Authed = InterceptedService<Channel, Bearer>;

/// Volumes and files can be large; the analyser allows the same.
const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// The open connection (opaque: use the clients of [`crate::ClientInterface`]).
#[derive(Debug, Clone)]
pub struct Api(Arc<Clients>);

#[derive(Debug)]
struct Clients {
    data: pb::data_client::DataClient<Authed>,
    subject: pb::subject_client::SubjectClient<Authed>,
    web: pb::web_client::WebClient<Authed>,
    session: pb::session_client::SessionClient<Authed>,
    preprocess: pb::preprocess_client::PreprocessClient<Authed>,
    bids: pb::bids_client::BidsClient<Authed>,
    protocol_qa: pb::protocol_qa_client::ProtocolQaClient<Authed>,
}

impl Api {
    pub async fn connect(addr: &str, token: &str) -> Result<Api> {
        let connect_err = |detail: String| ClientError::Connect {
            addr: addr.to_owned(),
            detail,
        };
        let bearer = format!("Bearer {token}")
            .parse()
            .map_err(|_| connect_err("RTCLOUD_TOKEN is not a valid header value".into()))?;
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| connect_err(e.to_string()))?
            .tcp_nodelay(true)
            .connect()
            .await
            .map_err(|e| connect_err(e.to_string()))?;
        let authed = InterceptedService::new(channel, Bearer(bearer));
        Ok(Api(Arc::new(Clients {
            data: pb::data_client::DataClient::new(authed.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
            subject: pb::subject_client::SubjectClient::new(authed.clone()),
            web: pb::web_client::WebClient::new(authed.clone()),
            preprocess: pb::preprocess_client::PreprocessClient::new(authed.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
            bids: pb::bids_client::BidsClient::new(authed.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
            protocol_qa: pb::protocol_qa_client::ProtocolQaClient::new(authed.clone()),
            session: pb::session_client::SessionClient::new(authed),
        })))
    }

    // Clients are cheap handles on the one channel; each call takes its own.
    pub(crate) fn data(&self) -> pb::data_client::DataClient<Authed> {
        self.0.data.clone()
    }

    pub(crate) fn subject(&self) -> pb::subject_client::SubjectClient<Authed> {
        self.0.subject.clone()
    }

    pub(crate) fn web(&self) -> pb::web_client::WebClient<Authed> {
        self.0.web.clone()
    }

    pub(crate) fn preprocess(&self) -> pb::preprocess_client::PreprocessClient<Authed> {
        self.0.preprocess.clone()
    }

    pub(crate) fn bids(&self) -> pb::bids_client::BidsClient<Authed> {
        self.0.bids.clone()
    }

    pub async fn info(&self) -> Result<pb::SessionInfo> {
        let reply = self
            .0
            .session
            .clone()
            .get_info(pb::Empty {})
            .await
            .map_err(api_err("get_info"))?;
        Ok(reply.into_inner())
    }

    /// The protocol QA verdict on `series` (a series id as the QA page shows it, or its
    /// end such as "001_000013"; empty: the newest series of the project's station):
    /// each parameter with the series' and the template's value, tolerance and verdict
    /// (issue 12). NOT_FOUND while no such series has been seen.
    pub async fn get_qa_report(&self, series: &str) -> Result<pb::QaReport> {
        let request = pb::QaReportRequest {
            series: series.to_owned(),
        };
        let reply = self
            .0
            .protocol_qa
            .clone()
            .get_qa_report(request)
            .await
            .map_err(api_err("get_qa_report"))?;
        Ok(reply.into_inner())
    }
}

/// Turns an analyser status into a [`ClientError`] naming the call.
pub(crate) fn api_err(call: &'static str) -> impl Fn(tonic::Status) -> ClientError {
    move |status| ClientError::Api {
        call,
        code: status.code(),
        message: status.message().to_owned(),
    }
}
