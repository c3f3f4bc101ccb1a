//! The Preprocess service of the project API: motion correction and incremental GLM
//! states (crate `realtime`) that a script drives with volumes it sends. Each state
//! lives under an id until ClosePreprocess or the end of the process; at most
//! `MAX_STATES` exist at once so a script cannot fill the analyser's memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use nalgebra::DVector;
use protocol::project::v1 as pb;
use realtime::glm::{Condition, Design, DesignSpec, Drift, IncrementalGlm};
use realtime::interp::Interpolation;
use realtime::mask::Mask;
use realtime::qc::QualityTracker;
use realtime::{Grid, MotionConfig, MotionCorrector, MotionThresholds, RigidParams};
use tonic::{Request, Response, Status};

/// States one analyser keeps at most (each holds a few volumes' worth of memory).
const MAX_STATES: usize = 64;

enum State {
    Motion {
        corrector: Box<MotionCorrector>,
        quality: Box<QualityTracker>,
    },
    Glm(Box<GlmState>),
}

/// An incremental GLM over a mask's voxels, with its buffers.
struct GlmState {
    design: Design,
    glm: IncrementalGlm,
    mask: Mask,
    grid: Grid,
    row: DVector<f64>,
    contrast: DVector<f64>,
    y: Vec<f64>,
    tr: usize,
}

/// The states of the running analyser, shared by every call.
#[derive(Clone, Default)]
pub struct PreprocessStates {
    states: Arc<Mutex<HashMap<String, State>>>,
    next: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for PreprocessStates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreprocessStates").finish_non_exhaustive()
    }
}

#[allow(clippy::result_large_err)] // tonic's Status is the error type of every handler
fn volume_f32(v: pb::Volume, what: &str) -> Result<(Vec<f32>, Grid), Status> {
    let bad = |detail: String| Status::invalid_argument(format!("{what}: {detail}"));
    let volume = rtcloud_client::volume_from_message(v).map_err(|e| bad(e.to_string()))?;
    let grid = Grid::of(&volume).map_err(|e| bad(e.to_string()))?;
    Ok((realtime::grid::volume_f32(&volume), grid))
}

fn float_volume(data: &[f32], grid: &Grid) -> pb::Volume {
    pb::Volume {
        shape: grid.shape.iter().map(|&n| n as u32).collect(),
        dtype: "float32".into(),
        data: data
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>()
            .into(),
        affine: (0..16).map(|i| grid.affine[(i / 4, i % 4)]).collect(),
        voxel_size: grid.voxel_size_mm().to_vec(),
        tr_s: 0.0,
        slice_timing_s: Vec::new(),
        acquisition_time_s: None,
    }
}

fn invalid(e: realtime::RealtimeError) -> Status {
    Status::invalid_argument(e.to_string())
}

impl PreprocessStates {
    #[allow(clippy::result_large_err)]
    fn insert(&self, state: State) -> Result<String, Status> {
        let mut states = self
            .states
            .lock()
            .map_err(|_| Status::internal("preprocess state poisoned"))?;
        if states.len() >= MAX_STATES {
            return Err(Status::resource_exhausted(format!(
                "{MAX_STATES} preprocessing states are open: close some with ClosePreprocess"
            )));
        }
        let id = format!(
            "pre-{}",
            self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
        );
        states.insert(id.clone(), state);
        Ok(id)
    }
}

#[tonic::async_trait]
impl pb::preprocess_server::Preprocess for PreprocessStates {
    async fn init_motion_correction(
        &self,
        request: Request<pb::InitMotionRequest>,
    ) -> Result<Response<pb::PreprocessId>, Status> {
        let r = request.into_inner();
        let reference = r
            .reference
            .ok_or_else(|| Status::invalid_argument("no reference volume"))?;
        let (data, grid) = volume_f32(reference, "reference")?;
        let interpolation = match r.interpolation.as_str() {
            "" | "trilinear" => Interpolation::Trilinear,
            "cubic" => Interpolation::Cubic,
            other => {
                return Err(Status::invalid_argument(format!(
                    "interpolation {other:?} (use \"trilinear\" or \"cubic\")"
                )))
            }
        };
        let d = MotionThresholds::default();
        let pick = |v: f64, default: f64| if v > 0.0 && v.is_finite() { v } else { default };
        let thresholds = MotionThresholds {
            fd_mm: pick(r.fd_threshold_mm, d.fd_mm),
            translation_mm: pick(r.max_translation_mm, d.translation_mm),
            rotation_deg: pick(r.max_rotation_deg, d.rotation_deg),
        };
        let brain = Mask::brain(&data, &grid, 0.15).map_err(invalid)?;
        let config = MotionConfig {
            interpolation,
            ..MotionConfig::default()
        };
        // Building the pyramids takes milliseconds of CPU: off the async threads.
        let corrector =
            tokio::task::spawn_blocking(move || MotionCorrector::new(&data, grid, config))
                .await
                .map_err(|e| Status::internal(e.to_string()))?
                .map_err(invalid)?;
        let id = self.insert(State::Motion {
            corrector: Box::new(corrector),
            quality: Box::new(QualityTracker::new(brain.indices, thresholds)),
        })?;
        Ok(Response::new(pb::PreprocessId { id }))
    }

