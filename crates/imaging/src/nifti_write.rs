//! NIfTI-1 writing from scratch: a 348-byte header, the 4-byte extension flag and the
//! voxels, little endian, as `.nii` or `.nii.gz` bytes in memory.
//!
//! Pure: the functions return bytes, or write into a `Write` the caller gives
//! ([`SeriesWriter`], for runs too long to hold in memory), and the callers write
//! files (atomically). The
//! header follows dcm2niix's choices so files compare equal to its output: sform and
//! qform both "scanner" (code 1), the qform quaternion derived from the sform the way
//! `nifti_mat44_to_quatern` does it, xyzt_units mm + s, TR in pixdim[4], vox_offset 352,
//! stored integers with the volume's [`crate::Scaling`] as scl_slope / scl_inter, in
//! their stored type (dcm2niix's default keeps uint16 as uint16).

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;

use crate::error::{ImagingError, Result};
use crate::volume::{Volume, Voxels};

/// Size of the NIfTI-1 header plus the 4-byte "no extensions" flag.
pub const VOX_OFFSET: usize = 352;

/// NIfTI datatype codes of the voxel types we store.
pub const DT_INT16: i16 = 4;
pub const DT_FLOAT32: i16 = 16;
pub const DT_UINT16: i16 = 512;

/// The quaternion form of an affine: NIfTI's quatern_b/c/d, qoffset_x/y/z and qfac.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quatern {
    pub b: f64,
    pub c: f64,
    pub d: f64,
    pub offset: [f64; 3],
    /// +1 or -1: the sign of the determinant, stored in pixdim[0].
    pub qfac: f64,
}

/// One volume as a 3D NIfTI-1 file (`gz`: gzip-compressed `.nii.gz` bytes).
pub fn volume_to_nifti(volume: &Volume, gz: bool) -> Result<Vec<u8>> {
    series_to_nifti(volume, &[&volume.voxels], gz)
}

/// A series as one NIfTI-1 file: geometry, timing and metadata from `geometry`, the
/// voxels from `frames` (all of `geometry`'s shape and type). One frame writes 3D.
pub fn series_to_nifti(geometry: &Volume, frames: &[&Voxels], gz: bool) -> Result<Vec<u8>> {
    let voxel_bytes = geometry.voxels.shape().iter().product::<usize>()
        * usize::from(bytes_per_voxel(datatype_of(&geometry.voxels)));
    let capacity = VOX_OFFSET + voxel_bytes * frames.len();
    let out = Vec::with_capacity(if gz { capacity / 2 } else { capacity });
    let mut writer = SeriesWriter::new(geometry, frames.len(), gz, out)?;
    for frame in frames {
        writer.write_volume(frame)?;
    }
    writer.finish()
}

/// A series written into `out` one volume at a time, so that a run of any length needs
/// one volume in memory. [`series_to_nifti`] writes through it too: gzip's output
/// depends on how the input is split into writes, so both must write the same pieces
/// (the header, then one write per volume) to give the same bytes.
pub struct SeriesWriter<W: Write> {
    out: Out<W>,
    shape: [usize; 3],
    datatype: i16,
    /// Volumes announced in the header / written so far.
    volumes: usize,
    written: usize,
    /// One volume's little-endian bytes, reused.
    buffer: Vec<u8>,
}

impl<W: Write> std::fmt::Debug for SeriesWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeriesWriter")
            .field("shape", &self.shape)
            .field("datatype", &self.datatype)
            .field("volumes", &self.volumes)
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

enum Out<W: Write> {
    Plain(W),
    Gz(GzEncoder<W>),
}

impl<W: Write> SeriesWriter<W> {
    /// Writes the header of a series of `volumes` volumes with `geometry`'s shape,
    /// voxel type, geometry, timing and metadata (`gz`: gzip-compressed). Errors:
    /// no volumes, a dimension too large for NIfTI-1, writing into `out`.
    pub fn new(geometry: &Volume, volumes: usize, gz: bool, out: W) -> Result<Self> {
        if volumes == 0 {
            return Err(ImagingError::Inconsistent(
                "a NIfTI needs at least one volume, none were given".into(),
            ));
        }
        let datatype = datatype_of(&geometry.voxels);
        let header = header(geometry, volumes, datatype)?;
        let mut writer = SeriesWriter {
            out: if gz {
                Out::Gz(GzEncoder::new(out, Compression::fast()))
            } else {
                Out::Plain(out)
            },
            shape: geometry.voxels.shape(),
            datatype,
            volumes,
            written: 0,
            buffer: Vec::with_capacity(VOX_OFFSET),
        };
        writer.buffer.extend_from_slice(&header);
        writer.buffer.extend_from_slice(&[0u8; 4]);
        writer.flush_buffer()?;
        Ok(writer)
    }

