//! Siemens mosaic files: one DICOM image holding every slice of a volume as tiles.
//!
//! The conversion reproduces dcm2niix: tiles are cut in row-major order
//! (ceil(sqrt(N)) tiles per row), ImagePositionPatient (the corner of the whole mosaic)
//! is moved to the first tile, the slice axis follows the CSA SliceNormalVector, and
//! mosaics whose protocol numbers slices head to foot are stored flipped along k so that
//! k ascends in space, with their slice times reversed to match.

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use ndarray::{Array3, ShapeBuilder};

use crate::csa::{self, CsaHeader};
use crate::dicom::DicomFile;
use crate::error::{ImagingError, Result};
use crate::geometry::{add, cross, dot, norm, scale, SliceStack, Vec3};
use crate::pixels::{decode_frames, FrameData};
use crate::volume::{Scaling, Volume, Voxels};

/// What the CSA headers say about one mosaic.
#[derive(Debug, Clone)]
pub struct MosaicInfo {
    pub slices: usize,
    /// The CSA image header, or (when an anonymizer removed group 0029) the same
    /// elements read from the standard Siemens private group 0019.
    pub image: CsaHeader,
    /// Slices stored head to foot (ProtocolSliceNumber or `sSliceArray.ucImageNumb*`);
    /// always false without CSA headers, which alone record it.
    pub reversed: bool,
}

/// Siemens private creator of group 0019 and the elements a mosaic needs from it when
/// the CSA headers are gone (dcm2niix reads the same ones).
const SIEMENS_MR_HEADER: &str = "SIEMENS MR HEADER";
const NUMBER_OF_IMAGES_IN_MOSAIC: u16 = 0x0A;
const MOSAIC_REF_ACQ_TIMES: u16 = 0x29;

/// The mosaic facts of `file`, or `None` when it is not a mosaic (fewer than 2 tiles).
///
/// Without a CSA image header (0029,1010) the slice count comes from the private
/// NumberOfImagesInMosaic (0019,xx0A) and the slice times from MosaicRefAcqTimes
/// (0019,xx29); ImageType MOSAIC without either is an error naming what is missing.
pub fn mosaic_info(file: &DicomFile) -> Result<Option<MosaicInfo>> {
    let (image, from_csa) = match csa::image_header(file) {
        Some(h) => (h?, true),
        None => (private_mosaic_header(file), false),
    };
    let slices = match image.i64("NumberOfImagesInMosaic") {
        Some(n) if n > 1 => n as usize,
        _ if !from_csa && says_mosaic(file) => {
            return Err(ImagingError::Unsupported(
                "ImageType says MOSAIC but the CSA image header (0029,1010) and the Siemens \
                 private NumberOfImagesInMosaic (0019,100A) are both missing: the number \
                 of slices in the mosaic is unknown"
                    .into(),
            ))
        }
        _ => return Ok(None),
    };
    // The protocol is searched, not parsed: parsing it costs more than the whole volume.
    let reversed = from_csa
        && (image.i64("ProtocolSliceNumber").is_some_and(|n| n > 1)
            || csa::protocol_mentions(file, "sSliceArray.ucImageNumb"));
    if !from_csa {
        tracing::warn!(
            slices,
            "Siemens mosaic without CSA headers: slices from NumberOfImagesInMosaic (0019,100A), \
             stored foot to head assumed"
        );
    }
    Ok(Some(MosaicInfo {
        slices,
        image,
        reversed,
    }))
}

/// ImageType (0008,0008) has the value MOSAIC.
pub(crate) fn says_mosaic(file: &DicomFile) -> bool {
    file.str(tags::IMAGE_TYPE).is_some_and(|t| {
        t.split('\\')
            .any(|v| v.trim().eq_ignore_ascii_case("MOSAIC"))
    })
}

