//! ROI neurofeedback: per TR, the ROI's percent signal change against the rest
//! baseline (see [`crate::roi::PercentChange`]) is plotted and sent to the stimulus
//! PC as a value in [-1, 1] (0 while the baseline is collected).
//!
//! Before that, by default, each volume is motion-corrected to the run's first volume
//! (`motionCorrection`), and the ROI mean is cleaned of what the six motion parameters
//! (optionally their derivatives and white-matter / CSF means) explain
//! (`nuisanceRegression`), fitted by an incremental GLM over the TRs so far whose model
//! also holds the task (the settings' block design, `blockTRs`, convolved with the
//! canonical HRF), so that motion locked to the task does not take the activation with
//! it; the rest-baseline line takes the drift out. The model assumes a BOLD-like
//! response: on a synthetic activation that switches with the design, the motion
//! columns take the difference between the box and the HRF-shaped task (data_analyser's
//! roi-feedback test therefore makes its run with `synth --bold-lag`; issue 10).

use std::path::Path;

use realtime::glm::{DesignSpec, Drift, RoiGlm};
use realtime::mask::Mask;
use rtcloud_client::{ClientInterface, PreprocessingView};

use crate::preprocess::Preprocess;
use crate::roi::{read_mask, PercentChange};
use crate::{
    settings_block_task, settings_roi, settings_thresholds, BuiltinError, ScanStream, Settings,
};

pub(crate) async fn run(
    client: &ClientInterface,
    settings: &Settings,
    project_dir: &Path,
    runs: &[i64],
    scans: &[i64],
) -> Result<(), BuiltinError> {
    let num_trs = settings.count("numTRs")?;
    let first_tr = settings.count_or("firstTR", 1)?;
    let baseline_trs = settings.count("baselineTRs")? as usize;
    let max_percent = settings.float_or("maxPercentChange", 1.0)?;
    let delay = settings.float_or("onsetDelayMs", 0.0)?;
    let correct = settings.bool_or("motionCorrection", true)?;
    let regress = settings.bool_or("nuisanceRegression", true)?;
    let derivatives = settings.bool_or("motionDerivatives", false)?;
    let tissue_files: Vec<String> = ["wmMask", "csfMask"]
        .iter()
        .map(|k| settings.string_or(k, ""))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|m| !m.is_empty())
        .collect();
    let thresholds = settings_thresholds(settings)?;
    if settings.string_or("roiMask", "")?.is_empty() && settings.index_box("roiBox")?.is_none() {
        return Err(BuiltinError::Roi(
            "give roiMask (a NIfTI file) or roiBox ([[i0, j0, k0], [i1, j1, k1]]) in the settings"
                .into(),
        ));
    }
    for (&run, &scan) in runs.iter().zip(scans) {
        client.web.clear_run_plot(run).await?;
        let stream = ScanStream::open(client, settings, scan, first_tr).await?;
        // Made from the first volume: its grid is the run's.
        let mut state: Option<(Preprocess, Mask, Vec<Mask>, Vec<f64>)> = None;
        // Made from the first volume (the task's timing needs its TR).
        let mut roi_glm: Option<RoiGlm> = None;
        let mut change = PercentChange::new(baseline_trs, max_percent)?;
        let mut tissue = vec![0.0; tissue_files.len()];
        for tr in first_tr..first_tr.saturating_add(num_trs) {
            let volume = stream.volume(run, tr).await?;
            let (pre, roi, tissue_masks, tissue_first) = match &mut state {
                Some(s) => s,
                empty => {
                    let pre = Preprocess::new(&volume, correct, thresholds.clone())?;
                    let roi = settings_roi(settings, project_dir, pre.grid())?
                        .ok_or_else(|| BuiltinError::Roi("no ROI in the settings".into()))?;
                    let masks = tissue_files
                        .iter()
                        .map(|f| {
                            let (values, grid) = read_mask(&project_dir.join(f))?;
                            Mask::resampled(&values, &grid, pre.grid())
                                .map_err(|e| BuiltinError::Roi(format!("mask {f}: {e}")))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    empty.insert((pre, roi, masks, Vec::new()))
                }
            };
            if regress && roi_glm.is_none() {
                let (tr_s, task) = settings_block_task(settings, num_trs, &volume)?;
                let spec = DesignSpec {
                    tr_s,
                    volumes: num_trs as usize,
                    conditions: vec![task],
                    // PercentChange's baseline line takes the drift out.
                    drift: Drift::None,
                    motion: true,
                    motion_derivatives: derivatives,
                    tissue_signals: tissue_files.len(),
                };
                roi_glm = Some(RoiGlm::new(spec).map_err(|e| BuiltinError::Roi(e.to_string()))?);
            }
            let out = pre.push(&volume)?;
            let mean = out.mean(roi);
            // Tissue signals as fractional change from their first TR (order 1e-2).
            for (n, m) in tissue_masks.iter().enumerate() {
                let v = out.mean(m);
                if tissue_first.len() <= n {
                    tissue_first.push(v);
                }
                tissue[n] = if tissue_first[n] != 0.0 {
                    v / tissue_first[n] - 1.0
                } else {
                    0.0
                };
            }
            let signal = match &mut roi_glm {
                Some(glm) => {
                    glm.push(mean, &out.motion.params, &tissue)
                        .map_err(|e| BuiltinError::Roi(e.to_string()))?
                        .cleaned
                }
                None => mean,
            };
            let warnings = out.quality.warnings.join("; ");
            let fd = out.quality.fd_mm;
            let (feedback, percent) = match change.push(signal) {
                Some(c) => (c.feedback, Some(c.percent)),
                None => (0.0, None),
            };
            client
                .subject
                .set_result(run, tr.into(), feedback, delay)
                .await?;
            client.web.plot_data_point(run, tr.into(), feedback).await?;
            let mut text = match percent {
                Some(p) => format!(
                    "run {run} TR {tr}: ROI {mean:.2} (cleaned {signal:.2}), FD {fd:.2} mm, change {p:+.3}%, feedback {feedback:+.3}"
                ),
                None => format!("run {run} TR {tr}: ROI {mean:.2}, FD {fd:.2} mm (baseline)"),
            };
            if !warnings.is_empty() {
                text.push_str(&format!(" MOTION WARNING: {warnings}"));
            }
            client.web.user_log(&text).await?;
            let view = PreprocessingView {
                roi_voxels: &roi.indices,
                ..out.view(run, tr)
            };
            client.web.show_preprocessing(&view).await?;
        }
        stream.close().await?;
    }
    Ok(())
}
