//! Volumes from series that store one 2D slice per file (GE, Philips classic, Siemens
//! XA "classic" exports): grouping files into volumes and assembling one volume.
//!
//! The geometry follows dcm2niix: slices end up ascending along the slice normal
//! (row x column cosines), the slice spacing is the distance between the first two
//! slices in instance order, and slice times follow the slices when they are reordered.

use std::collections::BTreeMap;

use dicom_core::Tag;
use dicom_dictionary_std::tags;

use crate::dicom::DicomFile;
use crate::error::{ImagingError, Result};
use crate::geometry::{dot, sub, Vec3};
use crate::volume::{Metadata, Scaling, Volume};

pub(crate) mod frames;
pub(crate) mod stack;
pub(crate) mod timing;

use self::stack::{dcm2niix_scaling, Plane, StackSpec};

/// Positions closer than this (mm, along the normal) are the same slice location.
const SAME_POSITION_MM: f64 = 0.01;

/// What one single-slice file says about where and when its slice is.
#[derive(Debug, Clone)]
pub(crate) struct SliceHeader {
    pub position: Vec3,
    pub spec: StackSpec,
    pub instance: i64,
    pub acquisition_number: Option<i64>,
    pub temporal_position: Option<i64>,
    pub acquisition_time_s: Option<f64>,
}

impl SliceHeader {
    pub fn read(file: &DicomFile) -> Result<SliceHeader> {
        let position = vec3(
            file.require_f64s(tags::IMAGE_POSITION_PATIENT)?,
            "ImagePositionPatient",
        )?;
        let spec = StackSpec::from_attributes(file.dataset(), file.dataset())?;
        Ok(SliceHeader {
            position,
            spec,
            instance: file.i64(tags::INSTANCE_NUMBER).unwrap_or(0),
            acquisition_number: file.i64(tags::ACQUISITION_NUMBER),
            temporal_position: file.i64(tags::TEMPORAL_POSITION_IDENTIFIER),
            acquisition_time_s: file
                .str(tags::ACQUISITION_TIME)
                .and_then(|t| timing::dicom_time_s(&t)),
        })
    }
}

/// The first three values of a position attribute.
pub(crate) fn vec3(values: Vec<f64>, what: &str) -> Result<Vec3> {
    match values[..] {
        [x, y, z, ..] => Ok([x, y, z]),
        _ => Err(ImagingError::Invalid(format!(
            "{what} has {} values, expected 3",
            values.len()
        ))),
    }
}

/// Builds ONE volume from the files of its slices (any order). For streaming: call it
/// as soon as all slices of a volume have arrived.
pub fn volume_from_slices(slices: &[DicomFile]) -> Result<Volume> {
    let first = slices
        .first()
        .ok_or_else(|| ImagingError::Inconsistent("no slice files given for the volume".into()))?;
    let headers = slices
        .iter()
        .map(SliceHeader::read)
        .collect::<Result<Vec<_>>>()?;
    let spec = headers[0].spec;
    for (h, f) in headers.iter().zip(slices) {
        if !h.spec.same_grid(&spec) {
            return Err(ImagingError::Inconsistent(format!(
                "slice instance {} has a different matrix, spacing or orientation than instance {}",
                h.instance, headers[0].instance
            )));
        }
        if f.i64(tags::NUMBER_OF_FRAMES).unwrap_or(1) > 1 {
            return Err(ImagingError::Unsupported(format!(
                "instance {} is a multi-frame file; use volume_from_file for enhanced DICOM",
                h.instance
            )));
        }
    }
    // dcm2niix stacks in instance order and only sorts spatially when that is not sequential.
    let mut order: Vec<usize> = (0..slices.len()).collect();
    order.sort_by_key(|&i| headers[i].instance);
    let normal = spec.normal();
    for pair in order.windows(2) {
        let d = dot(
            sub(headers[pair[1]].position, headers[pair[0]].position),
            normal,
        );
        if d.abs() < SAME_POSITION_MM {
            return Err(ImagingError::Inconsistent(format!(
                "instances {} and {} are at the same slice position: these files hold more than one volume; use convert_series",
                headers[pair[0]].instance, headers[pair[1]].instance
            )));
        }
    }
    let slice_times = slice_times(first, slices, &headers);
    let mut planes = Vec::with_capacity(slices.len());
    for &i in &order {
        let mut samples = frames::single_frame(&slices[i], headers[i].instance)?;
        if timing::ge_pepolar_reversed(&slices[i]) {
            // Stored flipped by the scanner; dcm2niix flips the rows back.
            samples.flip_rows(spec.cols);
        }
        planes.push(Plane {
            position: headers[i].position,
            samples,
            scale: slice_scale(&slices[i]),
            time_s: slice_times.as_ref().map(|t| t[i]),
        });
    }
    let spacing = stack::Spacing::FirstTwo {
        single: single_slice_spacing(first),
    };
    let stacked = stack::assemble(&spec, planes, spacing)?;
    let tr_s = repetition_time_s(first);
    let slice_timing_s = match stacked.slice_times {
        Some(t) if valid_slice_times(&t, tr_s) => t,
        _ => Vec::new(),
    };
    let meta = classic_metadata(first, &slice_timing_s, tr_s);
    let acquisition_time_s = headers
        .iter()
        .filter_map(|h| h.acquisition_time_s)
        .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.min(t))));
    Ok(Volume {
        voxels: stacked.voxels,
        scaling: stacked.scaling,
        affine: stacked.affine,
        voxel_size: stacked.voxel_size,
        tr_s,
        slice_timing_s,
        acquisition_time_s,
        meta,
    })
}

