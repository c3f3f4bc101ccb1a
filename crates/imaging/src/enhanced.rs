//! Enhanced multi-frame DICOM (Siemens XA, Philips enhanced): every frame is a slice,
//! described by per-frame and shared functional groups. One file usually holds one
//! volume (Siemens XA fMRI); files holding several time points give several volumes.

use std::collections::BTreeMap;

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::dicom::{dataset_f64, dataset_f64s, dataset_i64, dataset_str, DicomFile};
use crate::error::{ImagingError, Result};
use crate::geometry::dot;
use crate::slices::stack::{self, dcm2niix_scaling, Plane, StackSpec};
use crate::slices::{frames, single_slice_spacing, timing, valid_slice_times, vec3};
use crate::volume::Volume;

/// Siemens per-frame private group "SIEMENS MR SDI 02" and its TimeAfterStart (seconds).
const SIEMENS_FRAME_PRIVATE: Tag = Tag(0x0021, 0x11FE);
const SIEMENS_TIME_AFTER_START: Tag = Tag(0x0021, 0x1104);
/// Siemens ICE dimensions, long form (0021,118E), in the per-frame private group: its
/// field 20 (of "X_1_1_..._33_...", split at '_') is the slice count the protocol acquires.
const SIEMENS_ICE_DIMS_LONG: Tag = Tag(0x0021, 0x118E);
/// Philips private per-frame group and its "scale slope" for precise values.
const PHILIPS_FRAME_PRIVATE: Tag = Tag(0x2005, 0x140F);
const PHILIPS_SCALE_SLOPE: Tag = Tag(0x2005, 0x100E);