    async fn correct_motion(
        &self,
        request: Request<pb::CorrectMotionRequest>,
    ) -> Result<Response<pb::CorrectMotionReply>, Status> {
        let r = request.into_inner();
        let volume = r
            .volume
            .ok_or_else(|| Status::invalid_argument("no volume"))?;
        let (data, grid) = volume_f32(volume, "volume")?;
        let mut states = self
            .states
            .lock()
            .map_err(|_| Status::internal("preprocess state poisoned"))?;
        let Some(State::Motion { corrector, quality }) = states.get_mut(&r.id) else {
            return Err(Status::not_found(format!(
                "no motion-correction state {:?}",
                r.id
            )));
        };
        let reference_grid = corrector.grid().clone();
        let (estimate, corrected) = corrector.correct(&data, &grid).map_err(invalid)?;
        let q = quality.push(&estimate.params, corrected).map_err(invalid)?;
        Ok(Response::new(pb::CorrectMotionReply {
            params: estimate.params.as_array().to_vec(),
            fd_mm: q.fd_mm,
            dvars: q.dvars,
            warnings: q.warnings,
            iterations: estimate.iterations as u32,
            corrected: r
                .return_volume
                .then(|| float_volume(corrected, &reference_grid)),
        }))
    }

    async fn init_glm(
        &self,
        request: Request<pb::InitGlmRequest>,
    ) -> Result<Response<pb::PreprocessId>, Status> {
        let r = request.into_inner();
        let mask_volume = r
            .mask
            .ok_or_else(|| Status::invalid_argument("no mask volume"))?;
        let (values, grid) = volume_f32(mask_volume, "mask")?;
        let mask = Mask::resampled(&values, &grid, &grid).map_err(invalid)?;
        let drift = match r.drift.as_str() {
            "" | "cosine" => Drift::Cosine {
                cutoff_s: if r.cutoff_s > 0.0 { r.cutoff_s } else { 128.0 },
            },
            "polynomial" => Drift::Polynomial {
                degree: r.degree as usize,
            },
            "none" => Drift::None,
            other => {
                return Err(Status::invalid_argument(format!(
                    "drift {other:?} (use \"cosine\", \"polynomial\" or \"none\")"
                )))
            }
        };
        if r.conditions.is_empty() {
            return Err(Status::invalid_argument(
                "a GLM needs at least one condition for its t-map",
            ));
        }
        let design = Design::new(DesignSpec {
            tr_s: r.tr_s,
            volumes: r.volumes as usize,
            conditions: r
                .conditions
                .into_iter()
                .map(|c| Condition {
                    name: c.name,
                    onsets_s: c.onsets_s,
                    durations_s: c.durations_s,
                })
                .collect(),
            drift,
            motion: r.motion,
            motion_derivatives: r.motion_derivatives,
            tissue_signals: 0,
        })
        .map_err(invalid)?;
        let p = design.columns();
        let mut contrast = DVector::zeros(p);
        contrast[design.condition_column(0)] = 1.0;
        let id = self.insert(State::Glm(Box::new(GlmState {
            glm: IncrementalGlm::new(p, mask.len()).map_err(invalid)?,
            y: vec![0.0; mask.len()],
            row: DVector::zeros(p),
            design,
            mask,
            grid,
            contrast,
            tr: 0,
        })))?;
        Ok(Response::new(pb::PreprocessId { id }))
    }

    async fn update_glm(
        &self,
        request: Request<pb::UpdateGlmRequest>,
    ) -> Result<Response<pb::UpdateGlmReply>, Status> {
        let r = request.into_inner();
        let volume = r
            .volume
            .ok_or_else(|| Status::invalid_argument("no volume"))?;
        let (data, vgrid) = volume_f32(volume, "volume")?;
        let mut states = self
            .states
            .lock()
            .map_err(|_| Status::internal("preprocess state poisoned"))?;
        let Some(State::Glm(state)) = states.get_mut(&r.id) else {
            return Err(Status::not_found(format!("no GLM state {:?}", r.id)));
        };
        let GlmState {
            design,
            glm,
            mask,
            grid,
            row,
            contrast,
            y,
            tr,
        } = &mut **state;
        if vgrid.shape != grid.shape {
            return Err(Status::invalid_argument(format!(
                "volume of shape {:?} for a GLM over a mask of shape {:?}",
                vgrid.shape, grid.shape
            )));
        }
        let motion = match r.motion_params.len() {
            0 => RigidParams::default(),
            6 => RigidParams::from_array(r.motion_params[..6].try_into().unwrap_or([0.0; 6])),
            n => {
                return Err(Status::invalid_argument(format!(
                    "{n} motion parameters (need 6 or none)"
                )))
            }
        };
        for (v, &i) in y.iter_mut().zip(&mask.indices) {
            *v = f64::from(data[i]);
        }
        design.row(*tr, &motion, &[], row).map_err(invalid)?;
        glm.update(row, y).map_err(invalid)?;
        *tr += 1;
        let t = glm.t_values(contrast).map_err(invalid)?;
        let mut map = vec![0.0f32; grid.len()];
        for (&i, &v) in mask.indices.iter().zip(t) {
            map[i] = v;
        }
        Ok(Response::new(pb::UpdateGlmReply {
            t_map: Some(float_volume(&map, grid)),
            observations: glm.observations() as u32,
        }))
    }

    async fn close_preprocess(
        &self,
        request: Request<pb::PreprocessId>,
    ) -> Result<Response<pb::Empty>, Status> {
        let id = request.into_inner().id;
        let mut states = self
            .states
            .lock()
            .map_err(|_| Status::internal("preprocess state poisoned"))?;
        states
            .remove(&id)
            .map(|_| Response::new(pb::Empty {}))
            .ok_or_else(|| Status::not_found(format!("no preprocessing state {id:?}")))
    }
}
