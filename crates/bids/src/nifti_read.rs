//! Reading NIfTI-1 bytes (`.nii`, or gzip-compressed `.nii.gz`) into `imaging` volumes,
//! the inverse of `imaging::nifti_write` for the data types the imaging crate keeps.
//!
//! Layout from the NIfTI-1 standard (nifti1.h): a 348-byte header, voxels from
//! `vox_offset`, i fastest. Either byte order is read (sizeof_hdr tells which).
//! Stored values are kept with their scl_slope / scl_inter, so a file we wrote reads
//! back voxel for voxel.

use std::io::Read;

use imaging::{Scaling, Volume, Voxels};

use crate::error::{BidsError, Result};

/// What a NIfTI file holds: its volumes (3D files give one) in time order.
#[derive(Debug, Clone)]
pub struct NiftiImage {
    /// One `Volume` per time point; shape (nx, ny, nz), NIfTI order. Their `tr_s` is
    /// pixdim[4] in seconds; their metadata is empty (it lives in the sidecar).
    pub volumes: Vec<Volume>,
}

/// Decodes `bytes` (gzip detected by its magic number). `max_bytes` bounds the
/// decompressed size. Errors name the field that is wrong: not NIfTI-1, more than 4
/// dimensions, a data type other than uint8/int16/uint16/float32, voxels cut short.
pub fn read_nifti(bytes: &[u8], max_bytes: usize) -> Result<NiftiImage> {
    let owned;
    let b: &[u8] = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .take(max_bytes as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| BidsError::invalid("NIfTI", format!("gzip data: {e}")))?;
        if out.len() > max_bytes {
            return Err(BidsError::invalid(
                "NIfTI",
                format!("more than {max_bytes} bytes once decompressed"),
            ));
        }
        owned = out;
        &owned
    } else {
        bytes
    };
    if b.len() < 348 {
        return Err(BidsError::invalid(
            "NIfTI",
            format!("{} bytes, shorter than the 348-byte header", b.len()),
        ));
    }
    let header = Header { b, big: false };
    let header = match header.i32(0) {
        348 => header,
        _ if (Header { b, big: true }).i32(0) == 348 => Header { b, big: true },
        other => {
            return Err(BidsError::invalid(
                "NIfTI sizeof_hdr",
                format!("{other}, not 348 (not a NIfTI-1 file)"),
            ))
        }
    };
    if &b[344..347] != b"n+1" {
        return Err(BidsError::invalid(
            "NIfTI magic",
            "not \"n+1\" (a single-file NIfTI-1)",
        ));
    }
    let ndim = header.i16(40);
    if !(1..=4).contains(&ndim) {
        return Err(BidsError::invalid(
            "NIfTI dim[0]",
            format!("{ndim} dimensions (1 to 4 are read)"),
        ));
    }
    let mut dims = [1usize; 4];
    for (n, d) in dims.iter_mut().enumerate().take(ndim as usize) {
        let v = header.i16(42 + 2 * n);
        *d = usize::try_from(v)
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| BidsError::invalid(format!("NIfTI dim[{}]", n + 1), v.to_string()))?;
    }
    let datatype = header.i16(70);
    let (width, dtype) = match datatype {
        2 => (1, "uint8"),
        4 => (2, "int16"),
        512 => (2, "uint16"),
        16 => (4, "float32"),
        other => {
            return Err(BidsError::invalid(
                "NIfTI datatype",
                format!("{other} (uint8, int16, uint16 and float32 are read)"),
            ))
        }
    };
    let [nx, ny, nz, nt] = dims;
    let per_volume = nx * ny * nz * width;
    let offset = header.f32(108);
    let offset = if offset.is_finite() && offset >= 348.0 {
        offset as usize
    } else {
        352
    };
    let needed = per_volume
        .checked_mul(nt)
        .and_then(|n| n.checked_add(offset));
    if needed.is_none_or(|n| n > b.len()) {
        return Err(BidsError::invalid(
            "NIfTI voxels",
            format!(
                "{nx}x{ny}x{nz}x{nt} {dtype} voxels from byte {offset} do not fit in {} bytes",
                b.len()
            ),
        ));
    }
    let (slope, inter) = (header.f32(112), header.f32(116));
    let scaling = if slope == 0.0 || !slope.is_finite() {
        Scaling::IDENTITY
    } else {
        Scaling {
            slope,
            inter: if inter.is_finite() { inter } else { 0.0 },
        }
    };
    let pixdim: [f64; 8] = std::array::from_fn(|n| f64::from(header.f32(76 + 4 * n)));
    let affine = affine(&header, &pixdim);
    let time_scale = match header.b[123] & 0x38 {
        16 => 1e-3,
        24 => 1e-6,
        _ => 1.0,
    };
    let tr_s = (pixdim[4] > 0.0).then_some(pixdim[4] * time_scale);
    let mut volumes = Vec::with_capacity(nt);
    for t in 0..nt {
        let at = offset + t * per_volume;
        let raw = &b[at..at + per_volume];
        let voxels = voxels([nx, ny, nz], dtype, raw, header.big)?;
        volumes.push(Volume {
            voxels,
            scaling,
            affine,
            voxel_size: [pixdim[1], pixdim[2], pixdim[3]],
            tr_s,
            slice_timing_s: Vec::new(),
            acquisition_time_s: None,
            meta: Default::default(),
        });
    }
    Ok(NiftiImage { volumes })
}

