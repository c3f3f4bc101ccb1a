//! The acquisition parameters QA compares, their values, tolerances and verdicts.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One acquisition parameter. Where each comes from is documented on the variant (DICOM
/// keyword first, then the vendor fallbacks); units are in the key's suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Parameter {
    /// RepetitionTime (0018,0080), ms; Siemens ASCCONV `alTR[0]` (µs).
    TrMs,
    /// Every echo time, ms: Siemens ASCCONV `alTE[0..lContrasts]` (µs), else EchoTime
    /// (0018,0081) of the file. Compared as a set (multi-echo).
    TeMs,
    /// FlipAngle (0018,1314), degrees; ASCCONV `adFlipAngleDegree[0]`.
    FlipAngleDeg,
    /// Acquired matrix "frequency x phase": the non-zero AcquisitionMatrix (0018,1310)
    /// values; ASCCONV `sKSpace.lBaseResolution` x `lPhaseEncodingLines`.
    Matrix,
    /// PixelSpacing (0028,0030), mm (row, column).
    PixelSpacingMm,
    /// SliceThickness (0018,0050), mm; ASCCONV `sSliceArray.asSlice[0].dThickness`.
    SliceThicknessMm,
    /// Slices per volume: Siemens ASCCONV `sSliceArray.lSize` or CSA
    /// `NumberOfImagesInMosaic`, GE (0021,104F) LocationsInAcquisition, Philips
    /// (2001,1018) NumberOfSlicesMR.
    SliceCount,
    /// Field of view (readout, phase), mm: ASCCONV `sSliceArray.asSlice[0].dReadoutFOV`
    /// and `dPhaseFOV`.
    FovMm,
    /// InPlanePhaseEncodingDirection (0018,1312): ROW or COL.
    PeAxis,
    /// Phase-encoding polarity, "+" or "-": Siemens CSA `PhaseEncodingDirectionPositive`,
    /// else GE's RectilinearPhaseEncodeReordering (0018,9034) or raw header flags, by
    /// dcm2niix's rules (`imaging::metadata::ge_phase_encoding_positive`).
    PePolarity,
    /// In-plane parallel imaging factor: ParallelReductionFactorInPlane (0018,9069);
    /// ASCCONV `sPat.lAccelFactPE`; GE (0043,1083) ASSET R factor (its first value).
    ParallelFactor,
    /// Multiband (slice acceleration) factor: ASCCONV
    /// `sSliceAcceleration.lMultiBandFactor`, else the `s` of CSA `ImaPATModeText`
    /// ("p2s3" = 3; a text without `s` = 1); GE (0043,10B6) or MBACCEL.
    MultibandFactor,
    /// PixelBandwidth (0018,0095), Hz per pixel (readout).
    PixelBandwidthHz,
    /// Bandwidth per pixel in the phase-encoding direction, Hz: Siemens CSA
    /// `BandwidthPerPixelPhaseEncode` (or (0019,1028)).
    PeBandwidthHz,
    /// Acquisition duration, s: AcquisitionDuration (0018,9073); ASCCONV
    /// `lTotalScanTimeSec`.
    DurationS,
    /// ReceiveCoilName (0018,1250); Siemens CSA `ImaCoilString`.
    ReceiveCoil,
    /// SequenceName (0018,0024).
    SequenceName,
    /// SequenceVariant (0018,0021), values joined with '\'.
    SequenceVariant,
    /// The pulse sequence program: PulseSequenceName (0018,9005); Siemens ASCCONV
    /// `tSequenceFileName`; GE (0019,109C).
    PulseSequence,
    /// ImageType (0008,0008), values joined with '\'.
    ImageType,
    /// Shim settings: Siemens ASCCONV `sGRADSPEC.lOffsetX/Y/Z` (first order) then
    /// `sGRADSPEC.alShimCurrent[*]` (higher order), in the scanner's units.
    Shim,
    /// ProtocolName (0018,1030); ASCCONV `tProtocolName`. Shown, not judged.
    ProtocolName,
    /// SeriesDescription (0008,103E). Part of the template key, shown, not judged.
    SeriesDescription,
    /// StudyDescription (0008,1030). Part of the template key, shown, not judged.
    StudyDescription,
}

