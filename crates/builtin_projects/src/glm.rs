//! The `glm` project: a live t-map of a block design. Per TR the volume is
//! motion-corrected, one design row is added (task blocks convolved with the canonical
//! HRF, cosine drift, the six motion parameters) and the incremental GLM over every
//! brain voxel gives the task t-map so far (crate `realtime`). The result dict holds
//! the largest t, the voxels over `tThreshold` and, with an ROI, its mean t.

use std::path::Path;

use nalgebra::DVector;
use realtime::glm::{Design, DesignSpec, Drift, IncrementalGlm};
use realtime::mask::Mask;
use rtcloud_client::{ClientInterface, PreprocessingView};
use serde_json::json;

use crate::preprocess::Preprocess;
use crate::{
    settings_block_task, settings_roi, settings_thresholds, BuiltinError, ScanStream, Settings,
};

/// What one run keeps between TRs, made from its first volume.
struct RunState {
    pre: Preprocess,
    brain: Mask,
    roi: Option<Mask>,
    design: Design,
    glm: IncrementalGlm,
    row: DVector<f64>,
    contrast: DVector<f64>,
    y: Vec<f64>,
    /// The t-map in the volume's grid, for the Run tab's brain view.
    t_volume: Vec<f32>,
    /// The t-map over the brain mask, NaN where a voxel left the field of view.
    t_brain: Vec<f32>,
}

fn glm_err(e: realtime::RealtimeError) -> BuiltinError {
    BuiltinError::Roi(e.to_string())
}

pub(crate) async fn run(
    client: &ClientInterface,
    settings: &Settings,
    project_dir: &Path,
    runs: &[i64],
    scans: &[i64],
) -> Result<(), BuiltinError> {
    let num_trs = settings.count("numTRs")?;
    let first_tr = settings.count_or("firstTR", 1)?;
    let cutoff_s = settings.float_or("highPassCutoffS", 128.0)?;
    let motion_regressors = settings.bool_or("motionRegressors", true)?;
    let threshold = settings.float_or("tThreshold", 4.9)? as f32;
    let delay = settings.float_or("onsetDelayMs", 0.0)?;
    let thresholds = settings_thresholds(settings)?;
    for (&run, &scan) in runs.iter().zip(scans) {
        client.web.clear_run_plot(run).await?;
        let stream = ScanStream::open(client, settings, scan, first_tr).await?;
        let mut state: Option<RunState> = None;
        for (t, tr) in (first_tr..first_tr.saturating_add(num_trs)).enumerate() {
            let volume = stream.volume(run, tr).await?;
            let s = match &mut state {
                Some(s) => s,
                empty => {
                    let (tr_s, task) = settings_block_task(settings, num_trs, &volume)?;
                    let design = Design::new(DesignSpec {
                        tr_s,
                        volumes: num_trs as usize,
                        conditions: vec![task],
                        drift: Drift::Cosine { cutoff_s },
                        motion: motion_regressors,
                        motion_derivatives: false,
                        tissue_signals: 0,
                    })
                    .map_err(glm_err)?;
                    let pre = Preprocess::new(&volume, true, thresholds.clone())?;
                    let brain = Mask::brain(&realtime::grid::volume_f32(&volume), pre.grid(), 0.15)
                        .map_err(glm_err)?;
                    let roi = settings_roi(settings, project_dir, pre.grid())?;
                    let p = design.columns();
                    let mut contrast = DVector::zeros(p);
                    contrast[design.condition_column(0)] = 1.0;
                    empty.insert(RunState {
                        t_volume: vec![0.0; pre.grid().len()],
                        glm: IncrementalGlm::new(p, brain.len()).map_err(glm_err)?,
                        y: vec![0.0; brain.len()],
                        t_brain: vec![0.0; brain.len()],
                        row: DVector::zeros(p),
                        pre,
                        brain,
                        roi,
                        design,
                        contrast,
                    })
                }
            };
            let out = s.pre.push(&volume)?;
            for (v, &i) in s.y.iter_mut().zip(&s.brain.indices) {
                *v = f64::from(out.volume[i]);
            }
            s.design
                .row(t, &out.motion.params, &[], &mut s.row)
                .map_err(glm_err)?;
            s.glm.update(&s.row, &s.y).map_err(glm_err)?;
            let fd = out.quality.fd_mm;
            let tmap = s.glm.t_values(&s.contrast).map_err(glm_err)?;
            // Voxels that left the field of view in some volume have no t (SPM's reslice
            // mask): NaN, so the counts, the maximum and the overlay skip them.
            for ((&i, &t), out_t) in s.brain.indices.iter().zip(tmap).zip(&mut s.t_brain) {
                *out_t = if out.is_valid(i) { t } else { f32::NAN };
            }
            let tmap = &s.t_brain[..];
            let max_t = tmap
                .iter()
                .copied()
                .filter(|t| t.is_finite())
                .fold(f32::NAN, f32::max);
            let over = tmap.iter().filter(|&&t| t > threshold).count();
            let roi_t = s.roi.as_ref().map(|roi| {
                let (sum, n) = s
                    .brain
                    .indices
                    .iter()
                    .zip(tmap)
                    .filter(|(i, t)| roi.contains(**i) && t.is_finite())
                    .fold((0.0, 0usize), |(a, n), (_, &t)| (a + f64::from(t), n + 1));
                if n == 0 {
                    f64::NAN
                } else {
                    sum / n as f64
                }
            });
            let result = json!({
                "run": run, "tr": tr, "max_t": finite(f64::from(max_t)),
                "voxels_over_threshold": over, "roi_mean_t": roi_t.and_then(finite),
                "fd_mm": fd,
            });
            client.subject.set_result_dict(&result, delay).await?;
            client
                .web
                .plot_data_point(run, tr.into(), finite(f64::from(max_t)).unwrap_or(0.0))
                .await?;
            client
                .web
                .user_log(&format!(
                    "run {run} TR {tr}: largest t {max_t:.2}, {over} voxels over t {threshold}, FD {fd:.2} mm"
                ))
                .await?;
            for (&i, &t) in s.brain.indices.iter().zip(tmap) {
                s.t_volume[i] = t;
            }
            let view = PreprocessingView {
                roi_voxels: s.roi.as_ref().map_or(&[][..], |r| &r.indices[..]),
                t_map: Some((&s.t_volume, f64::from(threshold))),
                ..out.view(run, tr)
            };
            client.web.show_preprocessing(&view).await?;
        }
        stream.close().await?;
    }
    Ok(())
}

/// JSON has no NaN: a number that is not finite is sent as null.
fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}