/// The mosaic elements of the Siemens private group 0019 as a CSA-like header.
fn private_mosaic_header(file: &DicomFile) -> CsaHeader {
    let mut header = CsaHeader::default();
    // The creator reserves a block (0019,0010..00FF); its elements are (0019,bbxx).
    let block = (0x10u16..=0xFF).find(|&b| {
        file.str(Tag(0x0019, b))
            .is_some_and(|c| c.trim() == SIEMENS_MR_HEADER)
    });
    let Some(block) = block else { return header };
    for (element, name) in [
        (NUMBER_OF_IMAGES_IN_MOSAIC, "NumberOfImagesInMosaic"),
        (MOSAIC_REF_ACQ_TIMES, "MosaicRefAcqTimes"),
    ] {
        if let Some(values) = file.f64s(Tag(0x0019, (block << 8) | element)) {
            let items = values.iter().map(|v| v.to_string()).collect();
            header.elements.insert(name.to_string(), items);
        }
    }
    header
}

/// Converts one mosaic file into its volume.
pub fn volume_from_mosaic(file: &DicomFile) -> Result<Volume> {
    let info = mosaic_info(file)?.ok_or_else(|| {
        ImagingError::Unsupported("not a Siemens mosaic (no NumberOfImagesInMosaic > 1)".into())
    })?;
    let n = info.slices;
    let frames = decode_frames(file)?;
    let per_row = (1..=n).find(|p| p * p >= n).unwrap_or(n);
    let (tile_rows, tile_cols) = (frames.rows / per_row, frames.cols / per_row);
    if tile_rows == 0 || tile_cols == 0 || frames.frames != 1 {
        return Err(ImagingError::Invalid(format!(
            "a {}x{} mosaic ({} frames) cannot hold {n} tiles",
            frames.rows, frames.cols, frames.frames
        )));
    }

    let orientation = vec6(file.require_f64s(tags::IMAGE_ORIENTATION_PATIENT)?)?;
    let row_cos: Vec3 = [orientation[0], orientation[1], orientation[2]];
    let col_cos: Vec3 = [orientation[3], orientation[4], orientation[5]];
    let spacing = file.require_f64s(tags::PIXEL_SPACING)?;
    let pixel_spacing = match spacing.as_slice() {
        [r, c, ..] => [*r, *c],
        _ => {
            return Err(ImagingError::Invalid(
                "PixelSpacing has fewer than 2 values".into(),
            ))
        }
    };
    let position = file.require_f64s(tags::IMAGE_POSITION_PATIENT)?;
    let corner: Vec3 = match position.as_slice() {
        [x, y, z, ..] => [*x, *y, *z],
        _ => {
            return Err(ImagingError::Invalid(
                "ImagePositionPatient has fewer than 3 values".into(),
            ))
        }
    };
    let dz = file
        .f64(tags::SPACING_BETWEEN_SLICES)
        .or_else(|| file.f64(tags::SLICE_THICKNESS))
        .filter(|v| *v > 0.0)
        .unwrap_or(1.0);

    // The header position is the corner of the whole mosaic; move it to the first tile.
    let shift_cols = (frames.cols as f64 - frames.cols as f64 / per_row as f64) / 2.0;
    let shift_rows = (frames.rows as f64 - frames.rows as f64 / per_row as f64) / 2.0;
    let first = add(
        corner,
        add(
            scale(row_cos, pixel_spacing[1] * shift_cols),
            scale(col_cos, pixel_spacing[0] * shift_rows),
        ),
    );
    let mut normal = cross(row_cos, col_cos);
    if let Some(v) = info
        .image
        .f64s("SliceNormalVector")
        .filter(|v| v.len() >= 3)
    {
        let csa_normal = [v[0], v[1], v[2]];
        if norm(csa_normal) > 0.0 && dot(csa_normal, normal) < 0.0 {
            normal = scale(normal, -1.0);
        }
    }
    let step = scale(normal, dz);
    let stack = if info.reversed {
        SliceStack {
            row_cosines: row_cos,
            col_cosines: col_cos,
            pixel_spacing,
            first_position: add(first, scale(step, (n - 1) as f64)),
            slice_step: scale(step, -1.0),
            rows: tile_rows,
        }
    } else {
        SliceStack {
            row_cosines: row_cos,
            col_cosines: col_cos,
            pixel_spacing,
            first_position: first,
            slice_step: step,
            rows: tile_rows,
        }
    };

    let layout = Layout {
        mosaic_cols: frames.cols,
        tile_rows,
        tile_cols,
        per_row,
        slices: n,
        reversed: info.reversed,
    };
    let voxels = voxels(&frames, &layout)?;

    let (mut slice_timing_s, multiband) = slice_times(&info.image, n, info.reversed);
    if slice_timing_s.is_empty() {
        // VB12/VB13 mosaics lack MosaicRefAcqTimes: dcm2niix's protocol "rescue".
        if let Some(mut times) = crate::slices::timing::siemens_rescue_slice_times(file, n) {
            if info.reversed {
                times.reverse();
            }
            slice_timing_s = times;
        }
    }
    let mut meta = crate::metadata::from_dicom(file);
    meta.phase_encoding_direction = phase_encoding(file, &info.image);
    if multiband > 1 {
        meta.multiband_acceleration_factor = Some(multiband);
    }
    if info.reversed {
        meta.nifti_slice_code = Some(0);
    }
    Ok(Volume {
        voxels,
        scaling: Scaling {
            slope: frames.rescale_slope.unwrap_or(1.0) as f32,
            inter: frames.rescale_intercept.unwrap_or(0.0) as f32,
        },
        affine: stack.ras_affine(),
        voxel_size: [pixel_spacing[1], pixel_spacing[0], dz],
        tr_s: file.f64(tags::REPETITION_TIME).map(|ms| ms / 1000.0),
        slice_timing_s,
        acquisition_time_s: file
            .str(tags::ACQUISITION_TIME)
            .and_then(|t| seconds_since_midnight(&t)),
        meta,
    })
}