    /// Writes the next volume. Errors: more volumes than announced, another shape or
    /// voxel type than the series', writing into the output.
    pub fn write_volume(&mut self, frame: &Voxels) -> Result<()> {
        let t = self.written;
        if t == self.volumes {
            return Err(ImagingError::Inconsistent(format!(
                "the series has {} volumes, volume {t} is one too many",
                self.volumes
            )));
        }
        if frame.shape() != self.shape || datatype_of(frame) != self.datatype {
            return Err(ImagingError::Inconsistent(format!(
                "volume {t} has shape {:?} and NIfTI datatype {}, the series {:?} and {}",
                frame.shape(),
                datatype_of(frame),
                self.shape,
                self.datatype
            )));
        }
        frame.write_le(&mut self.buffer);
        self.flush_buffer()?;
        self.written += 1;
        Ok(())
    }

    /// Ends the series (the gzip trailer) and gives the output back. Error: fewer
    /// volumes written than announced, writing into the output.
    pub fn finish(self) -> Result<W> {
        if self.written != self.volumes {
            return Err(ImagingError::Inconsistent(format!(
                "the series announced {} volumes, {} were written",
                self.volumes, self.written
            )));
        }
        match self.out {
            Out::Plain(out) => Ok(out),
            Out::Gz(encoder) => encoder.finish().map_err(ImagingError::Write),
        }
    }

    fn flush_buffer(&mut self) -> Result<()> {
        let written = match &mut self.out {
            Out::Plain(out) => out.write_all(&self.buffer),
            Out::Gz(encoder) => encoder.write_all(&self.buffer),
        };
        self.buffer.clear();
        written.map_err(ImagingError::Write)
    }
}

/// The NIfTI datatype of the stored type of `voxels`.
pub fn datatype_of(voxels: &Voxels) -> i16 {
    match voxels {
        Voxels::I16(_) => DT_INT16,
        Voxels::U16(_) => DT_UINT16,
        Voxels::F32(_) => DT_FLOAT32,
    }
}

fn bytes_per_voxel(datatype: i16) -> u8 {
    if datatype == DT_FLOAT32 {
        4
    } else {
        2
    }
}

/// The 348-byte header for `nt` volumes shaped like `geometry`, voxels of `datatype`.
fn header(geometry: &Volume, nt: usize, datatype: i16) -> Result<[u8; 348]> {
    let [nx, ny, nz] = geometry.voxels.shape();
    let mut dim = [1i16; 8];
    dim[0] = if nt > 1 { 4 } else { 3 };
    for (d, n) in dim[1..5].iter_mut().zip([nx, ny, nz, nt.max(1)]) {
        *d = i16::try_from(n).map_err(|_| {
            ImagingError::Unsupported(format!(
                "a dimension of {n} does not fit a NIfTI-1 header (at most 32767)"
            ))
        })?;
    }
    let quatern = quatern_from_affine(&geometry.affine);
    let mut pixdim = [0f32; 8];
    pixdim[0] = quatern.qfac as f32;
    for (p, v) in pixdim[1..4].iter_mut().zip(geometry.voxel_size) {
        *p = v as f32;
    }
    pixdim[4] = geometry.tr_s.unwrap_or(0.0) as f32;

    let mut h = HeaderBytes([0u8; 348]);
    h.i32(0, 348);
    h.u8(39, dim_info(&geometry.meta));
    for (n, d) in dim.iter().enumerate() {
        h.i16(40 + 2 * n, *d);
    }
    h.i16(70, datatype);
    h.i16(72, i16::from(bytes_per_voxel(datatype)) * 8);
    for (n, p) in pixdim.iter().enumerate() {
        h.f32(76 + 4 * n, *p);
    }
    h.f32(108, VOX_OFFSET as f32);
    h.f32(112, geometry.scaling.slope);
    h.f32(116, geometry.scaling.inter);
    let code = geometry
        .meta
        .nifti_slice_code
        .unwrap_or_else(|| slice_code(&geometry.slice_timing_s, nz));
    h.u8(122, code);
    h.u8(123, 2 | 8); // NIFTI_UNITS_MM | NIFTI_UNITS_SEC
    h.bytes(148, 80, descrip(geometry).as_bytes());
    h.i16(252, 1); // qform_code: scanner anatomical
    h.i16(254, 1); // sform_code: scanner anatomical
    h.f32(256, quatern.b as f32);
    h.f32(260, quatern.c as f32);
    h.f32(264, quatern.d as f32);
    for (n, o) in quatern.offset.iter().enumerate() {
        h.f32(268 + 4 * n, *o as f32);
    }
    for (row, at) in geometry.affine.iter().take(3).zip([280, 296, 312]) {
        for (n, v) in row.iter().enumerate() {
            h.f32(at + 4 * n, *v as f32);
        }
    }
    h.bytes(344, 4, b"n+1\0");
    Ok(h.0)
}

