//! The crate's entry points: one file that is a whole volume (streaming), and a whole
//! folder of files converted series by series the way dcm2niix does.

use std::collections::{BTreeMap, HashSet};

use dicom_dictionary_std::tags;

use crate::dicom::{parse, DicomFile};
use crate::enhanced::{is_enhanced, volume_from_enhanced, volumes_from_enhanced};
use crate::error::{ImagingError, Result};
use crate::slices::{group_into_volumes, volume_from_slices};
use crate::volume::Volume;

/// One converted series (one dcm2niix output): its volumes in acquisition order.
#[derive(Debug, Clone)]
pub struct Series {
    /// SeriesDescription, else ProtocolName, else "series".
    pub description: String,
    pub series_number: Option<i64>,
    pub volumes: Vec<Volume>,
}

/// How a file stores its image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Layout {
    /// Siemens mosaic: one file = one volume tiled into one 2D image.
    Mosaic,
    /// Enhanced multi-frame: one file = one or more volumes, one frame per slice.
    Enhanced,
    /// Classic single-slice: one file = one slice.
    Slice,
}

/// Tells mosaic, enhanced and single-slice files apart.
pub fn layout(file: &DicomFile) -> Layout {
    if is_enhanced(file) {
        Layout::Enhanced
    } else if is_mosaic(file) {
        Layout::Mosaic
    } else {
        Layout::Slice
    }
}

fn is_mosaic(file: &DicomFile) -> bool {
    file.str(tags::IMAGE_TYPE).is_some_and(|t| {
        t.split('\\')
            .any(|v| v.trim().eq_ignore_ascii_case("MOSAIC"))
    })
}

/// Converts one file that holds a whole volume (a Siemens mosaic or an enhanced
/// multi-frame file): the real-time path, one volume per file as it arrives.
pub fn volume_from_file(bytes: &[u8]) -> Result<Volume> {
    let file = parse(bytes)?;
    match layout(&file) {
        Layout::Mosaic => mosaic_volume(&file),
        Layout::Enhanced => volume_from_enhanced(&file),
        Layout::Slice => Err(ImagingError::Unsupported(
            "this file holds one slice, not a volume: collect the slices of a volume and call volume_from_slices (or convert_series for a whole series)".into(),
        )),
    }
}

/// Converts a whole set of files like dcm2niix: files are grouped into series, exact
/// duplicates are dropped, and each series' volumes come back in acquisition order.
pub fn convert_series(files: Vec<DicomFile>) -> Result<Vec<Series>> {
    let mut groups: BTreeMap<SeriesKey, Vec<DicomFile>> = BTreeMap::new();
    for file in files {
        groups.entry(SeriesKey::of(&file)).or_default().push(file);
    }
    let mut out = Vec::with_capacity(groups.len());
    for (key, mut files) in groups {
        // dcm2niix's order: series number, then instance number.
        files.sort_by_key(|f| (series_number(f), f.i64(tags::INSTANCE_NUMBER).unwrap_or(0)));
        let files = drop_duplicates(files);
        let Some(first) = files.first() else { continue };
        let description = first
            .str(tags::SERIES_DESCRIPTION)
            .or_else(|| first.str(tags::PROTOCOL_NAME))
            .map_or_else(|| "series".to_string(), |s| s.to_string());
        let series_number = first.i64(tags::SERIES_NUMBER);
        let label = format!("series {} ({description})", series_number.unwrap_or(0));
        let volumes = series_volumes(key.layout, files)
            .map_err(|e| ImagingError::Inconsistent(format!("{label}: {e}")))?;
        tracing::debug!(%label, volumes = volumes.len(), "converted series");
        out.push(Series {
            description,
            series_number,
            volumes,
        });
    }
    out.sort_by_key(|s| s.series_number);
    Ok(out)
}