/// The volume's stored voxels (dcm2niix keeps them and writes the rescale into
/// scl_slope / scl_inter).
fn voxels(frames: &crate::pixels::Frames, layout: &Layout) -> Result<Voxels> {
    Ok(match &frames.data {
        FrameData::I16(v) => Voxels::I16(layout.untile(v)?),
        FrameData::U16(v) => Voxels::U16(layout.untile(v)?),
    })
}

/// Where each tile of the mosaic goes in the volume.
struct Layout {
    mosaic_cols: usize,
    tile_rows: usize,
    tile_cols: usize,
    per_row: usize,
    slices: usize,
    reversed: bool,
}

impl Layout {
    /// Cuts the tiles into a Fortran-order volume, rows flipped (NIfTI j = rows-1-row)
    /// and, for reversed mosaics, tile s stored at k = N-1-s.
    fn untile<T: Copy + Default>(&self, mosaic: &[T]) -> Result<Array3<T>> {
        let (nx, ny, nz) = (self.tile_cols, self.tile_rows, self.slices);
        let mut out = vec![T::default(); nx * ny * nz];
        for s in 0..nz {
            let (tr, tc) = (s / self.per_row, s % self.per_row);
            let k = if self.reversed { nz - 1 - s } else { s };
            for r in 0..ny {
                let start = (tr * ny + r) * self.mosaic_cols + tc * nx;
                let src = mosaic.get(start..start + nx).ok_or_else(|| {
                    ImagingError::Invalid(format!("mosaic tile {s} lies outside the image"))
                })?;
                let j = ny - 1 - r;
                let dst = nx * (j + ny * k);
                out[dst..dst + nx].copy_from_slice(src);
            }
        }
        Array3::from_shape_vec((nx, ny, nz).f(), out)
            .map_err(|e| ImagingError::Invalid(format!("mosaic volume shape: {e}")))
    }
}

