//! The analyser's side of the link: the tonic service streamers dial into
//! ([`DataLinkService`]), the registry of streamers by station ([`Streamers`]), and the
//! per-stream buffers that make `get_image_data` return each volume once, in order.
//!
//! Must never: trust a streamer's input (sizes and chunks are checked), or let one
//! station's stream be fed by another station.

pub(crate) mod registry;
mod service;
pub(crate) mod streams;

pub use registry::{SeriesNotice, StationInfo, Streamers};
pub use service::DataLinkService;