impl Parameter {
    /// Every parameter, in the order tables show them.
    pub const ALL: [Parameter; 24] = [
        Parameter::TrMs,
        Parameter::TeMs,
        Parameter::FlipAngleDeg,
        Parameter::Matrix,
        Parameter::PixelSpacingMm,
        Parameter::SliceThicknessMm,
        Parameter::SliceCount,
        Parameter::FovMm,
        Parameter::PeAxis,
        Parameter::PePolarity,
        Parameter::ParallelFactor,
        Parameter::MultibandFactor,
        Parameter::PixelBandwidthHz,
        Parameter::PeBandwidthHz,
        Parameter::DurationS,
        Parameter::ReceiveCoil,
        Parameter::SequenceName,
        Parameter::SequenceVariant,
        Parameter::PulseSequence,
        Parameter::ImageType,
        Parameter::Shim,
        Parameter::ProtocolName,
        Parameter::SeriesDescription,
        Parameter::StudyDescription,
    ];

    /// The stable name used on the command line, in the store and on the wire.
    pub fn key(self) -> &'static str {
        match self {
            Parameter::TrMs => "tr_ms",
            Parameter::TeMs => "te_ms",
            Parameter::FlipAngleDeg => "flip_angle_deg",
            Parameter::Matrix => "matrix",
            Parameter::PixelSpacingMm => "pixel_spacing_mm",
            Parameter::SliceThicknessMm => "slice_thickness_mm",
            Parameter::SliceCount => "slice_count",
            Parameter::FovMm => "fov_mm",
            Parameter::PeAxis => "pe_axis",
            Parameter::PePolarity => "pe_polarity",
            Parameter::ParallelFactor => "parallel_factor",
            Parameter::MultibandFactor => "multiband_factor",
            Parameter::PixelBandwidthHz => "pixel_bandwidth_hz",
            Parameter::PeBandwidthHz => "pe_bandwidth_hz",
            Parameter::DurationS => "duration_s",
            Parameter::ReceiveCoil => "receive_coil",
            Parameter::SequenceName => "sequence_name",
            Parameter::SequenceVariant => "sequence_variant",
            Parameter::PulseSequence => "pulse_sequence",
            Parameter::ImageType => "image_type",
            Parameter::Shim => "shim",
            Parameter::ProtocolName => "protocol_name",
            Parameter::SeriesDescription => "series_description",
            Parameter::StudyDescription => "study_description",
        }
    }

    /// The tolerance a learned template starts with. Why each: TR, flip angle, sizes and
    /// bandwidths are typed on the console, so only rounding may differ (the console
    /// shows TR and TE to 0.01 ms, flip to 1 degree, bandwidth to 1 Hz); the duration
    /// is shown in whole seconds; shims are re-adjusted for every head position, and
    /// two series of one session 3 minutes apart differed by up to 7 units here
    /// (testdata siemens-mosaic-d13), while a failed or skipped shim is off by tens.
    pub fn default_tolerance(self) -> Tolerance {
        match self {
            Parameter::TrMs | Parameter::PixelBandwidthHz => Tolerance::Within(0.5),
            Parameter::TeMs => Tolerance::Overlap(0.005),
            Parameter::FlipAngleDeg => Tolerance::Within(0.5),
            Parameter::PixelSpacingMm | Parameter::SliceThicknessMm => Tolerance::Within(0.001),
            Parameter::FovMm => Tolerance::Within(0.5),
            Parameter::PeBandwidthHz => Tolerance::Within(0.01),
            Parameter::DurationS => Tolerance::Within(1.0),
            Parameter::Shim => Tolerance::Within(10.0),
            Parameter::ProtocolName
            | Parameter::SeriesDescription
            | Parameter::StudyDescription => Tolerance::Shown,
            _ => Tolerance::Exact,
        }
    }
}

impl fmt::Display for Parameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl FromStr for Parameter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Parameter::ALL
            .into_iter()
            .find(|p| p.key() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Parameter::ALL.iter().map(|p| p.key()).collect();
                format!("unknown parameter {s:?}; known: {}", known.join(", "))
            })
    }
}

/// A parameter's value: a number, several numbers (TE per echo, pixel spacing, shims)
/// or text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Number(f64),
    Numbers(Vec<f64>),
    Text(String),
}

