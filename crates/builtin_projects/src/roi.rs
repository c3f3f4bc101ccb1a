//! ROI neurofeedback arithmetic, free of IO: the mean signal in a region of interest,
//! and its percent change from a rest baseline, detrended and scaled into [-1, 1].

use std::path::Path;

use nifti::{IntoNdArray, NiftiObject, ReaderOptions};

use crate::BuiltinError;

/// A set of voxels, by NIfTI (i, j, k) index.
#[derive(Debug, Clone, PartialEq)]
pub struct Roi {
    shape: [usize; 3],
    voxels: Vec<[usize; 3]>,
}

impl Roi {
    /// The voxels of the box `[start, end)` in a volume of `shape`.
    pub fn from_box(corners: [[usize; 3]; 2], shape: [usize; 3]) -> Result<Roi, BuiltinError> {
        let [start, end] = corners;
        if (0..3).any(|a| start[a] >= end[a] || end[a] > shape[a]) {
            return Err(BuiltinError::Roi(format!(
                "box {start:?}..{end:?} is empty or reaches outside the volume of shape {shape:?}"
            )));
        }
        let mut voxels = Vec::new();
        for k in start[2]..end[2] {
            for j in start[1]..end[1] {
                for i in start[0]..end[0] {
                    voxels.push([i, j, k]);
                }
            }
        }
        Ok(Roi { shape, voxels })
    }

    /// The non-zero voxels of a 3D mask NIfTI (.nii or .nii.gz).
    pub fn from_mask_file(path: &Path) -> Result<Roi, BuiltinError> {
        let problem = |what: String| BuiltinError::Roi(format!("mask {}: {what}", path.display()));
        let mask = ReaderOptions::new()
            .read_file(path)
            .map_err(|e| problem(e.to_string()))?
            .into_volume()
            .into_ndarray::<f32>()
            .map_err(|e| problem(e.to_string()))?;
        let dims = mask.shape();
        let shape: [usize; 3] = match dims {
            [i, j, k] | [i, j, k, 1] => [*i, *j, *k],
            other => return Err(problem(format!("is not a 3D volume (shape {other:?})"))),
        };
        let voxels: Vec<[usize; 3]> = mask
            .indexed_iter()
            .filter(|(_, &v)| v != 0.0)
            .map(|(ix, _)| [ix[0], ix[1], ix[2]])
            .collect();
        if voxels.is_empty() {
            return Err(problem("has no non-zero voxel".into()));
        }
        Ok(Roi { shape, voxels })
    }

    pub fn len(&self) -> usize {
        self.voxels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.voxels.is_empty()
    }

    /// The mean of the ROI's voxels in `volume`, which must have the ROI's shape.
    pub fn mean(&self, volume: &imaging::Volume) -> Result<f64, BuiltinError> {
        let shape = volume.voxels.shape();
        if shape != self.shape {
            return Err(BuiltinError::Roi(format!(
                "the ROI is for volumes of shape {:?}, this volume is {shape:?}",
                self.shape
            )));
        }
        let sum: f64 = self
            .voxels
            .iter()
            .filter_map(|&ijk| volume.voxels.get_f64(ijk))
            .sum();
        Ok(sum / self.voxels.len() as f64)
    }
}

/// Percent signal change against a rest baseline, one TR at a time.
///
/// The first `baseline_trs` TRs are rest: a straight line fitted to their ROI means is
/// the baseline, extended over the run so that scanner drift is not taken for
/// activation. (Fitting the line to every TR so far would let the task blocks tilt it.)
/// Each later TR's change from that line, in percent, is divided by `max_percent` and
/// clipped to [-1, 1].
#[derive(Debug, Clone)]
pub struct PercentChange {
    baseline_trs: usize,
    max_percent: f64,
    series: Vec<f64>,
    /// (intercept, slope) once the baseline is complete.
    trend: Option<(f64, f64)>,
}

/// What one TR gives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    /// Percent signal change (detrended), before scaling.
    pub percent: f64,
    /// `percent / max_percent` clipped to [-1, 1].
    pub feedback: f64,
}

impl PercentChange {
    pub fn new(baseline_trs: usize, max_percent: f64) -> Result<PercentChange, BuiltinError> {
        if baseline_trs < 2 {
            return Err(BuiltinError::Roi(
                "baselineTRs must be at least 2 (a baseline and a trend need two points)".into(),
            ));
        }
        if !(max_percent > 0.0 && max_percent.is_finite()) {
            return Err(BuiltinError::Roi("maxPercentChange must be > 0".into()));
        }
        Ok(PercentChange {
            baseline_trs,
            max_percent,
            series: Vec::new(),
            trend: None,
        })
    }