/// Little-endian field writer over the fixed header; offsets are NIfTI-1's.
struct HeaderBytes([u8; 348]);

impl HeaderBytes {
    fn bytes(&mut self, at: usize, max: usize, value: &[u8]) {
        let n = value.len().min(max);
        if let Some(dst) = self.0.get_mut(at..at + n) {
            dst.copy_from_slice(&value[..n]);
        }
    }
    fn u8(&mut self, at: usize, v: u8) {
        self.bytes(at, 1, &[v]);
    }
    fn i16(&mut self, at: usize, v: i16) {
        self.bytes(at, 2, &v.to_le_bytes());
    }
    fn i32(&mut self, at: usize, v: i32) {
        self.bytes(at, 4, &v.to_le_bytes());
    }
    fn f32(&mut self, at: usize, v: f32) {
        self.bytes(at, 4, &v.to_le_bytes());
    }
}

/// freq_dim | phase_dim << 2 | slice_dim << 4; like dcm2niix, phase along j unless the
/// phase-encoding direction says i, or (without one) InPlanePhaseEncodingDirection is
/// ROW (dcm2niix sets it from the DICOM rows and columns and keeps it when it turns a
/// 3D acquisition).
fn dim_info(meta: &crate::volume::Metadata) -> u8 {
    let phase_along_i = match meta.phase_encoding_direction.as_deref() {
        Some(direction) => direction.starts_with('i'),
        None => meta
            .extra
            .get("InPlanePhaseEncodingDirectionDICOM")
            .is_some_and(|v| v == "ROW"),
    };
    let (freq, phase) = if phase_along_i { (2, 1) } else { (1, 2) };
    freq | (phase << 2) | (3 << 4)
}

/// "TE=28;Time=124750.327" like dcm2niix (TE in ms, acquisition time as hhmmss.fff).
fn descrip(geometry: &Volume) -> String {
    let mut parts = Vec::new();
    if let Some(te) = geometry.meta.echo_time_s {
        parts.push(format!("TE={}", trim_number(te * 1000.0, 4)));
    }
    if let Some(t) = geometry
        .acquisition_time_s
        .filter(|t| t.is_finite() && *t >= 0.0)
    {
        let ms = (t * 1000.0).round() as u64;
        let (h, m, s) = (ms / 3_600_000, ms / 60_000 % 60, ms % 60_000);
        parts.push(format!("Time={h:02}{m:02}{:02}.{:03}", s / 1000, s % 1000));
    }
    parts.join(";")
}

