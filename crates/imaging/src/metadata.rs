//! The common metadata filler: the standard DICOM attributes every converter shares.
//!
//! Converters call [`from_dicom`] on the first file of a volume and then add what only
//! they know (slice timing, phase encoding, multiband factor).
//!
//! Privacy first: attributes that identify a site, a device or a person
//! (InstitutionName, InstitutionAddress, StationName, DeviceSerialNumber,
//! StudyDescription, ProcedureStepDescription, patient attributes) are deliberately
//! never copied, although dcm2niix writes some of them. Sidecars leave the scanner room.

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use serde_json::{json, Map, Value};

use crate::dicom::DicomFile;
use crate::volume::Metadata;

/// Fills the generic sidecar attributes of `file`; absent attributes stay `None`.
pub fn from_dicom(file: &DicomFile) -> Metadata {
    let text = |tag: Tag| file.str(tag).map(|s| s.into_owned());
    Metadata {
        modality: text(tags::MODALITY),
        manufacturer: text(tags::MANUFACTURER).map(|m| normalize_manufacturer(&m)),
        manufacturers_model_name: text(tags::MANUFACTURER_MODEL_NAME),
        software_versions: text(tags::SOFTWARE_VERSIONS),
        magnetic_field_strength: file.f64(tags::MAGNETIC_FIELD_STRENGTH),
        series_description: text(tags::SERIES_DESCRIPTION),
        protocol_name: text(tags::PROTOCOL_NAME),
        image_type: text(tags::IMAGE_TYPE)
            .map(|t| image_type(&t))
            .unwrap_or_default(),
        series_number: file.i64(tags::SERIES_NUMBER),
        acquisition_number: file.i64(tags::ACQUISITION_NUMBER),
        instance_number: file.i64(tags::INSTANCE_NUMBER),
        series_instance_uid: text(tags::SERIES_INSTANCE_UID),
        study_instance_uid: text(tags::STUDY_INSTANCE_UID),
        // DICOM stores milliseconds, BIDS wants seconds.
        echo_time_s: file.f64(tags::ECHO_TIME).map(|ms| ms / 1000.0),
        flip_angle_deg: file.f64(tags::FLIP_ANGLE),
        extra: extra_fields(file),
        ..Default::default()
    }
}

/// dcm2niix's short vendor names, so sidecars compare equal across tools.
pub fn normalize_manufacturer(raw: &str) -> String {
    let upper = raw.to_ascii_uppercase();
    let known = [
        ("SIEMENS", "Siemens"),
        ("GE", "GE"),
        ("PHILIPS", "Philips"),
        ("TOSHIBA", "Canon"),
        ("CANON", "Canon"),
        ("HITACHI", "Hitachi"),
        ("UIH", "UIH"),
        ("UNITED IMAGING", "UIH"),
        ("BRUKER", "Bruker"),
        ("MEDISO", "Mediso"),
    ];
    known
        .iter()
        .find(|(prefix, _)| upper.starts_with(prefix))
        .map(|(_, name)| (*name).to_string())
        .unwrap_or_else(|| raw.trim().to_string())
}

/// Splits ImageType on '\' (and '_') and, like dcm2niix, ends it with the complex component
/// (MAGNITUDE, PHASE, REAL or IMAGINARY) when the values do not already say it.
pub fn image_type(raw: &str) -> Vec<String> {
    // dcm2niix also breaks values at '_' ("ECHO_00" becomes "ECHO", "00").
    let mut values: Vec<String> = raw
        .split(['\\', '_'])
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    let has = |names: &[&str]| values.iter().any(|v| names.contains(&v.as_str()));
    let component = if has(&["P", "PHASE"]) {
        "PHASE"
    } else if has(&["R", "REAL"]) {
        "REAL"
    } else if has(&["I", "IMAGINARY"]) {
        "IMAGINARY"
    } else {
        "MAGNITUDE"
    };
    if values.last().map(String::as_str) != Some(component) {
        values.push(component.to_string());
    }
    values
}