/// The common metadata plus what dcm2niix derives for single-slice series: phase
/// encoding (GE polarity flags, Siemens XA PhaseEncodingDirectionPositive), the
/// multiband factor (GE HyperBand tags, Siemens PATModeText or simultaneous slice
/// times) and, for GE multi-phase EPI, the sidecar TR with the delay between phases.
fn classic_metadata(first: &DicomFile, slice_timing_s: &[f64], tr_s: Option<f64>) -> Metadata {
    let mut meta = crate::metadata::from_dicom(first);
    let two_d = first
        .str(tags::MR_ACQUISITION_TYPE)
        .is_none_or(|t| t != "3D");
    let positive = if manufacturer_contains(first, "GE") {
        timing::ge_phase_positive(first)
    } else if manufacturer_contains(first, "SIEMENS") {
        first.i64(SIEMENS_PHASE_POSITIVE).map(|p| p == 1)
    } else {
        None
    };
    if two_d {
        meta.phase_encoding_direction = first
            .str(tags::IN_PLANE_PHASE_ENCODING_DIRECTION)
            .and_then(|axis| crate::metadata::phase_encoding_direction(&axis, positive));
    }
    let declared = if manufacturer_contains(first, "GE") {
        timing::ge_multiband(first)
    } else {
        first
            .str(SIEMENS_PAT_MODE)
            .and_then(|t| crate::metadata::pat_mode_slice_factor(&t))
    };
    meta.multiband_acceleration_factor = declared.max(timing::multiband_from_times(slice_timing_s));
    if let (Some(tr), Some(delay)) = (tr_s, timing::ge_multiphase_delay_s(first)) {
        meta.sidecar_repetition_time_s = Some(tr + delay);
    }
    meta
}

/// Siemens PhaseEncodingDirectionPositive and PATModeText outside the CSA header (XA).
const SIEMENS_PHASE_POSITIVE: Tag = Tag(0x0021, 0x111C);
const SIEMENS_PAT_MODE: Tag = Tag(0x0021, 0x1009);

/// A derived diffusion image (isotropic trace or ADC) that scanners, Philips above all,
/// append to a DTI series: b > 0 with no gradient direction. dcm2niix drops them from
/// the run.
pub(crate) fn is_derived_diffusion(
    b_value: Option<f64>,
    direction: Option<&[f64]>,
    directionality: Option<&str>,
) -> bool {
    let weighted = b_value.is_some_and(|b| b > 0.0);
    let no_direction = direction.is_some_and(|d| d.iter().all(|&v| v == 0.0));
    let isotropic = directionality.is_some_and(|d| d.trim().eq_ignore_ascii_case("ISOTROPIC"));
    weighted && (no_direction || isotropic)
}

