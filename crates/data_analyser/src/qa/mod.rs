//! Protocol QA in the analyser (issue 12): the template store and reading a series'
//! acquisition parameters from its first readable file. The parameters, templates and
//! the comparison are the pure `protocol_qa` crate.

pub mod live;
pub mod store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use protocol_qa::AcquisitionRecord;

/// The files of each series under the given paths (files or folders, recursively),
/// grouped by `protocol_qa::names::series_id` and in acquisition order (name order:
/// Siemens instance numbers are zero-padded). Only DICOM by name (`.dcm`, `.ima`,
/// `.dicom`, or no extension): the series of a folder is known without opening its files.
pub fn series_in(files: &[PathBuf]) -> BTreeMap<String, Vec<PathBuf>> {
    let mut series: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for path in files.iter().filter(|p| dicom_by_name(p)) {
        series
            .entry(protocol_qa::names::series_id(path))
            .or_default()
            .push(path.clone());
    }
    for files in series.values_mut() {
        files.sort();
    }
    series
}

fn dicom_by_name(path: &Path) -> bool {
    match path.extension().and_then(|e| e.to_str()) {
        None => true,
        Some(ext) => ["dcm", "ima", "dicom"]
            .iter()
            .any(|x| ext.eq_ignore_ascii_case(x)),
    }
}

/// The record of a series from its first readable file.
#[derive(Debug)]
pub struct SeriesRecord {
    pub record: AcquisitionRecord,
    /// The file the record was read from.
    pub file: PathBuf,
    /// Files before it that could not be read, each with the reason.
    pub skipped: Vec<String>,
}

/// Reads the first file of `files` that parses as DICOM; each one before it that does
/// not is reported in `skipped` (a corrupt first file does not lose the series). `None`
/// with the reasons when no file of the series is readable.
pub fn first_record(files: &[PathBuf]) -> Result<SeriesRecord, Vec<String>> {
    let mut skipped = Vec::new();
    for file in files {
        let read = std::fs::read(file)
            .map_err(|e| e.to_string())
            .and_then(|bytes| AcquisitionRecord::from_dicom(&bytes).map_err(|e| e.to_string()));
        match read {
            Ok(record) => {
                return Ok(SeriesRecord {
                    record,
                    file: file.clone(),
                    skipped,
                })
            }
            Err(reason) => skipped.push(format!("{}: {reason}", file.display())),
        }
    }
    Err(skipped)
}
