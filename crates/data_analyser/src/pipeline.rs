//! The binary's series conversion (`convert`): files grouped into series, each series
//! one run.

use anyhow::{Context, Result};
use imaging::run::Run;
use imaging::DicomFile;

/// One converted series: its SeriesNumber (for output names) and its volumes as a run.
#[derive(Debug)]
pub struct ConvertedSeries {
    pub series_number: Option<i64>,
    pub run: Run,
}

/// Groups files into series and converts each to a run.
pub fn convert_series(files: Vec<DicomFile>) -> Result<Vec<ConvertedSeries>> {
    let mut out = Vec::new();
    for series in imaging::convert::convert_series(files)? {
        let mut volumes = series.volumes.into_iter();
        let Some(first) = volumes.next() else {
            tracing::warn!("series {:?} has no volumes; skipped", series.series_number);
            continue;
        };
        let mut run = Run::new(first);
        for volume in volumes {
            run.push(volume).with_context(|| {
                format!("series {:?} cannot form one run", series.series_number)
            })?;
        }
        out.push(ConvertedSeries {
            series_number: series.series_number,
            run,
        });
    }
    Ok(out)
}
