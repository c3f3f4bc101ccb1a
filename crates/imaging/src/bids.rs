//! BIDS JSON sidecars with the fields dcm2niix writes for fMRI, in dcm2niix's order.
//!
//! Identifying attributes never reach the sidecar (see `metadata`): this module only
//! writes what the `Volume` carries.

use serde_json::{json, Map, Value};

use crate::metadata::json_number;
use crate::volume::Volume;

/// dcm2niix's key order for the fields we may write; unknown extras follow, then the
/// conversion software. Identifying keys are absent on purpose.
const KEY_ORDER: &[&str] = &[
    "Modality",
    "MagneticFieldStrength",
    "ImagingFrequency",
    "Manufacturer",
    "InternalPulseSequenceName",
    "ManufacturersModelName",
    "BodyPart",
    "PatientPosition",
    "SoftwareVersions",
    "MRAcquisitionType",
    "SeriesDescription",
    "ProtocolName",
    "ScanningSequence",
    "SequenceVariant",
    "PulseSequenceType",
    "ScanOptions",
    "SequenceName",
    "ImageType",
    "ImageTypeText",
    "NonlinearGradientCorrection",
    "SeriesNumber",
    "AcquisitionTime",
    "AcquisitionNumber",
    "SliceThickness",
    "SpacingBetweenSlices",
    "SAR",
    "TablePosition",
    "EchoTime",
    "RepetitionTime",
    "MTState",
    "SpoilingState",
    "FlipAngle",
    "PartialFourier",
    "BaseResolution",
    "ShimSetting",
    "DelayTime",
    "TxRefAmp",
    "PhaseResolution",
    "ReceiveCoilName",
    "ReceiveCoilActiveElements",
    "CoilString",
    "PulseSequenceDetails",
    "CoilCombinationMethod",
    "ConsistencyInfo",
    "MatrixCoilMode",
    "MultibandAccelerationFactor",
    "PercentPhaseFOV",
    "PercentSampling",
    "EchoTrainLength",
    "PartialFourierDirection",
    "PhaseEncodingSteps",
    "FrequencyEncodingSteps",
    "AcquisitionMatrixPE",
    "ReconMatrixPE",
    "BandwidthPerPixelPhaseEncode",
    "ParallelReductionFactorInPlane",
    "ParallelReductionFactorOutOfPlane",
    "EffectiveEchoSpacing",
    "DerivedVendorReportedEchoSpacing",
    "AcquisitionDuration",
    "TotalReadoutTime",
    "PixelBandwidth",
    "DwellTime",
    "PhaseEncodingDirection",
    "SliceTiming",
    "ImageOrientationPatientDICOM",
    "InPlanePhaseEncodingDirectionDICOM",
];

/// The sidecar of a volume (for a run: of its first volume, with the run's TR).
pub fn sidecar(volume: &Volume) -> Value {
    let mut fields = volume.meta.extra.clone();
    for (key, value) in typed_fields(volume) {
        fields.insert(key.to_string(), value);
    }
    let mut out = Map::new();
    for key in KEY_ORDER {
        if let Some(value) = fields.remove(*key) {
            out.insert((*key).to_string(), value);
        }
    }
    // Extras dcm2niix does not write keep the order the converter gave them.
    out.extend(fields);
    out.insert("ConversionSoftware".into(), json!("rtcloud-rs"));
    out.insert(
        "ConversionSoftwareVersion".into(),
        json!(env!("CARGO_PKG_VERSION")),
    );
    Value::Object(out)
}

/// The fields the `Volume` and `Metadata` carry as typed values.
fn typed_fields(volume: &Volume) -> Vec<(&'static str, Value)> {
    let meta = &volume.meta;
    let mut f: Vec<(&'static str, Value)> = Vec::new();
    let mut text = |key, v: &Option<String>| {
        if let Some(v) = v {
            f.push((key, json!(v)));
        }
    };
    text("Modality", &meta.modality);
    text("Manufacturer", &meta.manufacturer);
    text("ManufacturersModelName", &meta.manufacturers_model_name);
    text("SoftwareVersions", &meta.software_versions);
    text("SeriesDescription", &meta.series_description);
    text("ProtocolName", &meta.protocol_name);
    text("PhaseEncodingDirection", &meta.phase_encoding_direction);
    let numbers = [
        ("MagneticFieldStrength", meta.magnetic_field_strength),
        ("EchoTime", meta.echo_time_s.map(|v| round(v, 7))),
        (
            "RepetitionTime",
            meta.sidecar_repetition_time_s
                .or(volume.tr_s)
                .map(|v| round(v, 6)),
        ),
        ("FlipAngle", meta.flip_angle_deg),
    ];
    for (key, v) in numbers {
        if let Some(v) = v.filter(|v| v.is_finite()) {
            f.push((key, json_number(v)));
        }
    }
    if !meta.image_type.is_empty() {
        f.push(("ImageType", json!(meta.image_type)));
    }
    if let Some(n) = meta.series_number {
        f.push(("SeriesNumber", json!(n)));
    }
    if let Some(n) = meta.acquisition_number {
        f.push(("AcquisitionNumber", json!(n)));
    }
    if let Some(t) = volume.acquisition_time_s.and_then(bids_time) {
        f.push(("AcquisitionTime", json!(t)));
    }
    if let Some(mb) = meta.multiband_acceleration_factor {
        f.push(("MultibandAccelerationFactor", json!(mb)));
    }
    if !volume.slice_timing_s.is_empty() {
        let timing: Vec<Value> = volume
            .slice_timing_s
            .iter()
            .map(|&t| json_number(round(t, 6)))
            .collect();
        f.push(("SliceTiming", Value::Array(timing)));
    }
    f
}

/// Rounds away binary noise (0.028000000000000004) so sidecars read like dcm2niix's.
fn round(v: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (v * scale).round() / scale
}

/// Seconds since midnight as BIDS "HH:MM:SS.ffffff".
pub fn bids_time(seconds: f64) -> Option<String> {
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    let micros = (seconds * 1e6).round() as u64;
    let (s, us) = (micros / 1_000_000, micros % 1_000_000);
    Some(format!(
        "{:02}:{:02}:{:02}.{us:06}",
        s / 3600,
        s / 60 % 60,
        s % 60
    ))
}