/// True when `file` is enhanced multi-frame (has per-frame functional groups).
pub fn is_enhanced(file: &DicomFile) -> bool {
    file.dataset()
        .element_opt(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
        .ok()
        .flatten()
        .is_some()
}

/// The one volume an enhanced file holds; an error when it holds several time points.
pub fn volume_from_enhanced(file: &DicomFile) -> Result<Volume> {
    let mut volumes = volumes_from_enhanced(file)?;
    if volumes.len() != 1 {
        return Err(ImagingError::Inconsistent(format!(
            "enhanced file holds {} time points; use volumes_from_enhanced",
            volumes.len()
        )));
    }
    volumes
        .pop()
        .ok_or_else(|| ImagingError::Invalid("enhanced file has no frames".into()))
}

/// The warning dcm2niix gives for an enhanced Siemens XA file holding fewer slices
/// than its ICE dimensions announce (an aborted scan; dcm2niix issue 742), or `None`.
///
/// dcm2niix converts such a file as a separate, derived series (SeriesNumber + 1000);
/// [`crate::convert_series`] does the same and [`crate::volume_from_file`] logs it.
pub fn partial_volume(file: &DicomFile) -> Option<String> {
    let root = file.dataset();
    let first = items(root, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)?.first()?;
    let ice = items(first, SIEMENS_FRAME_PRIVATE)?
        .first()
        .and_then(|g| dataset_str(g, SIEMENS_ICE_DIMS_LONG))?;
    let expected: usize = ice.split('_').nth(20)?.trim().parse().ok()?;
    let frames = usize::try_from(file.i64(tags::NUMBER_OF_FRAMES)?).ok()?;
    // dcm2niix's test: more than one slice, at least two expected, and a different count.
    (expected >= 2 && frames > 1 && frames % expected != 0).then(|| {
        format!(
            "partial volume: {frames} slices acquired but the ICE dimensions (0021,118E) \
             announce {expected} (an aborted scan?); converted as a separate series"
        )
    })
}

/// Everything dcm2niix needs to know about one frame.
struct FrameInfo {
    position: [f64; 3],
    spec: StackSpec,
    scale: crate::volume::Scaling,
    temporal: Option<i64>,
    acquired_s: Option<f64>,
    after_start_s: Option<f64>,
}

/// Every volume (time point) of an enhanced file, in temporal order.
pub fn volumes_from_enhanced(file: &DicomFile) -> Result<Vec<Volume>> {
    let root = file.dataset();
    let per_frame = items(root, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
        .ok_or_else(|| ImagingError::Unsupported("not an enhanced multi-frame file".into()))?;
    let shared = items(root, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE).and_then(|i| i.first());
    let mut samples = frames::all_frames(file)?;
    if samples.len() != per_frame.len() {
        return Err(ImagingError::Inconsistent(format!(
            "{} frames of pixel data but {} per-frame functional groups",
            samples.len(),
            per_frame.len()
        )));
    }
    let infos = per_frame
        .iter()
        .enumerate()
        .map(|(i, item)| frame_info(root, item, shared, i + 1))
        .collect::<Result<Vec<_>>>()?;
    let spec = infos[0].spec;
    if let Some(bad) = infos.iter().position(|f| !f.spec.same_grid(&spec)) {
        return Err(ImagingError::Unsupported(format!(
            "frame {} has a different orientation or pixel spacing than frame 1",
            bad + 1
        )));
    }
    let groups = time_points(&infos, &spec);
    let tr_s = repetition_time_s(root, per_frame.first(), shared);
    let siemens = crate::slices::manufacturer_contains(file, "SIEMENS");
    let spacing = stack::Spacing::Enhanced {
        given: spacing_between_slices(root, per_frame.first(), shared),
        single: single_slice_spacing(file),
    };
    let mut volumes = Vec::with_capacity(groups.len());
    for frame_ids in groups.values() {
        let use_after_start =
            siemens && frame_ids.iter().all(|&i| infos[i].after_start_s.is_some());
        let planes = frame_ids
            .iter()
            .map(|&i| Plane {
                position: infos[i].position,
                samples: std::mem::replace(&mut samples[i], stack::Samples::U16(Vec::new())),
                scale: infos[i].scale,
                time_s: if use_after_start {
                    infos[i].after_start_s
                } else {
                    infos[i].acquired_s
                },
            })
            .collect();
        let stacked = stack::assemble(&spec, planes, spacing)?;
        let slice_timing_s = match stacked.slice_times {
            Some(t) if valid_slice_times(&t, tr_s) => t,
            _ => Vec::new(),
        };
        let acquisition_time_s = frame_ids
            .iter()
            .filter_map(|&i| infos[i].acquired_s)
            .reduce(f64::min)
            .or_else(|| {
                file.str(tags::ACQUISITION_DATE_TIME)
                    .and_then(|t| timing::dicom_datetime_s(&t))
            });
        volumes.push(Volume {
            voxels: stacked.voxels,
            scaling: stacked.scaling,
            affine: stacked.affine,
            voxel_size: stacked.voxel_size,
            tr_s,
            slice_timing_s,
            acquisition_time_s,
            meta: frames::metadata(file),
        });
    }
    Ok(volumes)
}

/// Frames grouped by time point: TemporalPositionIndex when present, else the n-th
/// frame at a slice position belongs to time point n. Frame order is kept in a group.
fn time_points(infos: &[FrameInfo], spec: &StackSpec) -> BTreeMap<i64, Vec<usize>> {
    let mut groups: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    if infos.iter().all(|f| f.temporal.is_some()) {
        for (i, f) in infos.iter().enumerate() {
            groups.entry(f.temporal.unwrap_or(0)).or_default().push(i);
        }
        return groups;
    }
    let normal = spec.normal();
    let mut seen: BTreeMap<i64, i64> = BTreeMap::new();
    for (i, f) in infos.iter().enumerate() {
        let location = (dot(f.position, normal) * 100.0).round() as i64;
        let n = seen.entry(location).or_default();
        *n += 1;
        groups.entry(*n).or_default().push(i);
    }
    groups
}

fn frame_info(
    root: &InMemDicomObject,
    item: &InMemDicomObject,
    shared: Option<&InMemDicomObject>,
    number: usize,
) -> Result<FrameInfo> {
    let group = |seq: Tag| {
        items(item, seq)
            .and_then(|i| i.first())
            .or_else(|| shared.and_then(|s| items(s, seq)).and_then(|i| i.first()))
    };
    let missing = |what: &str| ImagingError::Invalid(format!("frame {number} has no {what}"));
    let position = group(tags::PLANE_POSITION_SEQUENCE)
        .and_then(|g| dataset_f64s(g, tags::IMAGE_POSITION_PATIENT))
        .ok_or_else(|| missing("PlanePositionSequence/ImagePositionPatient"))?;
    let position = vec3(position, "ImagePositionPatient")?;
    let iop = group(tags::PLANE_ORIENTATION_SEQUENCE)
        .and_then(|g| dataset_f64s(g, tags::IMAGE_ORIENTATION_PATIENT))
        .ok_or_else(|| missing("PlaneOrientationSequence/ImageOrientationPatient"))?;
    let spacing = group(tags::PIXEL_MEASURES_SEQUENCE)
        .and_then(|g| dataset_f64s(g, tags::PIXEL_SPACING))
        .ok_or_else(|| missing("PixelMeasuresSequence/PixelSpacing"))?;
    let rows = dataset_i64(root, tags::ROWS).unwrap_or(0);
    let cols = dataset_i64(root, tags::COLUMNS).unwrap_or(0);
    let spec = StackSpec::from_values(&iop, &spacing, rows, cols)?;
    let transform = group(tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE);
    let slope = transform
        .and_then(|g| dataset_f64(g, tags::RESCALE_SLOPE))
        .or_else(|| dataset_f64(root, tags::RESCALE_SLOPE))
        .unwrap_or(1.0);
    let intercept = transform
        .and_then(|g| dataset_f64(g, tags::RESCALE_INTERCEPT))
        .or_else(|| dataset_f64(root, tags::RESCALE_INTERCEPT))
        .unwrap_or(0.0);
    let philips = dataset_str(root, tags::MANUFACTURER)
        .is_some_and(|m| m.to_ascii_uppercase().contains("PHILIPS"));
    let philips_scale = philips
        .then(|| {
            group(PHILIPS_FRAME_PRIVATE)
                .and_then(|g| dataset_f64(g, PHILIPS_SCALE_SLOPE))
                .or_else(|| dataset_f64(root, PHILIPS_SCALE_SLOPE))
        })
        .flatten();
    let content = group(tags::FRAME_CONTENT_SEQUENCE);
    let temporal = content.and_then(|g| dataset_i64(g, tags::TEMPORAL_POSITION_INDEX));
    let acquired_s = content
        .and_then(|g| dataset_str(g, tags::FRAME_ACQUISITION_DATE_TIME))
        .and_then(|t| timing::dicom_datetime_s(&t));
    let after_start_s = items(item, SIEMENS_FRAME_PRIVATE)
        .and_then(|i| i.first())
        .and_then(|g| dataset_f64(g, SIEMENS_TIME_AFTER_START));
    Ok(FrameInfo {
        position,
        spec,
        scale: dcm2niix_scaling(slope, intercept, philips_scale),
        temporal,
        acquired_s,
        after_start_s,
    })
}

/// SpacingBetweenSlices from the pixel measures functional group (shared, else the
/// first frame's), else the root attribute; `None` when absent or not positive.
fn spacing_between_slices(
    root: &InMemDicomObject,
    first_frame: Option<&InMemDicomObject>,
    shared: Option<&InMemDicomObject>,
) -> Option<f64> {
    [shared, first_frame]
        .into_iter()
        .flatten()
        .filter_map(|ds| items(ds, tags::PIXEL_MEASURES_SEQUENCE)?.first())
        .find_map(|group| dataset_f64(group, tags::SPACING_BETWEEN_SLICES))
        .or_else(|| dataset_f64(root, tags::SPACING_BETWEEN_SLICES))
        .filter(|d| *d > 0.0)
}

/// TR in seconds from the MR timing functional group, else the root attribute.
fn repetition_time_s(
    root: &InMemDicomObject,
    first_frame: Option<&InMemDicomObject>,
    shared: Option<&InMemDicomObject>,
) -> Option<f64> {
    let seq = tags::MR_TIMING_AND_RELATED_PARAMETERS_SEQUENCE;
    let from = |ds: &InMemDicomObject| {
        items(ds, seq)
            .and_then(|i| i.first())
            .and_then(|g| dataset_f64(g, tags::REPETITION_TIME))
    };
    shared
        .and_then(from)
        .or_else(|| first_frame.and_then(from))
        .or_else(|| dataset_f64(root, tags::REPETITION_TIME))
        .map(|ms| ms / 1000.0)
        .filter(|s| *s > 0.0)
}

/// The items of a sequence attribute, if present.
fn items(ds: &InMemDicomObject, tag: Tag) -> Option<&[InMemDicomObject]> {
    ds.element_opt(tag).ok().flatten()?.items()
}
