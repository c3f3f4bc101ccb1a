//! Real-time preprocessing in the analyser (the Preprocess service, crate `realtime`):
//! motion correction with FD/DVARS and warnings, and an incremental GLM t-map. Run
//! alone (no analyser), these calls fail: a Rust project can use crate `realtime`
//! in-process instead.

use protocol::project::v1 as pb;

use crate::data::{volume_from_message, volume_message};
use crate::remote::{api_err, Api};
use crate::{ClientError, Result};

#[derive(Debug, Clone)]
pub enum PreprocessClient {
    Remote(Api),
    /// Run alone: not available (use crate `realtime` directly).
    Local,
}

/// One volume's motion correction.
#[derive(Debug, Clone)]
pub struct MotionResult {
    /// `[tx_mm, ty_mm, tz_mm, rx_deg, ry_deg, rz_deg]` (RAS+, R = Rz·Ry·Rx about the
    /// reference grid centre, reference -> moving; docs/user-guide.md section 8).
    pub params: [f64; 6],
    pub fd_mm: f64,
    pub dvars: f64,
    pub warnings: Vec<String>,
    /// The corrected volume (float32, reference grid) when it was asked for.
    pub corrected: Option<imaging::Volume>,
}

/// An incremental GLM's design: block or event conditions (seconds from the first
/// volume), cosine drift (`cutoff_s`, 0 for 128 s), motion columns.
#[derive(Debug, Clone, Default)]
pub struct GlmSpec {
    pub tr_s: f64,
    pub volumes: u32,
    /// (name, onsets_s, durations_s); the t-map is the first condition's.
    pub conditions: Vec<(String, Vec<f64>, Vec<f64>)>,
    pub cutoff_s: f64,
    pub motion: bool,
    pub motion_derivatives: bool,
}

impl PreprocessClient {
    fn api(&self, call: &'static str) -> Result<&Api> {
        match self {
            PreprocessClient::Remote(api) => Ok(api),
            PreprocessClient::Local => Err(ClientError::Invalid {
                call,
                detail:
                    "preprocessing runs in the analyser; run alone, use crate realtime in-process"
                        .into(),
            }),
        }
    }

    /// Starts motion correction to `reference`; returns the state's id.
    pub async fn init_motion_correction(&self, reference: &imaging::Volume) -> Result<String> {
        let api = self.api("init_motion_correction")?;
        let request = pb::InitMotionRequest {
            reference: Some(volume_message(reference)),
            ..Default::default()
        };
        let reply = api
            .preprocess()
            .init_motion_correction(request)
            .await
            .map_err(api_err("init_motion_correction"))?;
        Ok(reply.into_inner().id)
    }

    /// Registers `volume` to the reference of state `id`.
    pub async fn correct_motion(
        &self,
        id: &str,
        volume: &imaging::Volume,
        return_volume: bool,
    ) -> Result<MotionResult> {
        let api = self.api("correct_motion")?;
        let request = pb::CorrectMotionRequest {
            id: id.to_owned(),
            volume: Some(volume_message(volume)),
            return_volume,
        };
        let r = api
            .preprocess()
            .correct_motion(request)
            .await
            .map_err(api_err("correct_motion"))?
            .into_inner();
        let params: [f64; 6] = r
            .params
            .try_into()
            .map_err(|p: Vec<f64>| ClientError::Invalid {
                call: "correct_motion",
                detail: format!("{} motion parameters, not 6", p.len()),
            })?;
        Ok(MotionResult {
            params,
            fd_mm: r.fd_mm,
            dvars: r.dvars,
            warnings: r.warnings,
            corrected: r.corrected.map(volume_from_message).transpose()?,
        })
    }

    /// Starts an incremental GLM over the non-zero voxels of `mask`.
    pub async fn init_glm(&self, spec: &GlmSpec, mask: &imaging::Volume) -> Result<String> {
        let api = self.api("init_glm")?;
        let request = pb::InitGlmRequest {
            tr_s: spec.tr_s,
            volumes: spec.volumes,
            conditions: spec
                .conditions
                .iter()
                .map(|(name, onsets_s, durations_s)| pb::GlmCondition {
                    name: name.clone(),
                    onsets_s: onsets_s.clone(),
                    durations_s: durations_s.clone(),
                })
                .collect(),
            drift: "cosine".into(),
            cutoff_s: spec.cutoff_s,
            degree: 0,
            motion: spec.motion,
            motion_derivatives: spec.motion_derivatives,
            mask: Some(volume_message(mask)),
        };
        let reply = api
            .preprocess()
            .init_glm(request)
            .await
            .map_err(api_err("init_glm"))?;
        Ok(reply.into_inner().id)
    }

    /// Adds a TR to GLM `id`; returns the first condition's t-map so far.
    pub async fn update_glm(
        &self,
        id: &str,
        volume: &imaging::Volume,
        motion: Option<[f64; 6]>,
    ) -> Result<imaging::Volume> {
        let api = self.api("update_glm")?;
        let request = pb::UpdateGlmRequest {
            id: id.to_owned(),
            volume: Some(volume_message(volume)),
            motion_params: motion.map(|m| m.to_vec()).unwrap_or_default(),
        };
        let r = api
            .preprocess()
            .update_glm(request)
            .await
            .map_err(api_err("update_glm"))?
            .into_inner();
        let map = r.t_map.ok_or(ClientError::Invalid {
            call: "update_glm",
            detail: "no t-map in the reply".into(),
        })?;
        volume_from_message(map)
    }

    /// Frees state `id` in the analyser.
    pub async fn close(&self, id: &str) -> Result<()> {
        let api = self.api("close_preprocess")?;
        api.preprocess()
            .close_preprocess(pb::PreprocessId { id: id.to_owned() })
            .await
            .map_err(api_err("close_preprocess"))?;
        Ok(())
    }
}