/// Further non-identifying fields dcm2niix writes for fMRI, keyed by their BIDS names.
fn extra_fields(file: &DicomFile) -> Map<String, Value> {
    let mut extra = Map::new();
    let number = |tag: Tag| file.f64(tag).filter(|v| v.is_finite());
    let text = |tag: Tag| file.str(tag).map(|s| s.into_owned());
    if let Some(v) = number(tags::IMAGING_FREQUENCY) {
        extra.insert("ImagingFrequency".into(), json!(v));
    }
    if let Some(v) = text(tags::BODY_PART_EXAMINED) {
        extra.insert("BodyPart".into(), json!(v));
    }
    if let Some(v) = text(tags::PATIENT_POSITION) {
        extra.insert("PatientPosition".into(), json!(v));
    }
    if let Some(v) = text(tags::MR_ACQUISITION_TYPE) {
        extra.insert("MRAcquisitionType".into(), json!(v));
    }
    for (tag, key) in [
        (tags::SCANNING_SEQUENCE, "ScanningSequence"),
        (tags::SEQUENCE_VARIANT, "SequenceVariant"),
        (tags::SCAN_OPTIONS, "ScanOptions"),
        (tags::SEQUENCE_NAME, "SequenceName"),
    ] {
        if let Some(v) = text(tag) {
            extra.insert(key.into(), json!(v));
        }
    }
    for (tag, key) in [
        (tags::SLICE_THICKNESS, "SliceThickness"),
        (tags::SPACING_BETWEEN_SLICES, "SpacingBetweenSlices"),
        (tags::SAR, "SAR"),
        (tags::ECHO_TRAIN_LENGTH, "EchoTrainLength"),
        (tags::PIXEL_BANDWIDTH, "PixelBandwidth"),
    ] {
        if let Some(v) = number(tag) {
            extra.insert(key.into(), json_number(v));
        }
    }
    if let Some(v) = text(tags::RECEIVE_COIL_NAME) {
        extra.insert("ReceiveCoilName".into(), json!(v));
    }
    extra
}

/// Whole numbers as JSON integers (dcm2niix writes `4`, not `4.0`).
pub fn json_number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

/// BIDS PhaseEncodingDirection from InPlanePhaseEncodingDirection ("ROW"/"COL"/"COLUMN")
/// and the vendor's polarity (Siemens PhaseEncodingDirectionPositive, GE's flags), as
/// dcm2niix writes it: NIfTI j runs against DICOM rows (rows are flipped), so a positive
/// column direction is "j-". `None` unless both axis and polarity are known (dcm2niix
/// then writes only PhaseEncodingAxis).
pub fn phase_encoding_direction(axis: &str, positive: Option<bool>) -> Option<String> {
    let positive = positive?;
    let direction = match (axis.trim().chars().next()?, positive) {
        ('R', true) => "i",
        ('R', false) => "i-",
        ('C', true) => "j-",
        ('C', false) => "j",
        _ => return None,
    };
    Some(direction.to_string())
}

/// GE phase-encoding polarity (true: positive), by dcm2niix's rules
/// (RectilinearPhaseEncodeReordering (0018,9034), else the raw header's EPI flags;
/// reversed epi_pepolar volumes inverted). `None` when the file does not say.
pub fn ge_phase_encoding_positive(file: &DicomFile) -> Option<bool> {
    crate::slices::timing::ge_phase_positive(file)
}

/// GE multiband (HyperBand) factor when above 1: (0043,10B6) or the protocol block's
/// MBACCEL, as dcm2niix reads them.
pub fn ge_multiband_factor(file: &DicomFile) -> Option<u32> {
    crate::slices::timing::ge_multiband(file)
}

/// The slice (multiband) acceleration of a Siemens PATModeText such as "p2s3" (the digits
/// after 's'), when above 1.
pub fn pat_mode_slice_factor(text: &str) -> Option<u32> {
    let after = &text[text.find('s')? + 1..];
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse::<u32>().ok().filter(|&mb| mb > 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_encoding_follows_dcm2niix_row_flip() {
        let cases = [
            ("COL", Some(true), Some("j-")),
            ("COLUMN", Some(false), Some("j")),
            ("ROW", Some(true), Some("i")),
            ("ROW", Some(false), Some("i-")),
            ("COL", None, None),
            ("OTHER", Some(true), None),
        ];
        for (axis, positive, want) in cases {
            let got = phase_encoding_direction(axis, positive);
            assert_eq!(got.as_deref(), want, "{axis} {positive:?}");
        }
    }

    #[test]
    fn pat_mode_gives_the_slice_factor() {
        assert_eq!(pat_mode_slice_factor("p2s3"), Some(3));
        assert_eq!(pat_mode_slice_factor("s4"), Some(4));
        assert_eq!(pat_mode_slice_factor("p3"), None);
        assert_eq!(pat_mode_slice_factor("p2s1"), None);
    }
}
