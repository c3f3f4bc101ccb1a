//! The per-run preprocessing the built-in projects share: each volume converted to f32
//! once, motion-corrected to the run's first volume (crate `realtime`), with FD, DVARS
//! and the motion warnings.

use realtime::grid::{volume_f32, volume_f32_into};
use realtime::mask::Mask;
use realtime::qc::{Quality, QualityTracker};
use realtime::{Grid, MotionConfig, MotionCorrector, MotionEstimate, MotionThresholds};
use rtcloud_client::PreprocessingView;

use crate::BuiltinError;

/// State of one run, made from its first volume.
#[derive(Debug)]
pub struct Preprocess {
    grid: Grid,
    corrector: Option<MotionCorrector>,
    quality: QualityTracker,
    fd_threshold_mm: f64,
    raw: Vec<f32>,
}

/// One TR after preprocessing.
#[derive(Debug)]
pub struct Preprocessed<'a> {
    pub motion: MotionEstimate,
    pub quality: Quality,
    /// The volume in the reference grid, NIfTI order: motion-corrected, or the raw
    /// voxels when correction is off.
    pub volume: &'a [f32],
    /// Per voxel of `volume`: valid (interpolated from acquired data) in every volume of
    /// the run so far (`realtime::MotionCorrector::valid_so_far`); `None` when correction
    /// is off (every voxel is measured).
    pub valid: Option<&'a [bool]>,
    shape: [usize; 3],
    fd_threshold_mm: f64,
}

impl<'a> Preprocessed<'a> {
    /// Whether voxel `i` (flat index into `volume`) has been valid in every volume so far.
    pub fn is_valid(&self, i: usize) -> bool {
        self.valid
            .is_none_or(|v| v.get(i).copied().unwrap_or(false))
    }

    /// Mean of `volume` over the mask's voxels valid so far (SPM's reslice mask: a voxel
    /// the head moved out of the field of view in some volume is left out), or over
    /// the whole mask when none of its voxels is valid any more.
    pub fn mean(&self, mask: &Mask) -> f64 {
        match self.valid {
            Some(valid) => mask
                .mean_where(self.volume, valid)
                .map_or_else(|| mask.mean(self.volume), |(mean, _)| mean),
            None => mask.mean(self.volume),
        }
    }

    /// What the Run tab shows of TR `tr` (motion plot, brain view of the preprocessed
    /// volume); the caller adds an ROI or a t-map.
    pub fn view(&self, run: i64, tr: u32) -> PreprocessingView<'a> {
        PreprocessingView {
            run,
            tr: tr.into(),
            motion: Some((
                self.motion.params.as_array(),
                self.quality.fd_mm,
                self.fd_threshold_mm,
            )),
            shape: self.shape,
            volume: Some(self.volume),
            ..Default::default()
        }
    }
}

fn roi_err(e: realtime::RealtimeError) -> BuiltinError {
    BuiltinError::Roi(e.to_string())
}

impl Preprocess {
    /// `correct`: register to `first` (else only the quality measures, with zero motion).
    pub fn new(
        first: &imaging::Volume,
        correct: bool,
        thresholds: MotionThresholds,
    ) -> Result<Preprocess, BuiltinError> {
        let grid = Grid::of(first).map_err(roi_err)?;
        let reference = volume_f32(first);
        let brain = Mask::brain(&reference, &grid, 0.15).map_err(roi_err)?;
        let corrector = if correct {
            Some(
                MotionCorrector::new(&reference, grid.clone(), MotionConfig::default())
                    .map_err(roi_err)?,
            )
        } else {
            None
        };
        Ok(Preprocess {
            fd_threshold_mm: thresholds.fd_mm,
            quality: QualityTracker::new(brain.indices, thresholds),
            raw: reference,
            grid,
            corrector,
        })
    }

    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// Preprocesses the next volume of the run.
    pub fn push(&mut self, volume: &imaging::Volume) -> Result<Preprocessed<'_>, BuiltinError> {
        let grid = Grid::of(volume).map_err(roi_err)?;
        if grid.shape != self.grid.shape {
            return Err(BuiltinError::Roi(format!(
                "volume of shape {:?} in a run that started with {:?}",
                grid.shape, self.grid.shape
            )));
        }
        volume_f32_into(volume, &mut self.raw).map_err(roi_err)?;
        let (motion, corrected, valid) = match &mut self.corrector {
            Some(c) => {
                let m = c.correct(&self.raw, &grid).map_err(roi_err)?.0;
                (m, c.corrected(), Some(c.valid_so_far()))
            }
            None => (
                MotionEstimate {
                    params: Default::default(),
                    iterations: 0,
                    converged: true,
                    rms_residual: f64::NAN,
                },
                &self.raw[..],
                None,
            ),
        };
        let quality = self
            .quality
            .push(&motion.params, corrected)
            .map_err(roi_err)?;
        Ok(Preprocessed {
            motion,
            quality,
            volume: corrected,
            valid,
            shape: self.grid.shape,
            fd_threshold_mm: self.fd_threshold_mm,
        })
    }
}
