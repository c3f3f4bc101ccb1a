//! Masks and ROIs: a set of voxel indices of a target grid, from a mask in the same grid
//! or in another grid with its own affine (resampled by nearest neighbour in world
//! space, so a mask drawn on a localizer or an anatomical scan applies to the EPI).

use nalgebra::Vector4;

use crate::grid::Grid;
use crate::{RealtimeError, Result};

/// Flat indices (NIfTI memory order) of the target grid's voxels inside a mask.
#[derive(Debug, Clone, PartialEq)]
pub struct Mask {
    pub shape: [usize; 3],
    pub indices: Vec<usize>,
}

impl Mask {
    /// The target-grid voxels whose centre falls in a non-zero voxel of `values`
    /// (NIfTI memory order on `mask_grid`). With `mask_grid == target` this is the
    /// mask itself. Errors when the mask is empty in the target grid.
    pub fn resampled(values: &[f32], mask_grid: &Grid, target: &Grid) -> Result<Mask> {
        if values.len() != mask_grid.len() {
            return Err(RealtimeError::Invalid(format!(
                "mask has {} values, its grid {:?} needs {}",
                values.len(),
                mask_grid.shape,
                mask_grid.len()
            )));
        }
        let map = mask_grid.inverse * target.affine;
        let [nx, ny, nz] = target.shape;
        let mut indices = Vec::new();
        for k in 0..nz {
            for j in 0..ny {
                for i in 0..nx {
                    let v = map * Vector4::new(i as f64, j as f64, k as f64, 1.0);
                    let ijk = [v.x, v.y, v.z].map(|c| c.round());
                    if (0..3).any(|a| ijk[a] < 0.0 || ijk[a] >= mask_grid.shape[a] as f64) {
                        continue;
                    }
                    let src = mask_grid.index(ijk[0] as usize, ijk[1] as usize, ijk[2] as usize);
                    if values[src] != 0.0 {
                        indices.push(target.index(i, j, k));
                    }
                }
            }
        }
        if indices.is_empty() {
            return Err(RealtimeError::Invalid(format!(
                "the mask has no voxel inside the volume's grid {:?}",
                target.shape
            )));
        }
        Ok(Mask {
            shape: target.shape,
            indices,
        })
    }

    /// The voxels of the box `[min, max)` (voxel indices) of `grid`.
    pub fn from_box(min: [usize; 3], max: [usize; 3], grid: &Grid) -> Result<Mask> {
        if (0..3).any(|a| min[a] >= max[a] || max[a] > grid.shape[a]) {
            return Err(RealtimeError::Invalid(format!(
                "box {min:?}..{max:?} is empty or reaches outside the grid {:?}",
                grid.shape
            )));
        }
        let mut indices = Vec::new();
        for k in min[2]..max[2] {
            for j in min[1]..max[1] {
                for i in min[0]..max[0] {
                    indices.push(grid.index(i, j, k));
                }
            }
        }
        Ok(Mask {
            shape: grid.shape,
            indices,
        })
    }

    /// Voxels above `fraction` of the volume's 98th percentile: a simple brain mask for
    /// EPI (background is near zero).
    pub fn brain(volume: &[f32], grid: &Grid, fraction: f32) -> Result<Mask> {
        let mut sorted: Vec<f32> = volume.to_vec();
        sorted.sort_by(f32::total_cmp);
        let p98 = sorted
            .get(((sorted.len() as f64 - 1.0) * 0.98) as usize)
            .copied()
            .unwrap_or(0.0);
        let indices: Vec<usize> = volume
            .iter()
            .enumerate()
            .filter(|(_, &v)| v > fraction * p98)
            .map(|(i, _)| i)
            .collect();
        if indices.is_empty() {
            return Err(RealtimeError::Invalid(
                "the volume has no voxel with signal".into(),
            ));
        }
        Ok(Mask {
            shape: grid.shape,
            indices,
        })
    }

    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// Mean of `volume` (NIfTI memory order, same grid) over the mask.
    pub fn mean(&self, volume: &[f32]) -> f64 {
        let sum: f64 = self
            .indices
            .iter()
            .filter_map(|&i| volume.get(i))
            .map(|&v| f64::from(v))
            .sum();
        sum / self.indices.len().max(1) as f64
    }

    /// Mean of `volume` over the mask's voxels that are flagged in `valid` (both NIfTI
    /// memory order on the mask's grid, e.g. [`crate::MotionCorrector::valid_so_far`]),
    /// and how many voxels that was; `None` when no mask voxel is valid.
    pub fn mean_where(&self, volume: &[f32], valid: &[bool]) -> Option<(f64, usize)> {
        let (sum, n) = self
            .indices
            .iter()
            .filter(|&&i| valid.get(i).copied().unwrap_or(false))
            .filter_map(|&i| volume.get(i))
            .fold((0.0, 0usize), |(s, n), &v| (s + f64::from(v), n + 1));
        (n > 0).then(|| (sum / n as f64, n))
    }

    /// The mask's voxels flagged in `valid` (NIfTI memory order on the mask's grid).
    pub fn restricted(&self, valid: &[bool]) -> Mask {
        Mask {
            shape: self.shape,
            indices: self
                .indices
                .iter()
                .copied()
                .filter(|&i| valid.get(i).copied().unwrap_or(false))
                .collect(),
        }
    }

    /// Whether flat index `i` is in the mask (binary search: indices are sorted).
    pub fn contains(&self, i: usize) -> bool {
        self.indices.binary_search(&i).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mask_on_a_coarser_shifted_grid_lands_on_the_right_voxels() {
        let target = Grid::new(
            [8, 8, 4],
            [
                [2.0, 0.0, 0.0, 0.0],
                [0.0, 2.0, 0.0, 0.0],
                [0.0, 0.0, 2.0, 0.0],
                [0.0, 0.0, 0.0, 1.0],
            ],
        )
        .expect("grid");
        // 4 mm voxels, shifted by one 4 mm voxel: mask voxel (1, 1, 0) covers world
        // x, y in [2, 6] mm -> target voxels 1..=2 (centres 2 and 4 mm; 6 rounds up).
        let mask_grid = Grid::new(
            [4, 4, 2],
            [
                [4.0, 0.0, 0.0, -4.0],
                [0.0, 4.0, 0.0, -4.0],
                [0.0, 0.0, 4.0, 0.0],
                [0.0, 0.0, 0.0, 1.0],
            ],
        )
        .expect("grid");
        let mut values = vec![0.0f32; 32];
        values[mask_grid.index(2, 2, 0)] = 1.0;
        let mask = Mask::resampled(&values, &mask_grid, &target).expect("mask");
        // Mask voxel (2, 2, 0) is centred at world (4, 4, 0): target voxels with
        // round((x + 4) / 4) == 2, i.e. x in [2, 6), i in {1, 2}; z voxel 0 covers k 0..=0
        // (k 1 is at z 2 mm -> 0.5 -> rounds to 1? no: 0.5 rounds away to 1).
        let expected: Vec<usize> = [(1, 1), (2, 1), (1, 2), (2, 2)]
            .iter()
            .map(|&(i, j)| target.index(i, j, 0))
            .collect();
        assert_eq!(mask.indices, expected);
    }
}