/// Whether a classic (single-slice) file is a derived diffusion image; see
/// [`is_derived_diffusion`]. Reads the standard attributes and Philips' private ones
/// (b-value (2001,1003), gradient (2005,10B0..10B2)).
pub(crate) fn is_derived_diffusion_file(file: &DicomFile) -> bool {
    let b = file.f64(tags::DIFFUSION_B_VALUE).or_else(|| {
        is_philips(file)
            .then(|| file.f64(Tag(0x2001, 0x1003)))
            .flatten()
    });
    let direction = file.f64s(tags::DIFFUSION_GRADIENT_ORIENTATION).or_else(|| {
        is_philips(file)
            .then(|| {
                [0x10B0, 0x10B1, 0x10B2]
                    .iter()
                    .map(|&e| file.f64(Tag(0x2005, e)))
                    .collect::<Option<Vec<f64>>>()
            })
            .flatten()
    });
    let directionality = file.str(tags::DIFFUSION_DIRECTIONALITY);
    is_derived_diffusion(b, direction.as_deref(), directionality.as_deref())
}

/// The spacing dcm2niix uses for a one-slice volume (no second position to measure).
pub(crate) fn single_slice_spacing(file: &DicomFile) -> f64 {
    file.f64(tags::SPACING_BETWEEN_SLICES)
        .or_else(|| file.f64(tags::SLICE_THICKNESS))
        .filter(|v| *v > 0.0)
        .unwrap_or(1.0)
}

/// Intensity scaling of one classic slice, Philips "precise" values when present.
fn slice_scale(file: &DicomFile) -> Scaling {
    let slope = file.f64(tags::RESCALE_SLOPE).unwrap_or(1.0);
    let intercept = file.f64(tags::RESCALE_INTERCEPT).unwrap_or(0.0);
    let philips_scale = if is_philips(file) {
        file.f64(Tag(0x2005, 0x100E))
    } else {
        None
    };
    dcm2niix_scaling(slope, intercept, philips_scale)
}

pub(crate) fn is_philips(file: &DicomFile) -> bool {
    manufacturer_contains(file, "PHILIPS")
}

pub(crate) fn manufacturer_contains(file: &DicomFile, what: &str) -> bool {
    file.str(tags::MANUFACTURER)
        .is_some_and(|m| m.to_ascii_uppercase().contains(what))
}

/// The NIfTI TR in seconds; GE epiRT adds its group delay (0043,107C) as dcm2niix
/// does. (GE multi-phase delays go only into the sidecar: see `classic_metadata`.)
pub(crate) fn repetition_time_s(file: &DicomFile) -> Option<f64> {
    let tr_ms = file.f64(tags::REPETITION_TIME)?;
    let mut tr = tr_ms / 1000.0;
    if manufacturer_contains(file, "GE") {
        if let Some(delay) = file.f64(Tag(0x0043, 0x107C)).filter(|d| *d > 0.0) {
            tr += delay;
        }
    }
    (tr > 0.0).then_some(tr)
}

/// Per-slice acquisition onsets (seconds, any origin), indexed like `slices`.
fn slice_times(
    first: &DicomFile,
    slices: &[DicomFile],
    headers: &[SliceHeader],
) -> Option<Vec<f64>> {
    if is_philips(first) {
        // Philips classic DICOM carries no usable slice timing (dcm2niix writes none).
        return None;
    }
    if manufacturer_contains(first, "GE") {
        return timing::ge_slice_times(first, headers);
    }
    if manufacturer_contains(first, "SIEMENS") {
        // XA: TimeAfterStart (0021,1104); older 2D: AcquisitionTime of each slice.
        let after_start: Option<Vec<f64>> =
            slices.iter().map(|f| f.f64(Tag(0x0021, 0x1104))).collect();
        return after_start.or_else(|| headers.iter().map(|h| h.acquisition_time_s).collect());
    }
    None
}

