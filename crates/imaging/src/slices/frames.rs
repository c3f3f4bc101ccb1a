//! The one place where slice and enhanced stacking reads stored pixel values, so both
//! follow the crate's pixel decoder.

use crate::dicom::DicomFile;
use crate::error::{ImagingError, Result};
use crate::pixels::FrameData;
use crate::slices::stack::Samples;

/// Stored values of every frame of `file`, each row-major `rows x cols`
/// (decoded by [`crate::pixels::decode_frames`], any transfer syntax).
pub(crate) fn all_frames(file: &DicomFile) -> Result<Vec<Samples>> {
    let frames = crate::pixels::decode_frames(file)?;
    let per_frame = frames.rows * frames.cols;
    if per_frame == 0 {
        return Err(ImagingError::Invalid("image has no pixels".into()));
    }
    let out = match frames.data {
        FrameData::I16(v) => v
            .chunks_exact(per_frame)
            .map(|c| Samples::I16(c.to_vec()))
            .collect(),
        FrameData::U16(v) => v
            .chunks_exact(per_frame)
            .map(|c| Samples::U16(c.to_vec()))
            .collect(),
    };
    Ok(out)
}

/// The values of a file that must hold exactly one frame.
pub(crate) fn single_frame(file: &DicomFile, instance: i64) -> Result<Samples> {
    let mut frames = all_frames(file)?;
    if frames.len() != 1 {
        return Err(ImagingError::Inconsistent(format!(
            "instance {instance} holds {} frames, expected one slice",
            frames.len()
        )));
    }
    frames
        .pop()
        .ok_or_else(|| ImagingError::Invalid(format!("instance {instance} has no frame")))
}
