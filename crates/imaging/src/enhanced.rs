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
/// Philips MRImageDynamicScanBeginTime (seconds from the run's start) in the private group.
const PHILIPS_DYNAMIC_SCAN_BEGIN: Tag = Tag(0x2005, 0x10A0);
/// Siemens PhaseEncodingDirectionPositive (IS, 1 or 0) in XA private groups.
const SIEMENS_PHASE_POSITIVE: Tag = Tag(0x0021, 0x111C);
/// Siemens PATModeText ("p2s3": in-plane 2, slice acceleration 3) in XA private groups.
const SIEMENS_PAT_MODE: Tag = Tag(0x0021, 0x1009);
/// How deep into functional-group sequences a header value is looked for.
const NESTED_DEPTH: usize = 3;

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
    /// DimensionIndexValues with the in-stack position left out: the volume key.
    volume_index: Option<Vec<i64>>,
    dynamic_begin_s: Option<f64>,
    /// A derived diffusion frame (isotropic trace or ADC) dcm2niix leaves out.
    derived: bool,
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
    let volume_dims = volume_dimensions(root);
    let infos = per_frame
        .iter()
        .enumerate()
        .map(|(i, item)| frame_info(root, item, shared, i + 1, &volume_dims))
        .collect::<Result<Vec<_>>>()?;
    let spec = infos[0].spec;
    if let Some(bad) = infos.iter().position(|f| !f.spec.same_grid(&spec)) {
        return Err(ImagingError::Unsupported(format!(
            "frame {} has a different orientation or pixel spacing than frame 1",
            bad + 1
        )));
    }
    let groups = time_points(&infos, &spec);
    let derived = infos.iter().filter(|f| f.derived).count();
    if derived > 0 {
        tracing::info!(
            frames = derived,
            "derived diffusion frames (trace/ADC) left out of the run, as dcm2niix does"
        );
    }
    let philips = crate::slices::is_philips(file);
    let siemens = crate::slices::manufacturer_contains(file, "SIEMENS");
    let lookup = Nested {
        root,
        shared,
        first_frame: per_frame.first(),
    };
    let tr_s = repetition_time_s(root, per_frame.first(), shared)
        .map(|tr| philips_3d_tr_s(&lookup, &infos, groups.len()).unwrap_or(tr));
    let meta = enhanced_metadata(file, &lookup);
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
        // Philips DICOM carries no usable slice timing (dcm2niix writes none).
        let slice_timing_s = match stacked.slice_times {
            Some(t) if !philips && valid_slice_times(&t, tr_s) => t,
            _ => Vec::new(),
        };
        let mut meta = meta.clone();
        meta.multiband_acceleration_factor = meta
            .multiband_acceleration_factor
            .max(timing::multiband_from_times(&slice_timing_s));
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
            meta,
        });
    }
    Ok(volumes)
}

/// Where enhanced files keep header values: the root, the shared functional groups, or
/// (for values the same in every frame) the first frame's groups, in that order.
struct Nested<'a> {
    root: &'a InMemDicomObject,
    shared: Option<&'a InMemDicomObject>,
    first_frame: Option<&'a InMemDicomObject>,
}

impl Nested<'_> {
    fn find<T>(&self, tag: Tag, read: impl Fn(&InMemDicomObject, Tag) -> Option<T>) -> Option<T> {
        read(self.root, tag)
            .or_else(|| {
                self.shared
                    .and_then(|s| nested(s, tag, NESTED_DEPTH, &read))
            })
            .or_else(|| {
                self.first_frame
                    .and_then(|f| nested(f, tag, NESTED_DEPTH, &read))
            })
    }

    fn f64(&self, tag: Tag) -> Option<f64> {
        self.find(tag, dataset_f64)
    }

    fn text(&self, tag: Tag) -> Option<String> {
        self.find(tag, |ds, t| dataset_str(ds, t).map(|s| s.into_owned()))
    }
}

