//! Patient geometry: DICOM (LPS, row-major slices) to the NIfTI RAS affine that
//! dcm2niix writes, shared by every volume layout (mosaic, single-slice, enhanced).

/// A 3-vector in patient space (mm or direction cosines).
pub type Vec3 = [f64; 3];

pub fn cross(a: Vec3, b: Vec3) -> Vec3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

pub fn dot(a: Vec3, b: Vec3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

pub fn scale(a: Vec3, s: f64) -> Vec3 {
    [a[0] * s, a[1] * s, a[2] * s]
}

pub fn add(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

pub fn sub(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

pub fn norm(a: Vec3) -> f64 {
    dot(a, a).sqrt()
}

/// How a stack of 2D DICOM slices sits in the patient (all vectors LPS, as in DICOM).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SliceStack {
    /// ImageOrientationPatient[0..3]: direction of increasing column index.
    pub row_cosines: Vec3,
    /// ImageOrientationPatient[3..6]: direction of increasing row index.
    pub col_cosines: Vec3,
    /// PixelSpacing: [between rows, between columns] in mm.
    pub pixel_spacing: [f64; 2],
    /// ImagePositionPatient of the first slice in storage order (centre of its first pixel).
    pub first_position: Vec3,
    /// Displacement from one stored slice to the next, mm.
    pub slice_step: Vec3,
    /// Rows of one slice (needed for the row flip).
    pub rows: usize,
}

impl SliceStack {
    /// The sform dcm2niix writes for this stack, when the voxels are stored with the
    /// DICOM rows flipped (NIfTI j = rows - 1 - DICOM row), as dcm2niix stores them.
    pub fn ras_affine(&self) -> [[f64; 4]; 4] {
        let i_axis = scale(self.row_cosines, self.pixel_spacing[1]);
        let j_axis = scale(self.col_cosines, self.pixel_spacing[0]);
        // Flipping rows turns the j axis around and moves the origin to the last row.
        let origin = add(
            self.first_position,
            scale(j_axis, self.rows.saturating_sub(1) as f64),
        );
        let j_axis = scale(j_axis, -1.0);
        let k_axis = self.slice_step;
        let mut m = [[0.0; 4]; 4];
        for r in 0..3 {
            // LPS to RAS: negate x and y.
            let sign = if r < 2 { -1.0 } else { 1.0 };
            m[r] = [
                sign * i_axis[r],
                sign * j_axis[r],
                sign * k_axis[r],
                sign * origin[r],
            ];
        }
        m[3] = [0.0, 0.0, 0.0, 1.0];
        m
    }
}

/// Copies one DICOM frame (row-major, `rows` x `cols`) into slice `k` of a Fortran-order
/// volume with the rows flipped, the storage dcm2niix uses.
pub fn put_slice_flipped<T: Copy>(
    volume: &mut ndarray::Array3<T>,
    k: usize,
    frame: &[T],
    rows: usize,
    cols: usize,
) {
    // Bounds-checked: a short frame or a small volume leaves voxels untouched, never panics.
    for (r, src) in frame.chunks_exact(cols.max(1)).take(rows).enumerate() {
        let j = rows - 1 - r;
        for (i, &v) in src.iter().enumerate() {
            if let Some(dst) = volume.get_mut([i, j, k]) {
                *dst = v;
            }
        }
    }
}

/// How dcm2niix's `nii_setOrtho` turns a volume to the closest RAS-aligned axes: output
/// axis `n` is input axis `source[n]`, read backwards when `flip[n]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reorientation {
    pub source: [usize; 3],
    pub flip: [bool; 3],
    /// The sform of the reoriented volume (origin at the corner nearest the minimum).
    pub affine: [[f64; 4]; 4],
}

/// The reorientation dcm2niix applies to a 3D (non-EPI, single-volume) acquisition
/// with this `affine` and `dims`, or `None` when it keeps the stored order.
///
/// Method (dcm2niix nii_ortho.cpp): the voxel corner whose position is nearest the
/// minimum of all corners' positions fixes which axes to reverse; among the six axis
/// permutations (with those reversals) the one whose matrix has the largest dot
/// product with the sform's rotation wins; the new origin is that corner.
pub fn ras_reorientation(affine: &[[f64; 4]; 4], dims: [usize; 3]) -> Option<Reorientation> {
    let m: [[f64; 3]; 3] = std::array::from_fn(|r| [affine[r][0], affine[r][1], affine[r][2]]);
    let canonical = (0..3).all(|r| {
        (0..3).all(|c| {
            if r == c {
                m[r][c] > 0.0
            } else {
                m[r][c] == 0.0
            }
        })
    });
    if canonical || dims.contains(&0) {
        return None;
    }
    let position = |ijk: [f64; 3]| -> Vec3 {
        std::array::from_fn(|r| {
            m[r][0] * ijk[0] + m[r][1] * ijk[1] + m[r][2] * ijk[2] + affine[r][3]
        })
    };
    let corners: Vec<([bool; 3], Vec3)> = (0..8)
        .map(|n| {
            let flip = [n & 1 != 0, n & 2 != 0, n & 4 != 0];
            let ijk = std::array::from_fn(|a| if flip[a] { (dims[a] - 1) as f64 } else { 0.0 });
            (flip, position(ijk))
        })
        .collect();
    let mut min = corners[0].1;
    for (_, c) in &corners[1..] {
        for a in 0..3 {
            min[a] = min[a].min(c[a]);
        }
    }
    // The first corner strictly nearest the minimum, like dcm2niix.
    let mut best = 0;
    for n in 1..8 {
        if norm(sub(corners[n].1, min)) < norm(sub(corners[best].1, min)) {
            best = n;
        }
    }
    let (flip_of_axis, origin) = corners[best];
    let sign = |a: usize| if flip_of_axis[a] { -1.0 } else { 1.0 };
    // Row r of a permutation: input axis r goes to output axis perm[r]; dcm2niix's order.
    const PERMUTATIONS: [[usize; 3]; 6] = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    let mut chosen: Option<([[f64; 3]; 3], f64)> = None;
    for perm in PERMUTATIONS {
        let mut p = [[0.0; 3]; 3];
        for (r, &c) in perm.iter().enumerate() {
            p[r][c] = sign(r);
        }
        // dcm2niix's residual: sum over (i, j) of m[i][j] * p[j][i].
        let score: f64 = (0..3)
            .flat_map(|i| (0..3).map(move |j| (i, j)))
            .map(|(i, j)| m[i][j] * p[j][i])
            .sum();
        if score > chosen.map_or(0.0, |(_, s)| s) {
            chosen = Some((p, score));
        }
    }
    let (p, _) = chosen?;
    let mut source = [0usize; 3];
    let mut flip = [false; 3];
    for (r, row) in p.iter().enumerate() {
        for (c, &v) in row.iter().enumerate() {
            if v != 0.0 {
                source[c] = r;
                flip[c] = v < 0.0;
            }
        }
    }
    if source == [0, 1, 2] && flip == [false; 3] {
        return None;
    }
    let mut out = [[0.0, 0.0, 0.0, 1.0]; 4];
    for r in 0..3 {
        for c in 0..3 {
            out[r][c] = (0..3).map(|k| m[r][k] * p[k][c]).sum();
        }
        out[r][3] = origin[r];
    }
    Some(Reorientation {
        source,
        flip,
        affine: out,
    })
}