/// `v` with at most `decimals` decimals and no trailing zeros ("28", "30.001").
pub fn trim_number(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// NIfTI slice_code from slice onsets in k order, like dcm2niix's rules: 0 when
/// unknown or when several slices share an onset (multiband, 3D).
pub fn slice_code(timing: &[f64], nz: usize) -> u8 {
    let n = timing.len();
    if n < 3 || n != nz {
        return 0;
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| timing[a].total_cmp(&timing[b]));
    if order.windows(2).any(|w| timing[w[0]] == timing[w[1]]) {
        return 0;
    }
    let seq_inc: Vec<usize> = (0..n).collect();
    let seq_dec: Vec<usize> = (0..n).rev().collect();
    let evens_then_odds = |start: usize| -> Vec<usize> {
        (start..n)
            .step_by(2)
            .chain((1 - start..n).step_by(2))
            .collect()
    };
    let alt_dec = |second_from_top: bool| -> Vec<usize> {
        let top = if second_from_top { n - 2 } else { n - 1 };
        let other = if second_from_top { n - 1 } else { n - 2 };
        (0..=top)
            .rev()
            .step_by(2)
            .chain((0..=other).rev().step_by(2))
            .collect()
    };
    if order == seq_inc {
        1
    } else if order == seq_dec {
        2
    } else if order == evens_then_odds(0) {
        3
    } else if order == alt_dec(false) {
        4
    } else if order == evens_then_odds(1) {
        5
    } else if order == alt_dec(true) {
        6
    } else {
        0
    }
}

/// The qform quaternion of an affine, as nifti_mat44_to_quatern computes it: the
/// column lengths are the voxel sizes, the rotation is made orthogonal (polar
/// decomposition), a negative determinant becomes qfac = -1 with the third column
/// negated, and the quaternion is taken with a non-negative real part.
pub fn quatern_from_affine(affine: &[[f64; 4]; 4]) -> Quatern {
    let offset = [affine[0][3], affine[1][3], affine[2][3]];
    let mut r = [[0f64; 3]; 3];
    for c in 0..3 {
        let len = (0..3).map(|i| affine[i][c].powi(2)).sum::<f64>().sqrt();
        for i in 0..3 {
            r[i][c] = if len > 0.0 {
                affine[i][c] / len
            } else if i == c {
                1.0
            } else {
                0.0
            };
        }
    }
    let mut r = polar(r);
    let qfac = if det3(&r) > 0.0 { 1.0 } else { -1.0 };
    if qfac < 0.0 {
        for row in &mut r {
            row[2] = -row[2];
        }
    }
    let (b, c, d) = quaternion_bcd(&r);
    Quatern {
        b,
        c,
        d,
        offset,
        qfac,
    }
}

/// Quaternion (b, c, d) of a proper rotation, with a >= 0.
fn quaternion_bcd(r: &[[f64; 3]; 3]) -> (f64, f64, f64) {
    let trace = r[0][0] + r[1][1] + r[2][2] + 1.0;
    let (a, b, c, d);
    if trace > 0.5 {
        a = 0.5 * trace.sqrt();
        b = 0.25 * (r[2][1] - r[1][2]) / a;
        c = 0.25 * (r[0][2] - r[2][0]) / a;
        d = 0.25 * (r[1][0] - r[0][1]) / a;
    } else {
        let xd = 1.0 + r[0][0] - (r[1][1] + r[2][2]);
        let yd = 1.0 + r[1][1] - (r[0][0] + r[2][2]);
        let zd = 1.0 + r[2][2] - (r[0][0] + r[1][1]);
        if xd > 1.0 {
            b = 0.5 * xd.sqrt();
            c = 0.25 * (r[0][1] + r[1][0]) / b;
            d = 0.25 * (r[0][2] + r[2][0]) / b;
            a = 0.25 * (r[2][1] - r[1][2]) / b;
        } else if yd > 1.0 {
            c = 0.5 * yd.sqrt();
            b = 0.25 * (r[0][1] + r[1][0]) / c;
            d = 0.25 * (r[1][2] + r[2][1]) / c;
            a = 0.25 * (r[0][2] - r[2][0]) / c;
        } else {
            d = 0.5 * zd.sqrt();
            b = 0.25 * (r[0][2] + r[2][0]) / d;
            c = 0.25 * (r[1][2] + r[2][1]) / d;
            a = 0.25 * (r[1][0] - r[0][1]) / d;
        }
    }
    if a < 0.0 {
        (-b, -c, -d)
    } else {
        (b, c, d)
    }
}

fn det3(m: &[[f64; 3]; 3]) -> f64 {
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
}

fn inverse3(m: &[[f64; 3]; 3]) -> Option<[[f64; 3]; 3]> {
    let det = det3(m);
    if det == 0.0 || !det.is_finite() {
        return None;
    }
    let mut inv = [[0f64; 3]; 3];
    for (i, row) in inv.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            // Cofactor of m[j][i] (transposed adjugate).
            let (r0, r1) = ((j + 1) % 3, (j + 2) % 3);
            let (c0, c1) = ((i + 1) % 3, (i + 2) % 3);
            *v = (m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0]) / det;
        }
    }
    Some(inv)
}

/// The orthogonal factor of `m` (Newton iteration X <- (X + X^-T) / 2); scanner
/// matrices are orthogonal to float precision already, so this converges at once.
fn polar(m: [[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let mut x = m;
    for _ in 0..100 {
        let Some(inv) = inverse3(&x) else { return x };
        let mut next = [[0f64; 3]; 3];
        let mut change = 0f64;
        for i in 0..3 {
            for j in 0..3 {
                next[i][j] = 0.5 * (x[i][j] + inv[j][i]);
                change = change.max((next[i][j] - x[i][j]).abs());
            }
        }
        x = next;
        if change < 1e-12 {
            break;
        }
    }
    x
}
