//! The acquisition-parameter record of a series, from its first DICOM file.
//!
//! Standard attributes first; where they are missing, the Siemens CSA image header and
//! ASCCONV protocol (`imaging::csa`), then the GE and Philips private equivalents. A
//! parameter no source gives is simply absent (unknown): real-time exports lack some
//! attributes, and a missing one must never fail the check.

use std::collections::BTreeMap;

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use imaging::csa::{self, CsaHeader};
use imaging::DicomFile;
use serde::{Deserialize, Serialize};

use crate::parameter::{Parameter, Value};

/// A file that is not a readable DICOM at all (the only failure of [`AcquisitionRecord::from_dicom`]).
#[derive(Debug, thiserror::Error)]
#[error("not a readable DICOM file: {0}")]
pub struct RecordError(#[from] pub imaging::ImagingError);

/// The acquisition parameters of one series: the known ones only (absent = unknown).
/// Non-identifying by construction: acquisition parameters and the three descriptors,
/// which the console has already cleaned (`imaging::deid`, Clean Descriptors Option).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AcquisitionRecord {
    pub values: BTreeMap<Parameter, Value>,
}

/// Private tags of GE and Philips (their conformance statements).
const GE_LOCATIONS_IN_ACQUISITION: Tag = Tag(0x0021, 0x104F);
const GE_ASSET_R_FACTORS: Tag = Tag(0x0043, 0x1083);
const GE_PULSE_SEQUENCE_NAME: Tag = Tag(0x0019, 0x109C);
const PHILIPS_NUMBER_OF_SLICES: Tag = Tag(0x2001, 0x1018);
const SIEMENS_BANDWIDTH_PER_PIXEL_PE: Tag = Tag(0x0019, 0x1028);

impl AcquisitionRecord {
    /// Reads the record from the bytes of a series' first file. Only a file that does not
    /// parse as DICOM is an error; every missing attribute just leaves its parameter out.
    pub fn from_dicom(bytes: &[u8]) -> Result<AcquisitionRecord, RecordError> {
        let file = imaging::parse(bytes)?;
        Ok(Self::from_file(&file))
    }

    /// As [`AcquisitionRecord::from_dicom`], on a file already parsed.
    pub fn from_file(file: &DicomFile) -> AcquisitionRecord {
        let image = csa::image_header(file)
            .and_then(|h| h.ok())
            .unwrap_or_default();
        let series = csa::series_header(file).and_then(|h| h.ok());
        let protocol = series.as_ref().map(csa::protocol).unwrap_or_default();
        let mut r = AcquisitionRecord::default();
        r.fill_standard(file);
        r.fill_siemens(&image, &protocol);
        r.fill_other_vendors(file);
        r
    }

    pub fn get(&self, p: Parameter) -> Option<&Value> {
        self.values.get(&p)
    }