/// The first value of `tag` in `ds` or in the items of its sequences, depth first.
fn nested<T>(
    ds: &InMemDicomObject,
    tag: Tag,
    depth: usize,
    read: &impl Fn(&InMemDicomObject, Tag) -> Option<T>,
) -> Option<T> {
    if let Some(v) = read(ds, tag) {
        return Some(v);
    }
    if depth == 0 {
        return None;
    }
    ds.iter()
        .filter_map(|element| element.items())
        .flatten()
        .find_map(|item| nested(item, tag, depth - 1, read))
}

/// The common metadata plus what enhanced files keep in functional groups (PS3.3
/// C.8.13.5: MR Echo, MR Timing and Related Parameters, MR FOV/Geometry), read where
/// dcm2niix finds them.
fn enhanced_metadata(file: &DicomFile, lookup: &Nested) -> crate::volume::Metadata {
    let mut meta = crate::metadata::from_dicom(file);
    let echo_ms = lookup
        .f64(tags::EFFECTIVE_ECHO_TIME)
        .or_else(|| lookup.f64(tags::ECHO_TIME));
    meta.echo_time_s = meta.echo_time_s.or(echo_ms.map(|ms| ms / 1000.0));
    meta.flip_angle_deg = meta.flip_angle_deg.or(lookup.f64(tags::FLIP_ANGLE));
    let three_d = lookup
        .text(tags::MR_ACQUISITION_TYPE)
        .is_some_and(|t| t == "3D");
    if !three_d && crate::slices::manufacturer_contains(file, "SIEMENS") {
        let positive = lookup.f64(SIEMENS_PHASE_POSITIVE).map(|p| p == 1.0);
        meta.phase_encoding_direction = lookup
            .text(tags::IN_PLANE_PHASE_ENCODING_DIRECTION)
            .and_then(|axis| crate::metadata::phase_encoding_direction(&axis, positive));
    }
    meta.multiband_acceleration_factor = lookup
        .text(SIEMENS_PAT_MODE)
        .and_then(|t| crate::metadata::pat_mode_slice_factor(&t));
    meta
}

/// dcm2niix's TR for Philips 3D multi-volume EPI (3D ASL): the spacing of the volumes'
/// MRImageDynamicScanBeginTime, since RepetitionTime there is one shot's (dcm2niix
/// issue 369). `None` when the rule does not apply.
fn philips_3d_tr_s(lookup: &Nested, infos: &[FrameInfo], volumes: usize) -> Option<f64> {
    let philips = dataset_str(lookup.root, tags::MANUFACTURER)
        .is_some_and(|m| m.to_ascii_uppercase().contains("PHILIPS"));
    let three_d = lookup
        .text(tags::MR_ACQUISITION_TYPE)
        .is_some_and(|t| t == "3D");
    let echo_train = lookup.f64(tags::ECHO_TRAIN_LENGTH).unwrap_or(0.0);
    if !philips || !three_d || echo_train <= 1.0 || volumes < 2 {
        return None;
    }
    let begins = infos.iter().filter_map(|f| f.dynamic_begin_s);
    let (min, max) = begins.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), t| {
        (lo.min(t), hi.max(t))
    });
    (min < max).then(|| (max - min) / (volumes - 1) as f64)
}

/// Positions in DimensionIndexSequence of the dimensions that tell volumes apart: all
/// but the in-stack position and the stack (PS3.3 C.7.6.17). Empty when the file
/// declares no dimensions.
fn volume_dimensions(root: &InMemDicomObject) -> Vec<usize> {
    let Some(dims) = items(root, tags::DIMENSION_INDEX_SEQUENCE) else {
        return Vec::new();
    };
    dims.iter()
        .enumerate()
        .filter(|(_, item)| {
            let pointer = item
                .element_opt(tags::DIMENSION_INDEX_POINTER)
                .ok()
                .flatten()
                .and_then(|e| e.value().to_tag().ok());
            !matches!(
                pointer,
                Some(tags::IN_STACK_POSITION_NUMBER)
                    | Some(tags::STACK_ID)
                    | Some(tags::IMAGE_POSITION_PATIENT)
            )
        })
        .map(|(i, _)| i)
        .collect()
}

