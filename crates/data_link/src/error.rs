//! Errors of the data link, as project code sees them: each names the station, the
//! path or the stream, and what to do about it.

use std::time::Duration;

use protocol::v1::link_error::Code;

/// Everything a DataInterface call or the link itself can fail with.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// No streamer of that station is connected (and none came within the wait).
    #[error("streamer {station} is not connected (start data_streamer --station {station} on the scanner console, or check its log for why it cannot reach the analyser)")]
    NotConnected { station: String },
    /// The link dropped while the call was pending.
    #[error("streamer {station} disconnected while {call} was pending; it reconnects by itself, retry the call")]
    Disconnected { station: String, call: String },
    /// The streamer (or local disk) refused or failed the call.
    #[error("{station}: {call} failed: {message}")]
    Remote {
        station: String,
        call: String,
        code: i32,
        message: String,
    },
    /// No answer (or no volume) within the caller's timeout.
    #[error("{station}: {call} timed out after {:.1} s", timeout.as_secs_f64())]
    Timeout {
        station: String,
        call: String,
        timeout: Duration,
    },
    /// The stream id is not one this analyser opened.
    #[error("unknown scanner stream {stream_id} (open one with init_scanner_stream first; streams do not survive an analyser restart)")]
    UnknownStream { stream_id: String },
    /// get_image_data asked for a volume it already returned (each is returned once).
    #[error("volume {index} of stream {stream_id} was already returned (get_image_data returns each volume once)")]
    AlreadyTaken { stream_id: String, index: u32 },
    /// The scanner stream failed for good on the streamer.
    #[error("scanner stream {stream_id} failed: {message}")]
    StreamFailed { stream_id: String, message: String },
    /// One volume's file was bad (empty, cut short for good, malformed, cannot be
    /// de-identified); the message names the file and why. Later volumes still come.
    #[error("volume {index} of scanner stream {stream_id} failed: {message} (the stream goes on with the next volume)")]
    BadFile {
        stream_id: String,
        index: u32,
        message: String,
    },
    /// The peer sent something that breaks the protocol.
    #[error("protocol error from {peer}: {detail}")]
    Protocol { peer: String, detail: String },
    /// Decoding the DICOM into a volume failed.
    #[error("volume {index} of stream {stream_id}: {source}")]
    Imaging {
        stream_id: String,
        index: u32,
        #[source]
        source: imaging::ImagingError,
    },
    /// A local (analyser disk) file operation failed.
    #[error(transparent)]
    Local(#[from] filestore::FilestoreError),
}

impl LinkError {
    /// The protocol code of a remote failure, if this is one.
    pub fn remote_code(&self) -> Option<Code> {
        match self {
            LinkError::Remote { code, .. } => Code::try_from(*code).ok(),
            _ => None,
        }
    }

    /// True when the path or file type was refused by the access rules.
    pub fn is_refused(&self) -> bool {
        matches!(self.remote_code(), Some(Code::Refused))
            || matches!(
                self,
                LinkError::Local(
                    filestore::FilestoreError::OutsideAllowedDirs { .. }
                        | filestore::FilestoreError::TypeNotAllowed { .. }
                        | filestore::FilestoreError::Refused { .. }
                        | filestore::FilestoreError::NotWritable { .. }
                        | filestore::FilestoreError::Exists { .. }
                        | filestore::FilestoreError::TooLarge { .. }
                )
            )
    }
}

/// Result of the data link.
pub type Result<T, E = LinkError> = std::result::Result<T, E>;
