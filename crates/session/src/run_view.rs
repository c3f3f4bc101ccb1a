//! What the Run tab's live views show (issue 10): each TR's head motion as the project
//! measured it, each TR's latency as a list of named stages, and the latest brain view
//! (three orthogonal slices with the ROI and the t-map). Kept in memory for the running
//! launch only (a new launch starts empty), bounded by [`MAX_VIEW_TRS`].

use std::collections::VecDeque;

use serde::Serialize;

/// TRs of motion and latency kept at most (the oldest go first).
pub const MAX_VIEW_TRS: usize = 20_000;

/// One TR's rigid head motion: `[tx, ty, tz]` mm and `[rx, ry, rz]` degrees (crate
/// `realtime`'s convention), framewise displacement (Power et al. 2012) and the
/// threshold the project warns at.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MotionPoint {
    pub run: i64,
    pub tr: i64,
    pub params: [f64; 6],
    pub fd_mm: f64,
    pub fd_threshold_mm: f64,
}

/// One stage of a TR's way from the scanner to its result, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stage {
    pub name: String,
    pub ms: f64,
}

/// A TR's latency from the end of its acquisition to its result shown on the stimulus
/// PC, stage by stage (see `timeline::TrTimeline::latency`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrLatency {
    pub run: i64,
    pub tr: i64,
    pub stages: Vec<Stage>,
    pub total_ms: f64,
}

/// One slice of the brain view: `width` x `height` values, row by row from the bottom
/// (first index fastest).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Slice {
    /// "axial" (i, j at k), "coronal" (i, k at j) or "sagittal" (j, k at i).
    pub plane: &'static str,
    pub width: usize,
    pub height: usize,
    /// Grey levels 0..=255 (the volume scaled to its 99th percentile).
    pub grey: Vec<u8>,
    /// 1 inside the ROI, else 0 (empty without an ROI).
    pub roi: Vec<u8>,
    /// t-values rounded to 0.1, 0 where undefined (empty without a t-map).
    pub t: Vec<f32>,
}

/// The latest volume a project showed, as three orthogonal slices through `position`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BrainView {
    pub run: i64,
    pub tr: i64,
    /// Voxels along i, j, k.
    pub shape: [usize; 3],
    /// The voxel (i, j, k) the slices go through: the ROI's centre, else the middle.
    pub position: [usize; 3],
    /// The t-map's threshold (0 without a t-map).
    pub t_threshold: f64,
    pub slices: Vec<Slice>,
}

/// The Run tab's view of the running launch.
#[derive(Debug, Default)]
pub(crate) struct RunViewState {
    pub motion: VecDeque<MotionPoint>,
    pub latency: VecDeque<TrLatency>,
    pub brain: Option<BrainView>,
}

impl RunViewState {
    pub fn push_motion(&mut self, point: MotionPoint) {
        push_bounded(&mut self.motion, point);
    }

    /// Adds a TR's latency, or replaces it when it is the latest one again (its
    /// delivery came after its result).
    pub fn push_latency(&mut self, latency: TrLatency) {
        if let Some(last) = self
            .latency
            .iter_mut()
            .rev()
            .take(64)
            .find(|l| l.run == latency.run && l.tr == latency.tr)
        {
            *last = latency;
            return;
        }
        push_bounded(&mut self.latency, latency);
    }
}

fn push_bounded<T>(queue: &mut VecDeque<T>, item: T) {
    if queue.len() == MAX_VIEW_TRS {
        queue.pop_front();
    }
    queue.push_back(item);
}
