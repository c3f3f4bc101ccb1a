//! The one place the binary calls the imaging crate's converters, so the subcommands
//! share exactly the same conversion path.

use imaging::run::Run;
use imaging::{DicomFile, Volume};

/// One converted series: its SeriesNumber (for output names) and its volumes.
#[derive(Debug)]
pub struct ConvertedSeries {
    pub series_number: Option<i64>,
    pub run: Run,
}

/// Converts one file that holds a whole volume (a mosaic or an enhanced multi-frame).
pub fn volume_from_file(file: &DicomFile) -> imaging::Result<Volume> {
    let _ = file;
    Err(imaging::ImagingError::Unsupported(
        "volume conversion is not available in this build yet".into(),
    ))
}

/// Groups files into series and converts each to a run.
pub fn convert_series(files: Vec<DicomFile>) -> imaging::Result<Vec<ConvertedSeries>> {
    let _ = files;
    Err(imaging::ImagingError::Unsupported(
        "series conversion is not available in this build yet".into(),
    ))
}
