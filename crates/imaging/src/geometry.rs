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
