//! Stacking 2D planes (single-slice files or enhanced frames) into one dcm2niix-style
//! volume: slice order, slice spacing, affine, intensity scaling and slice times.

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use ndarray::{Array3, ShapeBuilder};

use crate::dicom::{dataset_f64s, dataset_i64};
use crate::error::{ImagingError, Result};
use crate::geometry::put_slice_flipped;
use crate::geometry::{cross, dot, norm, scale, sub, SliceStack, Vec3};
use crate::volume::{Scaling, Voxels};

/// Steps along the normal that differ by more than this (mm) are not "sequential"
/// (dcm2niix's slice tolerance).
const SLICE_TOLERANCE_MM: f64 = 0.2;

/// The in-plane grid shared by every plane of a stack.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct StackSpec {
    /// Unit direction of increasing column index (LPS).
    pub row: Vec3,
    /// Unit direction of increasing row index (LPS).
    pub col: Vec3,
    /// PixelSpacing: [between rows, between columns], mm.
    pub spacing: [f64; 2],
    pub rows: usize,
    pub cols: usize,
}

impl StackSpec {
    /// Orientation and pixel spacing from `geometry` (a root data set or a functional
    /// group item), rows and columns from `image` (the root data set).
    pub fn from_attributes(
        geometry: &InMemDicomObject,
        image: &InMemDicomObject,
    ) -> Result<StackSpec> {
        let iop = dataset_f64s(geometry, tags::IMAGE_ORIENTATION_PATIENT).ok_or(
            ImagingError::MissingTag {
                tag: tags::IMAGE_ORIENTATION_PATIENT,
                name: "ImageOrientationPatient",
            },
        )?;
        let spacing =
            dataset_f64s(geometry, tags::PIXEL_SPACING).ok_or(ImagingError::MissingTag {
                tag: tags::PIXEL_SPACING,
                name: "PixelSpacing",
            })?;
        let rows = dataset_i64(image, tags::ROWS).ok_or(ImagingError::MissingTag {
            tag: tags::ROWS,
            name: "Rows",
        })?;
        let cols = dataset_i64(image, tags::COLUMNS).ok_or(ImagingError::MissingTag {
            tag: tags::COLUMNS,
            name: "Columns",
        })?;
        Self::from_values(&iop, &spacing, rows, cols)
    }

    pub fn from_values(iop: &[f64], spacing: &[f64], rows: i64, cols: i64) -> Result<StackSpec> {
        let [r0, r1, r2, c0, c1, c2, ..] = *iop else {
            return Err(ImagingError::Invalid(format!(
                "ImageOrientationPatient has {} values, expected 6",
                iop.len()
            )));
        };
        let [sr, sc, ..] = *spacing else {
            return Err(ImagingError::Invalid(format!(
                "PixelSpacing has {} values, expected 2",
                spacing.len()
            )));
        };
        let unit = |v: Vec3| {
            let n = norm(v);
            (n > 1e-6).then(|| scale(v, 1.0 / n))
        };
        let (Some(row), Some(col)) = (unit([r0, r1, r2]), unit([c0, c1, c2])) else {
            return Err(ImagingError::Invalid(
                "ImageOrientationPatient has a zero vector".into(),
            ));
        };
        if !(sr > 0.0 && sc > 0.0) {
            return Err(ImagingError::Invalid(format!(
                "PixelSpacing {sr}\\{sc} is not positive"
            )));
        }
        let (Ok(rows), Ok(cols)) = (usize::try_from(rows), usize::try_from(cols)) else {
            return Err(ImagingError::Invalid(format!(
                "image size {rows}x{cols} is negative"
            )));
        };
        if rows == 0 || cols == 0 {
            return Err(ImagingError::Invalid(format!(
                "image size {rows}x{cols} is empty"
            )));
        }
        Ok(StackSpec {
            row,
            col,
            spacing: [sr, sc],
            rows,
            cols,
        })
    }

    /// Unit slice normal, row x column (the direction dcm2niix makes k ascend along).
    pub fn normal(&self) -> Vec3 {
        let n = cross(self.row, self.col);
        let len = norm(n);
        if len > 0.0 {
            scale(n, 1.0 / len)
        } else {
            n
        }
    }

    pub fn same_grid(&self, other: &StackSpec) -> bool {
        let close = |a: Vec3, b: Vec3| norm(sub(a, b)) < 1e-4;
        self.rows == other.rows
            && self.cols == other.cols
            && (self.spacing[0] - other.spacing[0]).abs() < 1e-4
            && (self.spacing[1] - other.spacing[1]).abs() < 1e-4
            && close(self.row, other.row)
            && close(self.col, other.col)
    }
}

