//! The one place where slice and enhanced stacking reads stored pixel values and
//! common metadata, so both follow the crate's pixel decoder and metadata filler.

use dicom_dictionary_std::tags;

use crate::dicom::DicomFile;
use crate::error::{ImagingError, Result};
use crate::slices::stack::Samples;
use crate::volume::Metadata;

/// Stored values of every frame of `file`, each row-major `rows x cols`.
pub(crate) fn all_frames(file: &DicomFile) -> Result<Vec<Samples>> {
    let rows = file.require_i64(tags::ROWS)?;
    let cols = file.require_i64(tags::COLUMNS)?;
    let n_frames = file.i64(tags::NUMBER_OF_FRAMES).unwrap_or(1).max(1);
    let bits = file.i64(tags::BITS_ALLOCATED).unwrap_or(16);
    let signed = file.i64(tags::PIXEL_REPRESENTATION).unwrap_or(0) == 1;
    if bits != 16 {
        return Err(ImagingError::Unsupported(format!(
            "{bits}-bit pixels (only 16-bit stacks are handled)"
        )));
    }
    let ts = file.transfer_syntax().trim_end_matches('\0');
    if ts != "1.2.840.10008.1.2.1" && ts != "1.2.840.10008.1.2" {
        return Err(ImagingError::Unsupported(format!(
            "transfer syntax {ts} for single-slice or enhanced files"
        )));
    }
    let data = file
        .bytes(tags::PIXEL_DATA)
        .ok_or(ImagingError::MissingTag {
            tag: tags::PIXEL_DATA,
            name: "PixelData",
        })?;
    let per_frame = usize::try_from(rows * cols).unwrap_or(0);
    let n_frames = usize::try_from(n_frames).unwrap_or(0);
    let needed = per_frame
        .checked_mul(n_frames)
        .and_then(|n| n.checked_mul(2))
        .ok_or_else(|| {
            ImagingError::Invalid(format!("image size {rows}x{cols}x{n_frames} overflows"))
        })?;
    if data.len() < needed {
        return Err(ImagingError::Incomplete(format!(
            "PixelData holds {} bytes, {rows}x{cols}x{n_frames} 16-bit pixels need {needed}",
            data.len()
        )));
    }
    let mask: u16 = match file.i64(tags::BITS_STORED) {
        Some(b @ 1..=15) if !signed => (1u16 << b) - 1,
        _ => u16::MAX,
    };
    let frames = data[..needed]
        .chunks_exact(per_frame * 2)
        .map(|frame| {
            let words = frame
                .chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]));
            if signed {
                Samples::I16(words.map(|w| w as i16).collect())
            } else {
                Samples::U16(words.map(|w| w & mask).collect())
            }
        })
        .collect();
    Ok(frames)
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

/// Common metadata of a volume's first file.
pub(crate) fn metadata(file: &DicomFile) -> Metadata {
    let text = |tag| file.str(tag).map(|s| s.to_string());
    Metadata {
        modality: text(tags::MODALITY),
        manufacturer: text(tags::MANUFACTURER),
        manufacturers_model_name: text(tags::MANUFACTURER_MODEL_NAME),
        software_versions: text(tags::SOFTWARE_VERSIONS),
        magnetic_field_strength: file.f64(tags::MAGNETIC_FIELD_STRENGTH),
        series_description: text(tags::SERIES_DESCRIPTION),
        protocol_name: text(tags::PROTOCOL_NAME),
        series_number: file.i64(tags::SERIES_NUMBER),
        acquisition_number: file.i64(tags::ACQUISITION_NUMBER),
        instance_number: file.i64(tags::INSTANCE_NUMBER),
        series_instance_uid: text(tags::SERIES_INSTANCE_UID),
        study_instance_uid: text(tags::STUDY_INSTANCE_UID),
        echo_time_s: file.f64(tags::ECHO_TIME).map(|te| te / 1000.0),
        flip_angle_deg: file.f64(tags::FLIP_ANGLE),
        ..Metadata::default()
    }
}