/// Slice times relative to the earliest, kept only when they vary and fit in one TR.
pub(crate) fn valid_slice_times(times: &[f64], tr_s: Option<f64>) -> bool {
    let max = times.iter().copied().fold(f64::MIN, f64::max);
    let min = times.iter().copied().fold(f64::MAX, f64::min);
    times.len() > 1 && max > min && min >= 0.0 && tr_s.is_none_or(|tr| max <= tr + 1e-6)
}

/// Splits the single-slice files of ONE series into volumes, in acquisition order.
///
/// Files must already be deduplicated and sorted like dcm2niix (series number, then
/// instance number: [`crate::convert::in_series_order`]). The temporal key is the first of TemporalPositionIdentifier and
/// AcquisitionNumber that gives every volume the same set of slice positions; without
/// one, the n-th file at a position belongs to volume n (works for XYZT and TXYZ order).
pub fn group_into_volumes(files: Vec<DicomFile>) -> Result<Vec<Vec<DicomFile>>> {
    let headers = files
        .iter()
        .map(SliceHeader::read)
        .collect::<Result<Vec<_>>>()?;
    let Some(first) = headers.first() else {
        return Ok(Vec::new());
    };
    let normal = first.spec.normal();
    let location = |h: &SliceHeader| (dot(h.position, normal) / SAME_POSITION_MM).round() as i64;
    let mut distinct: Vec<i64> = headers.iter().map(location).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let n_slices = distinct.len();
    let keys: [fn(&SliceHeader) -> Option<i64>; 2] =
        [|h| h.temporal_position, |h| h.acquisition_number];
    let mut volume_of: Option<Vec<i64>> = None;
    for key in keys {
        let values: Option<Vec<i64>> = headers.iter().map(key).collect();
        if let Some(values) = values {
            let mut count: BTreeMap<i64, usize> = BTreeMap::new();
            for v in &values {
                *count.entry(*v).or_default() += 1;
            }
            if count.len() > 1 && count.values().all(|&c| c == n_slices) {
                volume_of = Some(values);
                break;
            }
        }
    }
    let volume_of = volume_of.unwrap_or_else(|| {
        let mut seen: BTreeMap<i64, i64> = BTreeMap::new();
        headers
            .iter()
            .map(|h| {
                let n = seen.entry(location(h)).or_default();
                *n += 1;
                *n
            })
            .collect()
    });
    let mut volumes: BTreeMap<i64, Vec<DicomFile>> = BTreeMap::new();
    for (file, v) in files.into_iter().zip(volume_of) {
        volumes.entry(v).or_default().push(file);
    }
    let volumes: Vec<Vec<DicomFile>> = volumes.into_values().collect();
    if let Some(short) = volumes.iter().position(|v| v.len() != n_slices) {
        tracing::warn!(
            volume = short,
            slices = volumes[short].len(),
            expected = n_slices,
            "incomplete volume in single-slice series"
        );
    }
    Ok(volumes)
}

#[cfg(test)]
mod tests {
    use super::stack::Samples;
    use super::*;

    #[test]
    fn derived_diffusion_means_weighted_without_direction() {
        assert!(is_derived_diffusion(
            Some(1000.0),
            Some(&[0.0, 0.0, 0.0]),
            None
        ));
        assert!(is_derived_diffusion(Some(1000.0), None, Some("ISOTROPIC")));
        assert!(!is_derived_diffusion(
            Some(1000.0),
            Some(&[0.0, 1.0, 0.0]),
            None
        ));
        assert!(!is_derived_diffusion(
            Some(0.0),
            Some(&[0.0, 0.0, 0.0]),
            None
        ));
        assert!(!is_derived_diffusion(None, None, None));
    }

    #[test]
    fn flipping_rows_reverses_them_and_keeps_each_row() {
        let mut plane = Samples::I16(vec![1, 2, 3, 4, 5, 6]);
        plane.flip_rows(2);
        assert_eq!(plane, Samples::I16(vec![5, 6, 3, 4, 1, 2]));
        let mut even = Samples::U16(vec![1, 2, 3, 4]);
        even.flip_rows(2);
        assert_eq!(even, Samples::U16(vec![3, 4, 1, 2]));
    }
}
