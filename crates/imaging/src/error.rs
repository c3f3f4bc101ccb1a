//! The one error type of the imaging crate.

use dicom_core::Tag;

/// Everything that can go wrong while turning scanner bytes into volumes.
///
/// `Incomplete` is kept apart from `Invalid` on purpose: the file watcher retries an
/// incomplete file (the scanner is still writing it) but reports an invalid one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImagingError {
    /// The bytes end before the data they announce: a file still being written or cut short.
    #[error("incomplete DICOM: {0}")]
    Incomplete(String),
    /// The bytes are not a DICOM file we can read (bad structure, impossible values).
    #[error("invalid DICOM: {0}")]
    Invalid(String),
    /// A required attribute is absent.
    #[error("missing DICOM attribute {name} {tag}")]
    MissingTag { tag: Tag, name: &'static str },
    /// A valid file this crate does not handle (e.g. colour images, an unknown layout).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A set of files that cannot form one volume or one run (mixed sizes, missing slices ...).
    #[error("inconsistent series: {0}")]
    Inconsistent(String),
    /// A file that is DICOM by name or content but cannot be de-identified: it does not
    /// leave the console.
    #[error("{name} is DICOM but cannot be de-identified, so it is not sent: {reason}")]
    NotDeidentified { name: String, reason: String },
    /// Writing an image into a file or stream failed (a full disk ...).
    #[error("writing a NIfTI: {0}")]
    Write(std::io::Error),
}

pub type Result<T, E = ImagingError> = std::result::Result<T, E>;