    /// Adds the next TR's ROI mean; None while the baseline is still being collected.
    pub fn push(&mut self, roi_mean: f64) -> Option<Change> {
        self.series.push(roi_mean);
        let t = self.series.len() - 1;
        if self.series.len() == self.baseline_trs {
            self.trend = Some(line_fit(&self.series));
        }
        let (intercept, slope) = self.trend.filter(|_| t >= self.baseline_trs)?;
        let baseline = intercept + slope * t as f64;
        if baseline.abs() < f64::EPSILON {
            return Some(Change {
                percent: 0.0,
                feedback: 0.0,
            });
        }
        let percent = 100.0 * (roi_mean - baseline) / baseline;
        Some(Change {
            percent,
            feedback: (percent / self.max_percent).clamp(-1.0, 1.0),
        })
    }
}

/// Least-squares line through (t, y[t]): (intercept, slope).
fn line_fit(y: &[f64]) -> (f64, f64) {
    let n = y.len() as f64;
    let mean_t = (n - 1.0) / 2.0;
    let mean_y = y.iter().sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for (t, v) in y.iter().enumerate() {
        let dt = t as f64 - mean_t;
        num += dt * (v - mean_y);
        den += dt * dt;
    }
    let slope = if den > 0.0 { num / den } else { 0.0 };
    (mean_y - slope * mean_t, slope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pure_drift_gives_no_feedback_and_a_block_gives_its_size() {
        // 1000 with a drift of 0.5 per TR; TRs 20..30 are 1% higher.
        let mut psc = PercentChange::new(10, 2.0).expect("valid");
        let mut during = Vec::new();
        for t in 0..30 {
            let active = t >= 20;
            let signal = 1000.0 + 0.5 * t as f64 + if active { 10.0 } else { 0.0 };
            if let Some(change) = psc.push(signal) {
                if active {
                    during.push(change);
                } else {
                    assert!(
                        change.percent.abs() < 0.05,
                        "drift leaks: {change:?} at {t}"
                    );
                }
            } else {
                assert!(t < 10);
            }
        }
        // 10 on a drifted baseline of 1010..1015: just under 1% all through the block.
        assert_eq!(during.len(), 10);
        for change in &during {
            assert!((change.percent - 0.99).abs() < 0.02, "{change:?}");
            assert!((change.feedback - change.percent / 2.0).abs() < 1e-12);
        }
    }

    #[test]
    fn feedback_is_clipped_to_plus_minus_one() {
        let mut psc = PercentChange::new(2, 1.0).expect("valid");
        psc.push(100.0);
        psc.push(100.0);
        assert_eq!(psc.push(150.0).map(|c| c.feedback), Some(1.0));
        let mut psc = PercentChange::new(2, 1.0).expect("valid");
        psc.push(100.0);
        psc.push(100.0);
        assert_eq!(psc.push(50.0).map(|c| c.feedback), Some(-1.0));
    }

    #[test]
    fn bad_settings_are_refused_with_the_field_named() {
        let err = PercentChange::new(1, 1.0).expect_err("too short");
        assert!(err.to_string().contains("baselineTRs"));
        let err = PercentChange::new(5, 0.0).expect_err("no scale");
        assert!(err.to_string().contains("maxPercentChange"));
        let err = Roi::from_box([[0, 0, 0], [5, 5, 5]], [4, 8, 8]).expect_err("outside");
        assert!(err.to_string().contains("outside"));
    }

    #[test]
    fn a_box_roi_averages_exactly_its_voxels() {
        let voxels =
            ndarray::Array3::from_shape_fn((4, 4, 3), |(i, j, k)| (i + 10 * j + 100 * k) as i16);
        let volume = imaging::Volume {
            voxels: imaging::Voxels::I16(voxels),
            scaling: imaging::Scaling::IDENTITY,
            affine: [[0.0; 4]; 4],
            voxel_size: [1.0; 3],
            tr_s: None,
            slice_timing_s: Vec::new(),
            acquisition_time_s: None,
            meta: imaging::Metadata::default(),
        };
        let roi = Roi::from_box([[1, 2, 1], [3, 3, 2]], [4, 4, 3]).expect("inside");
        assert_eq!(roi.len(), 2);
        // Voxels (1,2,1) = 121 and (2,2,1) = 122.
        assert_eq!(roi.mean(&volume).expect("same shape"), 121.5);
        let other = Roi::from_box([[0, 0, 0], [1, 1, 1]], [5, 5, 5]).expect("inside");
        assert!(other.mean(&volume).is_err());
    }
}
