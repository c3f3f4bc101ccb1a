//! A voxel grid: shape plus voxel-to-RAS affine, and the copy of a volume into a flat
//! `f32` buffer in NIfTI memory order.

use nalgebra::{Matrix4, Vector3};
use ndarray::ArrayView3;

use crate::{RealtimeError, Result};

/// Shape `(nx, ny, nz)` and the affine mapping voxel (i, j, k, 1) to RAS+ mm.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub shape: [usize; 3],
    pub affine: Matrix4<f64>,
    /// The inverse affine (RAS+ mm to voxel), computed once.
    pub inverse: Matrix4<f64>,
}

impl Grid {
    /// Errors when the affine is singular or a dimension is zero.
    pub fn new(shape: [usize; 3], affine: [[f64; 4]; 4]) -> Result<Grid> {
        if shape.contains(&0) {
            return Err(RealtimeError::Invalid(format!(
                "grid of shape {shape:?} has no voxels"
            )));
        }
        let m = Matrix4::from_fn(|r, c| affine[r][c]);
        let inverse = m
            .try_inverse()
            .ok_or_else(|| RealtimeError::SingularAffine(format!("{affine:?}")))?;
        Ok(Grid {
            shape,
            affine: m,
            inverse,
        })
    }

    /// The grid of an `imaging::Volume`.
    pub fn of(volume: &imaging::Volume) -> Result<Grid> {
        Grid::new(volume.voxels.shape(), volume.affine)
    }

    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The world (RAS+ mm) position of a voxel index (fractional allowed).
    pub fn world(&self, ijk: [f64; 3]) -> Vector3<f64> {
        let v = self.affine * nalgebra::Vector4::new(ijk[0], ijk[1], ijk[2], 1.0);
        Vector3::new(v.x, v.y, v.z)
    }

    /// The world position of the grid's centre voxel ((n - 1) / 2 on each axis): the
    /// centre of rotation of [`crate::RigidParams`].
    pub fn centre(&self) -> Vector3<f64> {
        self.world(self.shape.map(|n| (n as f64 - 1.0) / 2.0))
    }

    /// Voxel sizes in mm (column norms of the affine).
    pub fn voxel_size_mm(&self) -> [f64; 3] {
        [0, 1, 2].map(|c| self.affine.fixed_view::<3, 1>(0, c).norm())
    }

    /// The grid of a 2x (per axis in `factor`) box-averaged copy: voxel i' covers fine
    /// voxels f*i' .. f*i'+f-1, so its centre is fine index f*i' + (f-1)/2.
    pub fn downsampled(&self, factor: [usize; 3]) -> Grid {
        let shape = [0, 1, 2].map(|a| (self.shape[a] / factor[a]).max(1));
        let mut scale = Matrix4::identity();
        for a in 0..3 {
            scale[(a, a)] = factor[a] as f64;
            scale[(a, 3)] = (factor[a] as f64 - 1.0) / 2.0;
        }
        let affine = self.affine * scale;
        let inverse = affine.try_inverse().unwrap_or(Matrix4::zeros());
        Grid {
            shape,
            affine,
            inverse,
        }
    }

    /// Flat index of voxel (i, j, k) in NIfTI memory order.
    #[inline]
    pub fn index(&self, i: usize, j: usize, k: usize) -> usize {
        i + self.shape[0] * (j + self.shape[1] * k)
    }
}

/// Copies `volume` (shape `(nx, ny, nz)`) into `out` in NIfTI memory order (i fastest),
/// converting to f32. `out` must already have `nx * ny * nz` elements (no allocation).
pub fn copy_into(volume: ArrayView3<'_, f32>, out: &mut [f32]) -> Result<()> {
    if out.len() != volume.len() {
        return Err(RealtimeError::Invalid(format!(
            "volume of shape {:?} does not fit a buffer of {} voxels",
            volume.shape(),
            out.len()
        )));
    }
    // `t()` reverses the axes, so its logical order has i varying fastest.
    for (o, v) in out.iter_mut().zip(volume.t().iter()) {
        *o = *v;
    }
    Ok(())
}

/// The voxels of an `imaging::Volume` as f32 in NIfTI memory order (allocates; for
/// setup and for callers outside the per-TR path).
pub fn volume_f32(volume: &imaging::Volume) -> Vec<f32> {
    use imaging::Voxels;
    match &volume.voxels {
        Voxels::I16(a) => a.t().iter().map(|&v| f32::from(v)).collect(),
        Voxels::U16(a) => a.t().iter().map(|&v| f32::from(v)).collect(),
        Voxels::F32(a) => a.t().iter().copied().collect(),
    }
}

/// Like [`volume_f32`] but into an existing buffer of the right length (per-TR path).
pub fn volume_f32_into(volume: &imaging::Volume, out: &mut [f32]) -> Result<()> {
    use imaging::Voxels;
    let shape = volume.voxels.shape();
    if out.len() != shape.iter().product::<usize>() {
        return Err(RealtimeError::Invalid(format!(
            "volume of shape {shape:?} does not fit a buffer of {} voxels",
            out.len()
        )));
    }
    match &volume.voxels {
        Voxels::I16(a) => out
            .iter_mut()
            .zip(a.t().iter())
            .for_each(|(o, &v)| *o = f32::from(v)),
        Voxels::U16(a) => out
            .iter_mut()
            .zip(a.t().iter())
            .for_each(|(o, &v)| *o = f32::from(v)),
        Voxels::F32(a) => out.iter_mut().zip(a.t().iter()).for_each(|(o, &v)| *o = v),
    }
    Ok(())
}