impl Value {
    /// The numbers of a value (one for `Number`), `None` for text.
    pub fn numbers(&self) -> Option<Vec<f64>> {
        match self {
            Value::Number(v) => Some(vec![*v]),
            Value::Numbers(v) => Some(v.clone()),
            Value::Text(_) => None,
        }
    }

    /// Parses what a user types for `parameter` (`qa set`): numbers separated by ','
    /// for the numeric ones, text as given otherwise.
    pub fn parse_for(parameter: Parameter, text: &str) -> Result<Value, String> {
        let numeric = !matches!(
            parameter.default_tolerance(),
            Tolerance::Exact | Tolerance::Shown
        ) || matches!(
            parameter,
            Parameter::SliceCount | Parameter::ParallelFactor | Parameter::MultibandFactor
        );
        if !numeric {
            return Ok(Value::Text(text.to_string()));
        }
        let numbers = text
            .split(',')
            .map(|n| n.trim().parse::<f64>())
            .collect::<Result<Vec<f64>, _>>()
            .map_err(|_| format!("{parameter} takes numbers separated by ',', not {text:?}"))?;
        Ok(match numbers.as_slice() {
            [one] if !matches!(parameter, Parameter::TeMs) => Value::Number(*one),
            _ => Value::Numbers(numbers),
        })
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number(v) => write!(f, "{v}"),
            Value::Numbers(v) => {
                let parts: Vec<String> = v.iter().map(|x| x.to_string()).collect();
                f.write_str(&parts.join(", "))
            }
            Value::Text(t) => f.write_str(t),
        }
    }
}

/// How a series' value is compared with the template's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tolerance {
    /// Equal (text, or numbers exactly).
    Exact,
    /// Every number within ± this (same count of numbers).
    Within(f64),
    /// Sets of numbers (multi-echo TE) matched within ± this: all matched is green, some
    /// matched amber, none red.
    Overlap(f64),
    /// Shown for reference, never judged (the descriptors that key the template).
    Shown,
}

impl fmt::Display for Tolerance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tolerance::Exact => f.write_str("exact"),
            Tolerance::Within(t) => write!(f, "±{t}"),
            Tolerance::Overlap(t) => write!(f, "overlap±{t}"),
            Tolerance::Shown => f.write_str("shown"),
        }
    }
}

impl FromStr for Tolerance {
    type Err = String;

    /// `exact`, `shown`, `±0.5` (or `+-0.5`), `overlap±0.1` (or `overlap+-0.1`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let amount = |rest: &str| {
            let rest = rest.strip_prefix('±').or_else(|| rest.strip_prefix("+-"))?;
            rest.trim().parse::<f64>().ok().filter(|t| *t >= 0.0)
        };
        let bad = || format!("tolerance {s:?}: use exact, shown, ±N or overlap±N (N >= 0)");
        match s {
            "exact" => Ok(Tolerance::Exact),
            "shown" => Ok(Tolerance::Shown),
            _ => match s.strip_prefix("overlap") {
                Some(rest) => amount(rest).map(Tolerance::Overlap).ok_or_else(bad),
                None => amount(s).map(Tolerance::Within).ok_or_else(bad),
            },
        }
    }
}

/// The verdict on one parameter (or, the worst of them, on a series).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Matches the template within its tolerance (or only shown).
    Green,
    /// Cannot be told: unknown in the series or the template (not both: a parameter the
    /// template's files did not give either matches), no template at all, or a
    /// multi-echo TE set that only partly matches.
    Amber,
    /// Differs from the template beyond its tolerance.
    Red,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Green => "green",
            Verdict::Amber => "amber",
            Verdict::Red => "red",
        }
    }
}

