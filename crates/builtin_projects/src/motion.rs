//! The `motion` project: a live head-motion monitor like FIRMM (Dosenbach et al. 2017).
//! Per TR: the six rigid parameters against the run's first volume, framewise
//! displacement, DVARS, and how many TRs so far exceed each FD threshold. Each TR's
//! result goes to the listener as a dict (`fd_mm`, `tx_mm` .. `rz_deg`, counts), FD is
//! plotted, and warnings go to the user log.

use rtcloud_client::ClientInterface;
use serde_json::json;

use crate::preprocess::Preprocess;
use crate::{BuiltinError, ScanStream, Settings};

pub(crate) async fn run(
    client: &ClientInterface,
    settings: &Settings,
    runs: &[i64],
    scans: &[i64],
) -> Result<(), BuiltinError> {
    let num_trs = settings.count("numTRs")?;
    let first_tr = settings.count_or("firstTR", 1)?;
    let delay = settings.float_or("onsetDelayMs", 0.0)?;
    let thresholds = crate::settings_thresholds(settings)?;
    let count_at = settings.float_list_or("fdCountThresholdsMm", &[0.2, 0.3, 0.5, 0.9])?;
    for (&run, &scan) in runs.iter().zip(scans) {
        client.web.clear_run_plot(run).await?;
        let stream = ScanStream::open(client, settings, scan, first_tr).await?;
        let mut pre: Option<Preprocess> = None;
        let mut counts = vec![0u32; count_at.len()];
        for tr in first_tr..first_tr.saturating_add(num_trs) {
            let volume = stream.volume(run, tr).await?;
            let pre = match &mut pre {
                Some(p) => p,
                empty => empty.insert(Preprocess::new(&volume, true, thresholds.clone())?),
            };
            let out = pre.push(&volume)?;
            let fd = out.quality.fd_mm;
            for (c, &limit) in counts.iter_mut().zip(&count_at) {
                if fd > limit {
                    *c += 1;
                }
            }
            let [tx, ty, tz, rx, ry, rz] = out.motion.params.as_array();
            let over: serde_json::Map<String, serde_json::Value> = count_at
                .iter()
                .zip(&counts)
                .map(|(l, c)| (format!("fd_over_{l}mm"), json!(c)))
                .collect();
            let result = json!({
                "run": run, "tr": tr, "fd_mm": fd,
                "tx_mm": tx, "ty_mm": ty, "tz_mm": tz,
                "rx_deg": rx, "ry_deg": ry, "rz_deg": rz,
                "dvars": out.quality.dvars,
                "counts": over,
                "warnings": out.quality.warnings,
            });
            client.subject.set_result_dict(&result, delay).await?;
            client.web.plot_data_point(run, tr.into(), fd).await?;
            let mut text = format!(
                "run {run} TR {tr}: FD {fd:.3} mm, t [{tx:+.2} {ty:+.2} {tz:+.2}] mm, r [{rx:+.2} {ry:+.2} {rz:+.2}] deg"
            );
            if !out.quality.warnings.is_empty() {
                text.push_str(&format!(
                    " MOTION WARNING: {}",
                    out.quality.warnings.join("; ")
                ));
            }
            client.web.user_log(&text).await?;
            client.web.show_preprocessing(&out.view(run, tr)).await?;
        }
        stream.close().await?;
    }
    Ok(())
}