fn series_volumes(layout: Layout, files: Vec<DicomFile>) -> Result<Vec<Volume>> {
    match layout {
        Layout::Mosaic => files.iter().map(mosaic_volume).collect(),
        Layout::Enhanced => {
            let mut volumes = Vec::new();
            for file in &files {
                volumes.extend(volumes_from_enhanced(file)?);
            }
            // dcm2niix writes the second volume's slice times for the whole run
            // (the first volume's can be off on Siemens XA).
            if let Some(times) = volumes.get(1).map(|v| v.slice_timing_s.clone()) {
                if !times.is_empty() {
                    volumes
                        .iter_mut()
                        .for_each(|v| v.slice_timing_s = times.clone());
                }
            }
            Ok(volumes)
        }
        Layout::Slice => {
            let before = files.len();
            let files: Vec<DicomFile> = files
                .into_iter()
                .filter(|f| !crate::slices::is_derived_diffusion_file(f))
                .collect();
            if files.len() < before {
                tracing::info!(
                    files = before - files.len(),
                    "derived diffusion images (trace/ADC) left out of the run, as dcm2niix does"
                );
            }
            group_into_volumes(files)?
                .iter()
                .map(|v| volume_from_slices(v))
                .collect()
        }
    }
}

/// What keeps two files in different outputs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SeriesKey {
    study: String,
    /// SeriesInstanceUID, or the merged Siemens XA series (see [`SeriesKey::of`]).
    series: String,
    layout: Layout,
    size: (i64, i64),
    echo: i64,
}

impl SeriesKey {
    fn of(file: &DicomFile) -> SeriesKey {
        let text = |tag| file.str(tag).map(|s| s.to_string()).unwrap_or_default();
        let number = series_number(file);
        // Siemens XA "classic" exports give every volume its own series number
        // (16001, 16002, ...); dcm2niix merges them by number / 1000.
        let series = if is_siemens_xa(file) && number > 1000 {
            format!("xa-merged:{}", number / 1000)
        } else {
            match file.str(tags::SERIES_INSTANCE_UID) {
                Some(uid) => uid.to_string(),
                None => format!("number:{number}"),
            }
        };
        SeriesKey {
            study: text(tags::STUDY_INSTANCE_UID),
            series,
            layout: layout(file),
            size: (
                file.i64(tags::ROWS).unwrap_or(0),
                file.i64(tags::COLUMNS).unwrap_or(0),
            ),
            echo: file.i64(tags::ECHO_NUMBERS).unwrap_or(1),
        }
    }
}

fn series_number(file: &DicomFile) -> i64 {
    file.i64(tags::SERIES_NUMBER).unwrap_or(0)
}

fn is_siemens_xa(file: &DicomFile) -> bool {
    crate::slices::manufacturer_contains(file, "SIEMENS")
        && file.str(tags::SOFTWARE_VERSIONS).is_some_and(|v| {
            ["XA10", "XA11", "XA20", "XA30", "XA31"]
                .iter()
                .any(|x| v.contains(x))
        })
}

/// Drops files repeating an earlier file's series, acquisition, instance and time
/// (dcm2niix: "identical time, series, acquisition and instance values").
fn drop_duplicates(files: Vec<DicomFile>) -> Vec<DicomFile> {
    let mut seen = HashSet::new();
    let before = files.len();
    let kept: Vec<DicomFile> = files
        .into_iter()
        .filter(|f| {
            let key = (
                series_number(f),
                f.i64(tags::ACQUISITION_NUMBER),
                f.i64(tags::INSTANCE_NUMBER),
                f.str(tags::ACQUISITION_TIME).map(|s| s.to_string()),
            );
            seen.insert(key)
        })
        .collect();
    if kept.len() < before {
        tracing::info!(
            dropped = before - kept.len(),
            "duplicate DICOM files removed"
        );
    }
    kept
}

/// Mosaic files go to the mosaic decoder.
fn mosaic_volume(file: &DicomFile) -> Result<Volume> {
    crate::mosaic::volume_from_mosaic(file)
}