/// Slice onsets in seconds in NIfTI k order, and the multiband factor (slices per shot).
fn slice_times(image: &CsaHeader, n: usize, reversed: bool) -> (Vec<f64>, u32) {
    let Some(ms) = image
        .f64s("MosaicRefAcqTimes")
        .filter(|t| t.len() >= n && n > 1)
    else {
        return (Vec::new(), 1);
    };
    let mut times: Vec<f64> = ms[..n].to_vec();
    let min = times.iter().copied().fold(f64::INFINITY, f64::min);
    if min < 0.0 {
        times.iter_mut().for_each(|t| *t -= min);
    }
    if times.iter().all(|&t| t == times[0]) {
        return (Vec::new(), 1);
    }
    let zeros = times.iter().filter(|&&t| t == 0.0).count() as u32;
    if reversed {
        times.reverse();
    }
    (times.iter().map(|t| t / 1000.0).collect(), zeros.max(1))
}

/// BIDS PhaseEncodingDirection from the axis and the CSA polarity.
fn phase_encoding(file: &DicomFile, image: &CsaHeader) -> Option<String> {
    let axis = file.str(tags::IN_PLANE_PHASE_ENCODING_DIRECTION)?;
    let positive = image.i64("PhaseEncodingDirectionPositive").map(|p| p == 1);
    crate::metadata::phase_encoding_direction(&axis, positive)
}

fn vec6(v: Vec<f64>) -> Result<[f64; 6]> {
    v.get(..6)
        .and_then(|s| <[f64; 6]>::try_from(s).ok())
        .ok_or_else(|| {
            ImagingError::Invalid("ImageOrientationPatient has fewer than 6 values".into())
        })
}

/// DICOM TM ("HHMMSS.ffffff", or with colons) as seconds since midnight.
pub fn seconds_since_midnight(tm: &str) -> Option<f64> {
    let t: String = tm.trim().chars().filter(|c| *c != ':').collect();
    let (hms, frac) = t.split_once('.').unwrap_or((&t, ""));
    if hms.len() < 2 || !hms.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let field = |i: usize| hms.get(i..i + 2).map_or(Ok(0.0), |s| s.parse::<f64>());
    let seconds = field(0).ok()? * 3600.0 + field(2).ok()? * 60.0 + field(4).ok()?;
    let frac = if frac.is_empty() {
        0.0
    } else {
        format!("0.{frac}").parse::<f64>().ok()?
    };
    Some(seconds + frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_with_times(ms: &[f64]) -> CsaHeader {
        let mut h = CsaHeader::default();
        let items = ms.iter().map(|t| t.to_string()).collect();
        h.elements.insert("MosaicRefAcqTimes".into(), items);
        h
    }

    #[test]
    fn repeated_slice_times_give_the_multiband_factor() {
        let h = header_with_times(&[0.0, 500.0, 0.0, 500.0, 0.0, 500.0]);
        let (times, mb) = slice_times(&h, 6, false);
        assert_eq!(mb, 3);
        assert_eq!(times, vec![0.0, 0.5, 0.0, 0.5, 0.0, 0.5]);
    }

    #[test]
    fn negative_times_are_shifted_and_reversed_slices_reverse_them() {
        let h = header_with_times(&[-10.0, 90.0, 190.0]);
        let (times, mb) = slice_times(&h, 3, true);
        assert_eq!(mb, 1);
        assert_eq!(times, vec![0.2, 0.1, 0.0]);
        // Identical times carry no information: dcm2niix writes none.
        assert!(slice_times(&header_with_times(&[5.0, 5.0]), 2, false)
            .0
            .is_empty());
    }

    #[test]
    fn acquisition_time_parses() {
        assert_eq!(seconds_since_midnight("101530.5"), Some(36930.5));
        assert_eq!(seconds_since_midnight("10:15:30"), Some(36930.0));
        assert_eq!(seconds_since_midnight("x"), None);
    }
}
