//! data_link: the link between data streamers (scanner consoles) and the analyser.
//!
//! One bidirectional gRPC stream per streamer (`rtcloud.v1.DataLink/Open`), dialed by
//! the streamer: the analyser sends requests down it and the streamer answers (reverse
//! RPC with request ids and deadlines); scanner streams are pushed by the streamer as
//! soon as each file is complete and ACKed by the analyser, so nothing is lost or
//! duplicated across reconnects.
//!
//! - [`analyser`]: [`analyser::DataLinkService`] (the tonic service), the
//!   [`analyser::Streamers`] registry by station.
//! - [`DataInterface`]: what project code calls, on a remote streamer or on the
//!   analyser's own disk ([`DataInterface::local`]).
//! - [`streamer`]: the streamer's side: answering requests through `filestore`'s access
//!   rules, pushing scanner streams, reconnecting forever.
//!
//! Wiring (analyser, then streamer):
//! ```ignore
//! let streamers = data_link::analyser::Streamers::new();
//! let link = data_link::analyser::DataLinkService::new(streamers.clone())
//!     .server(sessions.interceptor());
//! let app = server::routes(auth).add_service(link).into_axum_router();
//! // project code:
//! let data = data_link::DataInterface::remote(streamers.clone(), "skyra");
//! let id = data.init_scanner_stream(dir, "001_000013_{TR:06d}.dcm", 100_000, true).await?;
//! let volume = data.get_image_volume(&id, 1, Duration::from_secs(30)).await?;
//!
//! // data_streamer:
//! let mut config = data_link::streamer::StreamerConfig::new("skyra", rules);
//! config.compression = !args.no_compression;
//! data_link::streamer::run_with_dialer(config, Dialer::from_args(&args.connect)?, shutdown).await;
//! ```
//!
//! Must never: open a listening port on the streamer side, touch a file other than
//! through `filestore::AccessRules`, or panic on what arrives from the network.

pub mod analyser;
mod data;
mod error;
mod local;
mod payload;
pub mod streamer;

pub use data::{DataInterface, ImageData, Local, Remote, DEFAULT_CALL_TIMEOUT};
pub use error::{LinkError, Result};
pub use payload::{CHUNK_SIZE, DEFAULT_ZSTD_LEVEL, MAX_MESSAGE_BYTES};

/// The protocol version in Hello/Welcome; a different major version is refused.
pub const PROTOCOL_MAJOR: u32 = 1;
/// Minor versions only add fields.
pub const PROTOCOL_MINOR: u32 = 0;

/// Seconds since the Unix epoch as the protocol carries times.
pub fn epoch_secs(t: std::time::SystemTime) -> f64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The inverse of `epoch_secs`; a nonsense value from the network becomes the epoch.
pub(crate) fn from_epoch_secs(secs: f64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::try_from_secs_f64(secs).unwrap_or_default()
}
