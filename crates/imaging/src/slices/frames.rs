//! The one place where slice and enhanced stacking reads stored pixel values and
//! common metadata, so both follow the crate's pixel decoder and metadata filler.

use dicom_dictionary_std::tags;

use crate::dicom::DicomFile;
use crate::error::{ImagingError, Result};
use crate::pixels::FrameData;
use crate::slices::stack::Samples;
use crate::volume::Metadata;

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