/// One volume's voxels; uint8 is widened to int16 (the imaging crate's smallest type).
fn voxels(shape: [usize; 3], dtype: &str, raw: &[u8], big: bool) -> Result<Voxels> {
    let le: std::borrow::Cow<[u8]> = match (dtype, big) {
        ("uint8", _) => raw
            .iter()
            .flat_map(|&v| i16::from(v).to_le_bytes())
            .collect(),
        (_, false) => raw.into(),
        ("float32", true) => raw
            .chunks_exact(4)
            .flat_map(|c| [c[3], c[2], c[1], c[0]])
            .collect(),
        (_, true) => raw.chunks_exact(2).flat_map(|c| [c[1], c[0]]).collect(),
    };
    let dtype = if dtype == "uint8" { "int16" } else { dtype };
    Ok(Voxels::from_le_bytes(shape, dtype, &le)?)
}

/// The voxel-to-RAS affine: the sform when sform_code > 0, else the qform (NIfTI-1
/// method 2, quaternion), else the voxel sizes alone (method 1).
fn affine(h: &Header, pixdim: &[f64; 8]) -> [[f64; 4]; 4] {
    let f = |at: usize| f64::from(h.f32(at));
    if h.i16(254) > 0 {
        let row = |at: usize| [f(at), f(at + 4), f(at + 8), f(at + 12)];
        return [row(280), row(296), row(312), [0.0, 0.0, 0.0, 1.0]];
    }
    let [dx, dy, dz] = [pixdim[1], pixdim[2], pixdim[3]];
    if h.i16(252) <= 0 {
        return [
            [dx, 0.0, 0.0, 0.0],
            [0.0, dy, 0.0, 0.0],
            [0.0, 0.0, dz, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
    }
    let (b, c, d) = (f(256), f(260), f(264));
    let a = (1.0 - (b * b + c * c + d * d)).max(0.0).sqrt();
    let qfac = if pixdim[0] < 0.0 { -1.0 } else { 1.0 };
    let r = [
        [
            a * a + b * b - c * c - d * d,
            2.0 * (b * c - a * d),
            2.0 * (b * d + a * c),
        ],
        [
            2.0 * (b * c + a * d),
            a * a + c * c - b * b - d * d,
            2.0 * (c * d - a * b),
        ],
        [
            2.0 * (b * d - a * c),
            2.0 * (c * d + a * b),
            a * a + d * d - b * b - c * c,
        ],
    ];
    let offset = [f(268), f(272), f(276)];
    let mut out = [[0.0; 4]; 4];
    for i in 0..3 {
        out[i] = [r[i][0] * dx, r[i][1] * dy, r[i][2] * dz * qfac, offset[i]];
    }
    out[3] = [0.0, 0.0, 0.0, 1.0];
    out
}

/// Header fields at byte offsets, in the file's byte order.
struct Header<'a> {
    b: &'a [u8],
    big: bool,
}

impl Header<'_> {
    fn bytes<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut v: [u8; N] = std::array::from_fn(|n| self.b[at + n]);
        if self.big {
            v.reverse();
        }
        v
    }
    fn i16(&self, at: usize) -> i16 {
        i16::from_le_bytes(self.bytes(at))
    }
    fn i32(&self, at: usize) -> i32 {
        i32::from_le_bytes(self.bytes(at))
    }
    fn f32(&self, at: usize) -> f32 {
        f32::from_le_bytes(self.bytes(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imaging::synth::{Synth, SynthSpec};

    fn synthetic(index: usize) -> Volume {
        let synth = Synth::new(SynthSpec::default()).expect("default spec");
        let file = synth.file(index).expect("synthetic DICOM");
        imaging::volume_from_file(&file.bytes).expect("synthetic volume")
    }

    #[test]
    fn what_imaging_writes_reads_back_voxel_for_voxel() {
        let first = synthetic(0);
        let second = synthetic(1);
        let mut run = imaging::run::Run::new(first.clone());
        run.push(second.clone()).expect("fits");
        for gz in [false, true] {
            let bytes = run.to_nifti(gz).expect("writes");
            let image = read_nifti(&bytes, 1 << 30).expect("reads");
            assert_eq!(image.volumes.len(), 2);
            assert_eq!(image.volumes[0].voxels, first.voxels);
            assert_eq!(image.volumes[1].voxels, second.voxels);
            assert_eq!(image.volumes[0].scaling, first.scaling);
            assert_eq!(image.volumes[0].tr_s, first.tr_s);
            for (r, row) in image.volumes[0].affine.iter().enumerate() {
                for (c, v) in row.iter().enumerate() {
                    assert!((v - first.affine[r][c]).abs() < 1e-4, "affine[{r}][{c}]");
                }
            }
        }
    }

    #[test]
    fn bad_bytes_are_errors_naming_the_field() {
        let err = read_nifti(&[0u8; 10], 1 << 20).expect_err("short");
        assert!(err.to_string().contains("348-byte header"), "{err}");
        let volume = synthetic(0);
        let bytes = imaging::nifti_write::volume_to_nifti(&volume, false).expect("writes");
        let err = read_nifti(&bytes[..bytes.len() - 1], 1 << 30).expect_err("cut");
        assert!(err.to_string().contains("NIfTI voxels"), "{err}");
        let gz = imaging::nifti_write::volume_to_nifti(&volume, true).expect("writes");
        let err = read_nifti(&gz, 1000).expect_err("bounded");
        assert!(err.to_string().contains("more than 1000 bytes"), "{err}");
    }
}
