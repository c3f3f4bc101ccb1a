//! Real-time fMRI preprocessing and analysis: rigid-body motion correction, per-TR
//! quality measures (FD, DVARS, running tSNR), an incremental GLM per voxel and per ROI,
//! and masks resampled between grids.
//!
//! Architecture Invariant: pure. Volumes (ndarray views plus their voxel-to-RAS
//! affine) in, numbers out; no disk, network or clock. Everything reused every TR
//! (reference pyramids, Jacobians, factorisations, scratch buffers) lives in state structs
//! built once per run, so the per-TR calls do not allocate.
//!
//! Conventions shared by every module:
//! - Volumes are `(nx, ny, nz)` arrays indexed `[[i, j, k]]` in NIfTI voxel order, as the
//!   `imaging` crate produces them; flat buffers in this crate are in NIfTI memory order
//!   (i fastest, then j, then k).
//! - World coordinates are RAS+ millimetres (the NIfTI sform frame, as dcm2niix writes it).
//! - Rigid motion follows [`rigid::RigidParams`]: see there for axes, order, sign and the
//!   mapping to AFNI's 3dvolreg and FSL's mcflirt.

pub mod glm;
pub mod grid;
pub mod hrf;
pub mod interp;
pub mod mask;
pub mod motion;
pub mod qc;
pub mod rigid;

pub use glm::{Condition, Design, DesignSpec, Drift, IncrementalGlm, RoiGlm, RoiResult};
pub use grid::Grid;
pub use motion::{MotionConfig, MotionCorrector, MotionEstimate};
pub use qc::{MotionThresholds, QualityTracker};
pub use rigid::RigidParams;

/// What went wrong, with the thing that was wrong named.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RealtimeError {
    /// A volume, mask or parameter does not fit what the state was built for.
    #[error("{0}")]
    Invalid(String),
    /// A grid's affine cannot be inverted (zero voxel size or collinear axes).
    #[error("the voxel-to-world affine {0} is singular")]
    SingularAffine(String),
}

pub type Result<T> = std::result::Result<T, RealtimeError>;
