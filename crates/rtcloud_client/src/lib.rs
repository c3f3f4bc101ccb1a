//! rtcloud_client: what a Rust analysis project calls, RT-Cloud's client interface.
//!
//! Started by the analyser, a project finds the project API in its environment
//! (RTCLOUD_API, RTCLOUD_TOKEN) and [`ClientInterface::from_env`] connects to it. Run
//! alone (no RTCLOUD_API), the same calls work on the local disk: files are read from
//! the current folder and below, results and plot points are printed.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rtcloud_client::ClientError> {
//! use std::time::Duration;
//! let client = rtcloud_client::ClientInterface::from_env().await?;
//! let stream = client.data.init_scanner_stream("/data/scans", "001_000013_{TR:06d}.dcm", 300_000, true).await?;
//! for tr in 1..=10 {
//!     let volume = client.data.get_image_volume(&stream, tr, Duration::from_secs(30)).await?;
//!     let mean = volume.voxels.mean();
//!     client.subject.set_result(1, tr.into(), mean, 0.0).await?;
//!     client.web.plot_data_point(1, tr.into(), mean).await?;
//! }
//! # Ok(()) }
//! ```
//!
//! Must never: reach anything but the analyser it was given (or the local disk).

mod bids_streams;
mod data;
mod preprocess;
mod remote;
mod subject;
mod web;

use std::path::Path;

pub use bids_streams::{
    entities_message, entity_source, incremental_from_message, incremental_message, BidsClient,
    BidsStream,
};
pub use data::{volume_from_message, volume_message, DataClient};
pub use preprocess::{GlmSpec, MotionResult, PreprocessClient};
pub use subject::{Response, SubjectClient};
pub use web::{PreprocessingView, WebClient};

/// What a call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The analyser answered with an error; its message names what was wrong.
    #[error("{call}: {message} ({code:?})")]
    Api {
        call: &'static str,
        code: tonic::Code,
        message: String,
    },
    /// The project API could not be reached.
    #[error("cannot reach the project API at {addr}: {detail} (is the analyser running? RTCLOUD_API is set by the analyser when it starts a project)")]
    Connect { addr: String, detail: String },
    /// A local-mode data call failed.
    #[error(transparent)]
    Local(#[from] data_link::LinkError),
    /// The local access rules could not be set up.
    #[error(transparent)]
    Rules(#[from] filestore::FilestoreError),
    /// What came back cannot be used.
    #[error("{call}: {detail}")]
    Invalid { call: &'static str, detail: String },
}

impl ClientError {
    /// The gRPC code of an analyser error (e.g. `NotFound`, `DeadlineExceeded`).
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            ClientError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The scanner file of the volume asked for was bad (corrupt, never complete): that
    /// volume failed, the stream goes on (DATA_LOSS from the analyser, or the local
    /// link's `BadFile`; the message names the file).
    pub fn is_bad_file(&self) -> bool {
        self.code() == Some(tonic::Code::DataLoss)
            || matches!(
                self,
                ClientError::Local(data_link::LinkError::BadFile { .. })
            )
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// The three interfaces of RT-Cloud: data (the scanner's files), subject (results to
/// and responses from the stimulus PC) and web (the experimenter's page).
#[derive(Debug, Clone)]
pub struct ClientInterface {
    pub data: DataClient,
    pub subject: SubjectClient,
    pub web: WebClient,
    /// Real-time preprocessing in the analyser (motion correction, incremental GLM).
    pub preprocess: PreprocessClient,
    /// BIDS streams (RT-Cloud's bidsInterface); remote only.
    pub bids: BidsClient,
    subject_remote: bool,
}

impl ClientInterface {
    /// Connects to the analyser named in RTCLOUD_API / RTCLOUD_TOKEN, or works locally
    /// (files under the current folder) when RTCLOUD_API is not set.
    pub async fn from_env() -> Result<Self> {
        match std::env::var("RTCLOUD_API") {
            Ok(addr) if !addr.is_empty() => {
                let token = std::env::var("RTCLOUD_TOKEN").unwrap_or_default();
                Self::connect(&addr, &token).await
            }
            _ => Self::local(&[Path::new(".")]),
        }
    }

    /// Connects to the project API at `addr` (host:port) with `token`.
    pub async fn connect(addr: &str, token: &str) -> Result<Self> {
        let api = remote::Api::connect(addr, token).await?;
        let info = api.info().await?;
        Ok(ClientInterface {
            data: DataClient::Remote {
                api: api.clone(),
                remote: info.data_remote,
            },
            subject: SubjectClient::Remote(api.clone()),
            web: WebClient::Remote(api.clone()),
            preprocess: PreprocessClient::Remote(api.clone()),
            bids: BidsClient::Remote(api),
            subject_remote: info.subject_remote,
        })
    }

    /// Works on this machine alone: files under `allowed_dirs` (any type, also
    /// writable: it is this machine's own disk), results and plot points printed to
    /// standard output.
    pub fn local(allowed_dirs: &[&Path]) -> Result<Self> {
        let rules =
            filestore::AccessRules::new(allowed_dirs, ["*"])?.with_writable_dirs(allowed_dirs)?;
        Ok(ClientInterface {
            data: DataClient::Local(data_link::DataInterface::local(rules)),
            subject: SubjectClient::Local(subject::LocalResponses::default()),
            web: WebClient::Local,
            preprocess: PreprocessClient::Local,
            bids: BidsClient::Local,
            subject_remote: false,
        })
    }

    /// True when files come from a streamer on the scanner console.
    pub fn is_data_remote(&self) -> bool {
        self.data.is_remote()
    }

    /// True when results go to an analysis_listener on the stimulus PC.
    pub fn is_subject_remote(&self) -> bool {
        self.subject_remote
    }

    /// The protocol QA verdict on a scanner series (issue 12): `series` as the QA page
    /// shows it, or its end ("001_000013"); empty for the project station's newest.
    /// Errors: `NotFound` while no such series was seen; `Invalid` run alone (protocol
    /// QA runs in the analyser).
    pub async fn get_qa_report(&self, series: &str) -> Result<protocol::project::v1::QaReport> {
        match &self.data {
            DataClient::Remote { api, .. } => api.get_qa_report(series).await,
            DataClient::Local(_) => Err(ClientError::Invalid {
                call: "get_qa_report",
                detail: "protocol QA runs in the analyser, not when a project runs alone".into(),
            }),
        }
    }
}