/// Stored values of one plane, row-major `rows x cols`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Samples {
    I16(Vec<i16>),
    U16(Vec<u16>),
}

impl Samples {
    fn len(&self) -> usize {
        match self {
            Samples::I16(v) => v.len(),
            Samples::U16(v) => v.len(),
        }
    }

    /// Reverses the order of the rows of this `rows x cols` plane.
    pub fn flip_rows(&mut self, cols: usize) {
        fn flip<T>(v: &mut [T], cols: usize) {
            let rows = v.len() / cols.max(1);
            for r in 0..rows / 2 {
                let (top, bottom) = v.split_at_mut((rows - 1 - r) * cols);
                top[r * cols..(r + 1) * cols].swap_with_slice(&mut bottom[..cols]);
            }
        }
        match self {
            Samples::I16(v) => flip(v, cols),
            Samples::U16(v) => flip(v, cols),
        }
    }

    fn as_f32(&self) -> Vec<f32> {
        match self {
            Samples::I16(v) => v.iter().map(|&x| f32::from(x)).collect(),
            Samples::U16(v) => v.iter().map(|&x| f32::from(x)).collect(),
        }
    }
}

/// dcm2niix's choice of scaling for one plane: the Philips "precise" values when a
/// Philips scale slope exists (P = (SV*RS + RI) / (RS*SS), PMC3998685; dcm2niix's
/// `PhilipsPreciseVal`, in f32 like it), else RescaleSlope/Intercept.
pub(crate) fn dcm2niix_scaling(slope: f64, intercept: f64, philips_scale: Option<f64>) -> Scaling {
    let (rs, ri) = (slope as f32, intercept as f32);
    if let Some(ss) = philips_scale.map(|s| s as f32).filter(|s| *s != 0.0) {
        let denom = rs * ss;
        if denom != 0.0 {
            let l0 = ri / denom;
            let l1 = (rs + ri) / denom;
            if l0 != l1 {
                return Scaling {
                    slope: l1 - l0,
                    inter: l0,
                };
            }
        }
    }
    Scaling {
        slope: rs,
        inter: ri,
    }
}

/// One plane to stack: where it is, its values and when it was acquired.
#[derive(Debug, Clone)]
pub(crate) struct Plane {
    pub position: Vec3,
    pub samples: Samples,
    pub scale: Scaling,
    /// Acquisition onset in seconds (any common origin), if known.
    pub time_s: Option<f64>,
}

/// The result of stacking: everything a `Volume` needs except timing and metadata.
#[derive(Debug)]
pub(crate) struct Stacked {
    pub voxels: Voxels,
    pub scaling: Scaling,
    pub affine: [[f64; 4]; 4],
    pub voxel_size: [f64; 3],
    /// Plane times in final k order relative to the earliest; `None` unless every plane had one.
    pub slice_times: Option<Vec<f64>>,
}

/// How the slice spacing (the length of the affine's slice column) is measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Spacing {
    /// Classic files (dcm2niix's `intersliceDistance`): between the first two planes;
    /// `single` for a one-plane stack.
    FirstTwo { single: f64 },
    /// Enhanced files: SpacingBetweenSlices when given (> 0), else the distance from the
    /// first to the last plane over n - 1 (dcm2niix: positions are rounded in the file,
    /// so two neighbours alone can be off by 1e-4 mm, which adds up over a 3D slab).
    Enhanced { given: Option<f64>, single: f64 },
}

