//! RT-Cloud's sample project: per TR, the mean of the volume's voxels is plotted and
//! `(mean - feedbackMin) / (feedbackMax - feedbackMin)` goes to the stimulus PC. With
//! setting `bidsDataset`, the run's volumes come from that BIDS dataset instead of the
//! scanner (e.g. a session's `bids/` folder: the same results as the live run).

use rtcloud_client::ClientInterface;

use crate::{BuiltinError, ScanStream, Settings};

pub(crate) async fn run(
    client: &ClientInterface,
    settings: &Settings,
    runs: &[i64],
    scans: &[i64],
) -> Result<(), BuiltinError> {
    let num_trs = settings.count("numTRs")?;
    let first_tr = settings.count_or("firstTR", 1)?;
    let (low, high) = (
        settings.float("feedbackMin")?,
        settings.float("feedbackMax")?,
    );
    if high <= low {
        return Err(BuiltinError::Settings {
            path: settings.path().to_owned(),
            problem: format!("feedbackMax ({high}) must be above feedbackMin ({low})"),
        });
    }
    let delay = settings.float_or("onsetDelayMs", 0.0)?;
    for (&run, &scan) in runs.iter().zip(scans) {
        client.web.clear_run_plot(run).await?;
        client
            .web
            .user_log(&format!(
                "run {run} (scan {scan}): {num_trs} TRs from TR {first_tr}"
            ))
            .await?;
        let stream = ScanStream::open_run(client, settings, run, scan, first_tr).await?;
        for tr in first_tr..first_tr.saturating_add(num_trs) {
            let volume = match stream.volume(run, tr).await {
                Ok(volume) => volume,
                // One bad scanner file fails its TR only; the analyser's log names it.
                Err(BuiltinError::Tr { source, .. }) if source.is_bad_file() => {
                    client
                        .web
                        .user_log(&format!("run {run} TR {tr} skipped: {source}"))
                        .await?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mean = volume.voxels.mean();
            let feedback = (mean - low) / (high - low);
            client
                .subject
                .set_result(run, tr.into(), feedback, delay)
                .await?;
            client.web.plot_data_point(run, tr.into(), mean).await?;
            client
                .web
                .user_log(&format!(
                    "run {run} TR {tr}: mean {mean:.3} feedback {feedback:.4}"
                ))
                .await?;
        }
        stream.close().await?;
    }
    Ok(())
}
