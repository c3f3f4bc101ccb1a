//! `BidsError`: every way a BIDS operation can fail, each naming what was wrong.

use std::path::PathBuf;

/// The error of every operation of this crate. Messages name the field, entity or file.
#[derive(Debug, thiserror::Error)]
pub enum BidsError {
    /// A required entity or metadata field (subject, task, suffix, datatype,
    /// RepetitionTime) is not given by any source.
    #[error("BIDS requires {0}, but none was given (set it in the stream's arguments, the project settings or a BIDS-style ProtocolName)")]
    Missing(&'static str),
    /// A value that BIDS does not allow, e.g. a label with an underscore (BIDS 1.9
    /// "Common principles: entities": labels are alphanumeric).
    #[error("invalid {field}: {why}")]
    Invalid { field: String, why: String },
    /// An incremental that does not fit the run it is appended to.
    #[error("{field} does not match the run: the run has {run}, the new volume {volume}")]
    Mismatch {
        field: String,
        run: String,
        volume: String,
    },
    /// An image the imaging crate refused (shape, data type, affine ...).
    #[error(transparent)]
    Imaging(#[from] imaging::ImagingError),
    /// A file of the dataset that could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Something asked of the dataset that it does not hold (a run, a subject).
    #[error("{0}")]
    NotFound(String),
}

/// Result with [`BidsError`].
pub type Result<T, E = BidsError> = std::result::Result<T, E>;

impl BidsError {
    /// An IO error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        BidsError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, why: impl Into<String>) -> Self {
        BidsError::Invalid {
            field: field.into(),
            why: why.into(),
        }
    }
}