/// Judges one parameter: `series` and `template` are the two values (`None` = unknown).
pub fn judge(tolerance: Tolerance, series: Option<&Value>, template: Option<&Value>) -> Verdict {
    if tolerance == Tolerance::Shown {
        return Verdict::Green;
    }
    let (series, template) = match (series, template) {
        (Some(s), Some(t)) => (s, t),
        // The template learned that this protocol's files do not say: neither does this.
        (None, None) => return Verdict::Green,
        _ => return Verdict::Amber,
    };
    let close = |a: f64, b: f64, t: f64| (a - b).abs() <= t + 1e-9 * a.abs().max(b.abs());
    match tolerance {
        Tolerance::Exact => match (series.numbers(), template.numbers()) {
            (Some(a), Some(b)) => green_if(a == b),
            _ => green_if(series == template),
        },
        Tolerance::Within(t) => match (series.numbers(), template.numbers()) {
            (Some(a), Some(b)) => {
                green_if(a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| close(*x, *y, t)))
            }
            _ => green_if(series == template),
        },
        Tolerance::Overlap(t) => {
            let (Some(a), Some(b)) = (series.numbers(), template.numbers()) else {
                return green_if(series == template);
            };
            let matched = a
                .iter()
                .filter(|x| b.iter().any(|y| close(**x, *y, t)))
                .count();
            if matched == a.len() && a.len() == b.len() {
                Verdict::Green
            } else if matched > 0 {
                Verdict::Amber
            } else {
                Verdict::Red
            }
        }
        Tolerance::Shown => Verdict::Green,
    }
}

fn green_if(ok: bool) -> Verdict {
    if ok {
        Verdict::Green
    } else {
        Verdict::Red
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_tolerances_parse() {
        for p in Parameter::ALL {
            assert_eq!(p.key().parse::<Parameter>(), Ok(p));
            let t = p.default_tolerance();
            assert_eq!(t.to_string().parse::<Tolerance>(), Ok(t), "{p}");
        }
        assert_eq!("+-2".parse::<Tolerance>(), Ok(Tolerance::Within(2.0)));
        assert!("±-1".parse::<Tolerance>().is_err());
        assert!("about".parse::<Tolerance>().is_err());
        assert!("tr".parse::<Parameter>().is_err());
    }

    #[test]
    fn verdicts_follow_the_tolerance() {
        let n = |v: &[f64]| Value::Numbers(v.to_vec());
        let within = Tolerance::Within(0.5);
        assert_eq!(
            judge(
                within,
                Some(&Value::Number(2000.4)),
                Some(&Value::Number(2000.0))
            ),
            Verdict::Green
        );
        assert_eq!(
            judge(
                within,
                Some(&Value::Number(2001.0)),
                Some(&Value::Number(2000.0))
            ),
            Verdict::Red
        );
        assert_eq!(
            judge(within, None, Some(&Value::Number(2000.0))),
            Verdict::Amber
        );
        assert_eq!(
            judge(within, Some(&Value::Number(2000.0)), None),
            Verdict::Amber
        );
        assert_eq!(judge(within, None, None), Verdict::Green);
        assert_eq!(
            judge(within, Some(&n(&[1.0, 2.0])), Some(&n(&[1.0]))),
            Verdict::Red
        );
        let overlap = Tolerance::Overlap(0.01);
        assert_eq!(
            judge(overlap, Some(&n(&[14.0, 30.0])), Some(&n(&[14.0, 30.0]))),
            Verdict::Green
        );
        assert_eq!(
            judge(overlap, Some(&n(&[14.0, 38.0])), Some(&n(&[14.0, 30.0]))),
            Verdict::Amber
        );
        assert_eq!(
            judge(overlap, Some(&n(&[34.0])), Some(&n(&[30.0]))),
            Verdict::Red
        );
        let text = |t: &str| Value::Text(t.to_string());
        assert_eq!(
            judge(Tolerance::Exact, Some(&text("COL")), Some(&text("ROW"))),
            Verdict::Red
        );
        assert_eq!(
            judge(Tolerance::Shown, Some(&text("a")), Some(&text("b"))),
            Verdict::Green
        );
    }

    #[test]
    fn values_parse_as_typed() {
        assert_eq!(
            Value::parse_for(Parameter::TrMs, "2000"),
            Ok(Value::Number(2000.0))
        );
        assert_eq!(
            Value::parse_for(Parameter::TeMs, "14, 30"),
            Ok(Value::Numbers(vec![14.0, 30.0]))
        );
        assert_eq!(
            Value::parse_for(Parameter::PeAxis, "COL"),
            Ok(Value::Text("COL".into()))
        );
        assert!(Value::parse_for(Parameter::SliceCount, "many").is_err());
    }
}
