//! Per-TR quality measures: framewise displacement, DVARS, a running tSNR map, and
//! motion warnings against configurable thresholds.

use serde::{Deserialize, Serialize};

use crate::rigid::{framewise_displacement_mm, RigidParams};
use crate::{RealtimeError, Result};

/// When a TR counts as "moved". `Default`: FD 0.5 mm (Power et al. 2012's censoring
/// threshold), 3 mm or 3 degrees from the reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MotionThresholds {
    pub fd_mm: f64,
    pub translation_mm: f64,
    pub rotation_deg: f64,
}

impl Default for MotionThresholds {
    fn default() -> Self {
        MotionThresholds {
            fd_mm: 0.5,
            translation_mm: 3.0,
            rotation_deg: 3.0,
        }
    }
}

/// One TR's quality numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quality {
    /// Framewise displacement to the previous TR, mm (0 for the first TR).
    pub fd_mm: f64,
    /// DVARS (Power et al. 2012): root mean square over the mask of the change of every
    /// voxel since the previous TR, in the volume's units (0 for the first TR).
    pub dvars: f64,
    /// Median tSNR over the mask so far (mean / standard deviation of each voxel's time
    /// course); NaN before the third TR.
    pub median_tsnr: f64,
    /// Why this TR is flagged, empty when it is not (e.g. "FD 0.62 mm > 0.50 mm").
    pub warnings: Vec<String>,
}

/// Running FD, DVARS and tSNR over one run; buffers sized once.
#[derive(Debug, Clone)]
pub struct QualityTracker {
    thresholds: MotionThresholds,
    mask: Vec<usize>,
    previous_params: Option<RigidParams>,
    previous: Vec<f32>,
    /// Welford running mean and sum of squared deviations per mask voxel.
    mean: Vec<f64>,
    m2: Vec<f64>,
    count: usize,
    tsnr_scratch: Vec<f64>,
    /// How many TRs exceeded the FD threshold so far.
    pub fd_over_threshold: usize,
}

impl QualityTracker {
    /// `mask`: flat indices (NIfTI order) of the voxels to measure over (brain voxels).
    pub fn new(mask: Vec<usize>, thresholds: MotionThresholds) -> QualityTracker {
        let n = mask.len();
        QualityTracker {
            thresholds,
            previous_params: None,
            previous: vec![0.0; n],
            mean: vec![0.0; n],
            m2: vec![0.0; n],
            count: 0,
            tsnr_scratch: vec![0.0; n],
            fd_over_threshold: 0,
            mask,
        }
    }

    /// Adds a TR: its motion estimate and its (motion-corrected) volume in NIfTI order.
    pub fn push(&mut self, params: &RigidParams, volume: &[f32]) -> Result<Quality> {
        if let Some(&bad) = self.mask.iter().find(|&&i| i >= volume.len()) {
            return Err(RealtimeError::Invalid(format!(
                "mask voxel {bad} is outside a volume of {} voxels",
                volume.len()
            )));
        }
        let fd_mm = self
            .previous_params
            .map_or(0.0, |p| framewise_displacement_mm(&p, params));
        let mut dvars_sum = 0.0;
        self.count += 1;
        let n = self.count as f64;
        for (slot, &idx) in self.mask.iter().enumerate() {
            let v = volume[idx];
            if self.count > 1 {
                let d = f64::from(v - self.previous[slot]);
                dvars_sum += d * d;
            }
            self.previous[slot] = v;
            let x = f64::from(v);
            let delta = x - self.mean[slot];
            self.mean[slot] += delta / n;
            self.m2[slot] += delta * (x - self.mean[slot]);
        }
        let dvars = if self.count > 1 && !self.mask.is_empty() {
            (dvars_sum / self.mask.len() as f64).sqrt()
        } else {
            0.0
        };
        let median_tsnr = if self.count > 2 {
            for (slot, t) in self.tsnr_scratch.iter_mut().enumerate() {
                let sd = (self.m2[slot] / (n - 1.0)).sqrt();
                *t = if sd > 0.0 { self.mean[slot] / sd } else { 0.0 };
            }
            let mid = self.tsnr_scratch.len() / 2;
            if self.tsnr_scratch.is_empty() {
                f64::NAN
            } else {
                *self
                    .tsnr_scratch
                    .select_nth_unstable_by(mid, f64::total_cmp)
                    .1
            }
        } else {
            f64::NAN
        };
        let th = &self.thresholds;
        let mut warnings = Vec::new();
        if fd_mm > th.fd_mm {
            self.fd_over_threshold += 1;
            warnings.push(format!("FD {fd_mm:.2} mm > {:.2} mm", th.fd_mm));
        }
        let max_t = params
            .translation_mm
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        if max_t > th.translation_mm {
            warnings.push(format!(
                "translation {max_t:.2} mm > {:.2} mm",
                th.translation_mm
            ));
        }
        let max_r = params
            .rotation_deg
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        if max_r > th.rotation_deg {
            warnings.push(format!(
                "rotation {max_r:.2} deg > {:.2} deg",
                th.rotation_deg
            ));
        }
        self.previous_params = Some(*params);
        Ok(Quality {
            fd_mm,
            dvars,
            median_tsnr,
            warnings,
        })
    }

    /// The running tSNR of each mask voxel (same order as the mask); NaN before the
    /// third TR. Allocates (for display, not the per-TR path).
    pub fn tsnr(&self) -> Vec<f64> {
        let n = self.count as f64;
        (0..self.mask.len())
            .map(|s| {
                if self.count < 3 {
                    return f64::NAN;
                }
                let sd = (self.m2[s] / (n - 1.0)).sqrt();
                if sd > 0.0 {
                    self.mean[s] / sd
                } else {
                    0.0
                }
            })
            .collect()
    }

    pub fn mask(&self) -> &[usize] {
        &self.mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dvars_tsnr_and_fd_warning_follow_their_definitions() {
        let mut q = QualityTracker::new(vec![0, 1], MotionThresholds::default());
        let still = RigidParams::default();
        let a = q.push(&still, &[100.0, 200.0, 0.0]).expect("fits");
        assert_eq!((a.fd_mm, a.dvars), (0.0, 0.0));
        let b = q.push(&still, &[103.0, 196.0, 9.0]).expect("fits");
        // sqrt((3² + 4²) / 2)
        assert!((b.dvars - (12.5f64).sqrt()).abs() < 1e-9);
        let moved = RigidParams {
            translation_mm: [0.6, 0.0, 0.0],
            rotation_deg: [0.0; 3],
        };
        let c = q.push(&moved, &[100.0, 200.0, 0.0]).expect("fits");
        assert!((c.fd_mm - 0.6).abs() < 1e-12);
        assert_eq!(c.warnings, vec!["FD 0.60 mm > 0.50 mm".to_string()]);
        assert_eq!(q.fd_over_threshold, 1);
        // Voxel 0: 100, 103, 100 -> mean 101, sd sqrt(3).
        let tsnr = q.tsnr();
        assert!((tsnr[0] - 101.0 / 3f64.sqrt()).abs() < 1e-9);
    }
}
