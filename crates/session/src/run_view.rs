//! What the Run tab's live views show (issue 10): each TR's head motion as the project
//! measured it, each TR's latency as a list of named stages, and the latest brain view
//! (three orthogonal slices with the ROI and the t-map). Kept in memory for the running
//! launch only (a new launch starts empty), bounded by [`MAX_VIEW_TRS`].

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

/// TRs of motion and latency kept at most (the oldest go first).
pub const MAX_VIEW_TRS: usize = 20_000;
/// Scanner volumes whose timing is kept until their TR's result arrives.
const MAX_PENDING_VOLUMES: usize = 4_096;

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

/// A TR's latency from the scanner closing its file to the project's result, stage by
/// stage (the first stage compares the console's clock with the analyser's).
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
    /// Scanner volume index -> (closed, received, served) seconds, until its result.
    pending: BTreeMap<i64, [f64; 3]>,
}

impl RunViewState {
    pub fn push_motion(&mut self, point: MotionPoint) {
        push_bounded(&mut self.motion, point);
    }

    pub fn note_volume(&mut self, index: i64, times: [f64; 3]) {
        self.pending.insert(index, times);
        while self.pending.len() > MAX_PENDING_VOLUMES {
            self.pending.pop_first();
        }
    }

    /// The latency of TR `tr` when its volume went through this launch and this is its
    /// first result (volume index = TR number, as scanner streams count).
    pub fn result_made(&mut self, run: i64, tr: i64, made_at: f64) -> Option<TrLatency> {
        let [closed, received, served] = self.pending.remove(&tr)?;
        let ms = |from: f64, to: f64| ((to - from) * 1000.0 * 1000.0).round() / 1000.0;
        let latency = TrLatency {
            run,
            tr,
            stages: vec![
                Stage {
                    name: "scanner to analyser".into(),
                    ms: ms(closed, received),
                },
                Stage {
                    name: "waiting for the project".into(),
                    ms: ms(received, served),
                },
                Stage {
                    name: "project".into(),
                    ms: ms(served, made_at),
                },
            ],
            total_ms: ms(closed, made_at),
        };
        push_bounded(&mut self.latency, latency.clone());
        Some(latency)
    }
}

fn push_bounded<T>(queue: &mut VecDeque<T>, item: T) {
    if queue.len() == MAX_VIEW_TRS {
        queue.pop_front();
    }
    queue.push_back(item);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trs_latency_is_its_volumes_stages_until_its_first_result() {
        let mut view = RunViewState::default();
        view.note_volume(3, [100.0, 100.010, 100.0125]);
        assert_eq!(view.result_made(1, 2, 100.5), None, "no volume 2");
        let latency = view
            .result_made(1, 3, 100.0205)
            .expect("volume 3 went through");
        let stages: Vec<(&str, f64)> = latency
            .stages
            .iter()
            .map(|s| (s.name.as_str(), s.ms))
            .collect();
        assert_eq!(
            stages,
            [
                ("scanner to analyser", 10.0),
                ("waiting for the project", 2.5),
                ("project", 8.0)
            ]
        );
        assert_eq!(latency.total_ms, 20.5);
        assert_eq!(view.latency.len(), 1);
        assert_eq!(view.result_made(1, 3, 101.0), None, "only the first result");
    }
}
