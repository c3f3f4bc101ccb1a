//! ROI neurofeedback: per TR, the ROI's percent signal change against the rest
//! baseline (see [`crate::roi::PercentChange`]) is plotted and sent to the stimulus
//! PC as a value in [-1, 1] (0 while the baseline is collected).

use std::path::Path;

use rtcloud_client::ClientInterface;

use crate::roi::{PercentChange, Roi};
use crate::{BuiltinError, ScanStream, Settings};

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
    let mask = settings.string_or("roiMask", "")?;
    let roi_box = settings.index_box("roiBox")?;
    if mask.is_empty() && roi_box.is_none() {
        return Err(BuiltinError::Roi(
            "give roiMask (a NIfTI file) or roiBox ([[i0, j0, k0], [i1, j1, k1]]) in the settings"
                .into(),
        ));
    }
    for (&run, &scan) in runs.iter().zip(scans) {
        client.web.clear_run_plot(run).await?;
        let stream = ScanStream::open(client, settings, scan, first_tr).await?;
        let mut roi: Option<Roi> = None;
        let mut change = PercentChange::new(baseline_trs, max_percent)?;
        for tr in first_tr..first_tr.saturating_add(num_trs) {
            let volume = stream.volume(run, tr).await?;
            // The box needs the volume's shape, known from the first volume on.
            let roi = match &mut roi {
                Some(roi) => roi,
                empty => empty.insert(if mask.is_empty() {
                    let corners = roi_box.unwrap_or_default();
                    Roi::from_box(corners, volume.voxels.shape())?
                } else {
                    Roi::from_mask_file(&project_dir.join(&mask))?
                }),
            };
            let mean = roi.mean(&volume)?;
            let (feedback, percent) = match change.push(mean) {
                Some(c) => (c.feedback, Some(c.percent)),
                None => (0.0, None),
            };
            client
                .subject
                .set_result(run, tr.into(), feedback, delay)
                .await?;
            client.web.plot_data_point(run, tr.into(), feedback).await?;
            let text = match percent {
                Some(p) => format!(
                    "run {run} TR {tr}: ROI {mean:.2}, change {p:+.3}%, feedback {feedback:+.3}"
                ),
                None => format!("run {run} TR {tr}: ROI {mean:.2} (baseline)"),
            };
            client.web.user_log(&text).await?;
        }
        stream.close().await?;
    }
    Ok(())
}