/// Stacks `planes`, given in dcm2niix's stacking order (instance or frame order).
///
/// Like dcm2niix: keep that order when the slice steps are regular, otherwise sort along
/// the normal; measure the slice spacing as `spacing` says; and reverse the stack when
/// it runs against the normal, so k always ascends along row x column.
pub(crate) fn assemble(spec: &StackSpec, planes: Vec<Plane>, spacing: Spacing) -> Result<Stacked> {
    let n = planes.len();
    if n == 0 {
        return Err(ImagingError::Inconsistent(
            "a volume needs at least one slice".into(),
        ));
    }
    let normal = spec.normal();
    let proj: Vec<f64> = planes.iter().map(|p| dot(p.position, normal)).collect();
    let mut order: Vec<usize> = (0..n).collect();
    if n > 2 {
        let step0 = proj[1] - proj[0];
        let sequential = proj
            .windows(2)
            .all(|w| ((w[1] - w[0]) - step0).abs() <= SLICE_TOLERANCE_MM);
        if !sequential {
            tracing::debug!("slice order is not spatial; sorting along the slice normal");
            order.sort_by(|&a, &b| proj[a].total_cmp(&proj[b]));
        }
    }
    let (dx, descending) = if n > 1 {
        let (a, b) = (planes[order[0]].position, planes[order[1]].position);
        let last = planes[order[n - 1]].position;
        let dx = match spacing {
            Spacing::FirstTwo { .. } => norm(sub(b, a)),
            Spacing::Enhanced { given: Some(d), .. } if d > 0.0 => d,
            Spacing::Enhanced { .. } => norm(sub(last, a)) / (n - 1) as f64,
        };
        (dx, dot(sub(b, a), normal) < 0.0)
    } else {
        match spacing {
            Spacing::FirstTwo { single } | Spacing::Enhanced { single, .. } => (single, false),
        }
    };
    let step = scale(normal, dx);
    let first = planes[order[0]].position;
    let origin = if descending {
        sub(first, scale(step, (n - 1) as f64))
    } else {
        first
    };
    if descending {
        order.reverse();
    }
    let geometry = SliceStack {
        row_cosines: spec.row,
        col_cosines: spec.col,
        pixel_spacing: spec.spacing,
        first_position: origin,
        slice_step: step,
        rows: spec.rows,
    };
    let slice_times = plane_times(&planes, &order);
    let (voxels, scaling) = stack_voxels(spec, &planes, &order)?;
    Ok(Stacked {
        voxels,
        scaling,
        affine: geometry.ras_affine(),
        voxel_size: [spec.spacing[1], spec.spacing[0], dx],
        slice_times,
    })
}

fn plane_times(planes: &[Plane], order: &[usize]) -> Option<Vec<f64>> {
    let times: Vec<f64> = order
        .iter()
        .map(|&i| planes[i].time_s)
        .collect::<Option<_>>()?;
    let min = times.iter().copied().fold(f64::INFINITY, f64::min);
    Some(times.iter().map(|t| t - min).collect())
}

/// Stored values with the planes' common scaling (what dcm2niix writes); float32 real
/// values only when the planes disagree on the scaling or the stored type.
fn stack_voxels(spec: &StackSpec, planes: &[Plane], order: &[usize]) -> Result<(Voxels, Scaling)> {
    let (rows, cols) = (spec.rows, spec.cols);
    let shape = (cols, rows, order.len()).f();
    for p in planes {
        if p.samples.len() != rows * cols {
            return Err(ImagingError::Invalid(format!(
                "a slice has {} pixels, expected {rows}x{cols}",
                p.samples.len()
            )));
        }
    }
    let scaling = planes.first().map_or(Scaling::IDENTITY, |p| p.scale);
    let one_scaling = planes.iter().all(|p| p.scale == scaling);
    let all_i16 = planes.iter().all(|p| matches!(p.samples, Samples::I16(_)));
    let all_u16 = planes.iter().all(|p| matches!(p.samples, Samples::U16(_)));
    if one_scaling && all_i16 {
        let mut vol = Array3::<i16>::zeros(shape);
        for (k, &i) in order.iter().enumerate() {
            if let Samples::I16(v) = &planes[i].samples {
                put_slice_flipped(&mut vol, k, v, rows, cols);
            }
        }
        return Ok((Voxels::I16(vol), scaling));
    }
    if one_scaling && all_u16 {
        let mut vol = Array3::<u16>::zeros(shape);
        for (k, &i) in order.iter().enumerate() {
            if let Samples::U16(v) = &planes[i].samples {
                put_slice_flipped(&mut vol, k, v, rows, cols);
            }
        }
        return Ok((Voxels::U16(vol), scaling));
    }
    tracing::warn!("intensity scaling varies between slices: writing float32 real values");
    let mut vol = Array3::<f32>::zeros(shape);
    for (k, &i) in order.iter().enumerate() {
        let s = planes[i].scale;
        let values: Vec<f32> = planes[i]
            .samples
            .as_f32()
            .into_iter()
            .map(|v| v * s.slope + s.inter)
            .collect();
        put_slice_flipped(&mut vol, k, &values, rows, cols);
    }
    Ok((Voxels::F32(vol), Scaling::IDENTITY))
}