    /// The text of a parameter (descriptors), if known.
    pub fn text(&self, p: Parameter) -> Option<&str> {
        match self.values.get(&p)? {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    /// Sets `p` unless a preferred source already did.
    fn offer(&mut self, p: Parameter, value: Option<Value>) {
        if let Some(v) = value {
            self.values.entry(p).or_insert(v);
        }
    }

    fn fill_standard(&mut self, file: &DicomFile) {
        let num = |tag| file.f64(tag).filter(|v| v.is_finite()).map(Value::Number);
        let text = |tag| file.str(tag).map(|s| Value::Text(s.into_owned()));
        self.offer(Parameter::TrMs, num(tags::REPETITION_TIME));
        self.offer(Parameter::FlipAngleDeg, num(tags::FLIP_ANGLE));
        let matrix = file.f64s(tags::ACQUISITION_MATRIX).and_then(|m| {
            let nonzero: Vec<String> = m
                .iter()
                .filter(|v| **v > 0.0)
                .map(|v| v.to_string())
                .collect();
            (nonzero.len() == 2).then(|| Value::Text(nonzero.join("x")))
        });
        self.offer(Parameter::Matrix, matrix);
        self.offer(
            Parameter::PixelSpacingMm,
            file.f64s(tags::PIXEL_SPACING).map(Value::Numbers),
        );
        self.offer(Parameter::SliceThicknessMm, num(tags::SLICE_THICKNESS));
        self.offer(
            Parameter::PeAxis,
            text(tags::IN_PLANE_PHASE_ENCODING_DIRECTION),
        );
        self.offer(
            Parameter::ParallelFactor,
            num(tags::PARALLEL_REDUCTION_FACTOR_IN_PLANE),
        );
        self.offer(Parameter::PixelBandwidthHz, num(tags::PIXEL_BANDWIDTH));
        self.offer(Parameter::DurationS, num(tags::ACQUISITION_DURATION));
        self.offer(Parameter::ReceiveCoil, text(tags::RECEIVE_COIL_NAME));
        self.offer(Parameter::SequenceName, text(tags::SEQUENCE_NAME));
        self.offer(Parameter::SequenceVariant, text(tags::SEQUENCE_VARIANT));
        self.offer(Parameter::PulseSequence, text(tags::PULSE_SEQUENCE_NAME));
        self.offer(Parameter::ImageType, text(tags::IMAGE_TYPE));
        self.offer(Parameter::ProtocolName, text(tags::PROTOCOL_NAME));
        self.offer(Parameter::SeriesDescription, text(tags::SERIES_DESCRIPTION));
        self.offer(Parameter::StudyDescription, text(tags::STUDY_DESCRIPTION));
    }

    fn fill_siemens(&mut self, image: &CsaHeader, protocol: &BTreeMap<String, String>) {
        let asc_f64 = |key: &str| {
            protocol
                .get(key)
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite())
        };
        let asc_int = |key: &str| csa::ascconv_int(protocol, key);
        // All echoes of a multi-echo series are in the protocol; the file has its own only.
        let contrasts = asc_int("lContrasts").unwrap_or(1).clamp(1, 32);
        let tes: Vec<f64> = (0..contrasts)
            .map_while(|i| asc_f64(&format!("alTE[{i}]")))
            .map(|us| us / 1000.0)
            .collect();
        if !tes.is_empty() {
            self.values.insert(Parameter::TeMs, Value::Numbers(tes));
        }
        self.offer(
            Parameter::TrMs,
            asc_f64("alTR[0]").map(|us| Value::Number(us / 1000.0)),
        );
        self.offer(
            Parameter::FlipAngleDeg,
            asc_f64("adFlipAngleDegree[0]").map(Value::Number),
        );
        let matrix = asc_int("sKSpace.lBaseResolution")
            .zip(asc_int("sKSpace.lPhaseEncodingLines"))
            .map(|(f, p)| Value::Text(format!("{f}x{p}")));
        self.offer(Parameter::Matrix, matrix);
        self.offer(
            Parameter::SliceThicknessMm,
            asc_f64("sSliceArray.asSlice[0].dThickness").map(Value::Number),
        );
        let slices = asc_f64("sSliceArray.lSize").or_else(|| image.f64("NumberOfImagesInMosaic"));
        self.offer(Parameter::SliceCount, slices.map(Value::Number));
        let fov = asc_f64("sSliceArray.asSlice[0].dReadoutFOV")
            .zip(asc_f64("sSliceArray.asSlice[0].dPhaseFOV"))
            .map(|(r, p)| Value::Numbers(vec![r, p]));
        self.offer(Parameter::FovMm, fov);
        let polarity = image
            .i64("PhaseEncodingDirectionPositive")
            .and_then(|v| match v {
                1 => Some("+"),
                0 => Some("-"),
                _ => None,
            });
        self.offer(
            Parameter::PePolarity,
            polarity.map(|p| Value::Text(p.into())),
        );
        self.offer(
            Parameter::ParallelFactor,
            asc_f64("sPat.lAccelFactPE").map(Value::Number),
        );
        let multiband = asc_f64("sSliceAcceleration.lMultiBandFactor").or_else(|| {
            let text = image.strings("ImaPATModeText")?.first()?;
            Some(imaging::metadata::pat_mode_slice_factor(text).map_or(1.0, f64::from))
        });
        self.offer(Parameter::MultibandFactor, multiband.map(Value::Number));
        self.offer(
            Parameter::PeBandwidthHz,
            image.f64("BandwidthPerPixelPhaseEncode").map(Value::Number),
        );
        self.offer(
            Parameter::DurationS,
            asc_f64("lTotalScanTimeSec").map(Value::Number),
        );
        let coil = image
            .strings("ImaCoilString")
            .and_then(|s| s.first())
            .cloned();
        self.offer(Parameter::ReceiveCoil, coil.map(Value::Text));
        let text = |key: &str| {
            protocol
                .get(key)
                .map(|v| v.trim_matches('"').to_string())
                .filter(|v| !v.is_empty())
        };
        self.offer(
            Parameter::PulseSequence,
            text("tSequenceFileName").map(Value::Text),
        );
        self.offer(
            Parameter::ProtocolName,
            text("tProtocolName").map(Value::Text),
        );
        let mut shim: Vec<f64> = ["X", "Y", "Z"]
            .iter()
            .map_while(|axis| asc_f64(&format!("sGRADSPEC.lOffset{axis}")))
            .collect();
        if shim.len() == 3 {
            let size = asc_int("sGRADSPEC.alShimCurrent.__attribute__.size")
                .unwrap_or(0)
                .clamp(0, 64);
            // ASCCONV leaves out zero entries: an absent index is 0, up to the declared size.
            let higher =
                (0..size).map(|i| asc_f64(&format!("sGRADSPEC.alShimCurrent[{i}]")).unwrap_or(0.0));
            shim.extend(higher);
            self.offer(Parameter::Shim, Some(Value::Numbers(shim)));
        }
    }

    fn fill_other_vendors(&mut self, file: &DicomFile) {
        let num = |tag| file.f64(tag).filter(|v| v.is_finite()).map(Value::Number);
        // The standard TE is the file's own echo: used when no protocol lists them all.
        self.offer(
            Parameter::TeMs,
            file.f64(tags::ECHO_TIME).map(|te| Value::Numbers(vec![te])),
        );
        self.offer(
            Parameter::SliceCount,
            num(GE_LOCATIONS_IN_ACQUISITION).or_else(|| num(PHILIPS_NUMBER_OF_SLICES)),
        );
        self.offer(Parameter::ParallelFactor, num(GE_ASSET_R_FACTORS));
        self.offer(
            Parameter::PeBandwidthHz,
            num(SIEMENS_BANDWIDTH_PER_PIXEL_PE),
        );
        let ge_sequence = file
            .str(GE_PULSE_SEQUENCE_NAME)
            .map(|s| Value::Text(s.into_owned()));
        self.offer(Parameter::PulseSequence, ge_sequence);
        let polarity = imaging::metadata::ge_phase_encoding_positive(file);
        let polarity =
            polarity.map(|positive| Value::Text(if positive { "+" } else { "-" }.into()));
        self.offer(Parameter::PePolarity, polarity);
        let multiband = imaging::metadata::ge_multiband_factor(file);
        self.offer(
            Parameter::MultibandFactor,
            multiband.map(|mb| Value::Number(mb.into())),
        );
    }
}