/// Frames grouped into volumes, in dcm2niix's volume order; frame order is kept in a
/// group and derived diffusion frames are left out.
///
/// The key is every DimensionIndexValue except the slice position, the later dimension
/// the more significant (Philips ASL: label/control, then time point), so that frames at
/// the same position with another label or echo are further volumes, not slices. Without
/// dimension indices: TemporalPositionIndex, else the n-th frame at a position.
fn time_points(infos: &[FrameInfo], spec: &StackSpec) -> BTreeMap<Vec<i64>, Vec<usize>> {
    let normal = spec.normal();
    let location = |f: &FrameInfo| (dot(f.position, normal) * 100.0).round() as i64;
    let kept = || infos.iter().enumerate().filter(|(_, f)| !f.derived);
    let mut positions: Vec<i64> = kept().map(|(_, f)| location(f)).collect();
    positions.sort_unstable();
    positions.dedup();
    // A key that puts one frame of every position in each group (else try the next).
    let by = |key: &dyn Fn(&FrameInfo) -> Option<Vec<i64>>| {
        let mut groups: BTreeMap<Vec<i64>, Vec<usize>> = BTreeMap::new();
        for (i, f) in kept() {
            groups.entry(key(f)?).or_default().push(i);
        }
        groups
            .values()
            .all(|g| g.len() == positions.len())
            .then_some(groups)
    };
    let dimensions = |f: &FrameInfo| {
        let mut key = f.volume_index.clone().filter(|v| !v.is_empty())?;
        key.reverse();
        Some(key)
    };
    let temporal = |f: &FrameInfo| f.temporal.map(|t| vec![t]);
    if let Some(groups) = by(&dimensions).or_else(|| by(&temporal)) {
        return groups;
    }
    let mut groups: BTreeMap<Vec<i64>, Vec<usize>> = BTreeMap::new();
    let mut seen: BTreeMap<i64, i64> = BTreeMap::new();
    for (i, f) in kept() {
        let n = seen.entry(location(f)).or_default();
        *n += 1;
        groups.entry(vec![*n]).or_default().push(i);
    }
    groups
}

fn frame_info(
    root: &InMemDicomObject,
    item: &InMemDicomObject,
    shared: Option<&InMemDicomObject>,
    number: usize,
    volume_dims: &[usize],
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
    let volume_index = content
        .and_then(|g| dataset_f64s(g, tags::DIMENSION_INDEX_VALUES))
        .filter(|_| !volume_dims.is_empty())
        .map(|values| {
            volume_dims
                .iter()
                .filter_map(|&d| values.get(d).map(|v| *v as i64))
                .collect()
        });
    let dynamic_begin_s =
        group(PHILIPS_FRAME_PRIVATE).and_then(|g| dataset_f64(g, PHILIPS_DYNAMIC_SCAN_BEGIN));
    let diffusion = group(tags::MR_DIFFUSION_SEQUENCE);
    let derived = diffusion.is_some_and(|g| {
        let direction = items(g, tags::DIFFUSION_GRADIENT_DIRECTION_SEQUENCE)
            .and_then(|i| i.first())
            .and_then(|d| dataset_f64s(d, tags::DIFFUSION_GRADIENT_ORIENTATION));
        crate::slices::is_derived_diffusion(
            dataset_f64(g, tags::DIFFUSION_B_VALUE),
            direction.as_deref(),
            dataset_str(g, tags::DIFFUSION_DIRECTIONALITY).as_deref(),
        )
    });
    Ok(FrameInfo {
        position,
        volume_index,
        dynamic_begin_s,
        derived,
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
