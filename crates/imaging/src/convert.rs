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
    /// What dcm2niix would warn about for this series (e.g. a partial volume).
    pub warnings: Vec<String>,
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
    } else if crate::mosaic::says_mosaic(file) {
        Layout::Mosaic
    } else {
        Layout::Slice
    }
}

/// Converts one file that holds a whole volume (a Siemens mosaic or an enhanced
/// multi-frame file): the real-time path, one volume per file as it arrives.
pub fn volume_from_file(bytes: &[u8]) -> Result<Volume> {
    let file = parse(bytes)?;
    match layout(&file) {
        Layout::Mosaic => mosaic_volume(&file),
        Layout::Enhanced => {
            if let Some(warning) = crate::enhanced::partial_volume(&file) {
                tracing::warn!("{warning}");
            }
            let volume = volume_from_enhanced(&file)?;
            if is_3d_not_epi(&file) && is_one_volume(std::slice::from_ref(&volume)) {
                Ok(volume.reoriented_to_ras())
            } else {
                Ok(volume)
            }
        }
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
    for (key, files) in groups {
        let files = in_series_order(files);
        let Some(first) = files.first() else { continue };
        let description = first
            .str(tags::SERIES_DESCRIPTION)
            .or_else(|| first.str(tags::PROTOCOL_NAME))
            .map_or_else(|| "series".to_string(), |s| s.to_string());
        let mut series_number = first.i64(tags::SERIES_NUMBER);
        let mut warnings = Vec::new();
        if key.partial {
            // dcm2niix's convention for the partial volume of an aborted scan.
            series_number = series_number.map(|n| n + 1000);
            warnings.extend(crate::enhanced::partial_volume(first));
        }
        let label = format!("series {} ({description})", series_number.unwrap_or(0));
        let three_d = is_3d_not_epi(first);
        let mut volumes = series_volumes(key.layout, files)
            .map_err(|e| ImagingError::Inconsistent(format!("{label}: {e}")))?;
        if three_d && is_one_volume(&volumes) {
            volumes = volumes.into_iter().map(Volume::reoriented_to_ras).collect();
        }
        tracing::debug!(%label, volumes = volumes.len(), "converted series");
        for warning in &warnings {
            tracing::warn!(%label, "{warning}");
        }
        out.push(Series {
            description,
            series_number,
            volumes,
            warnings,
        });
    }
    out.sort_by_key(|s| s.series_number);
    Ok(out)
}

/// The files of one series in dcm2niix's order (series number, then instance number),
/// repeats of an earlier file dropped (see `drop_duplicates`): the order in which
/// [`convert_series`] reads them, and in which a stream should convert them.
pub fn in_series_order(mut files: Vec<DicomFile>) -> Vec<DicomFile> {
    files.sort_by_key(|f| (series_number(f), f.i64(tags::INSTANCE_NUMBER).unwrap_or(0)));
    drop_duplicates(files)
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

/// dcm2niix (`isRotate3DAcq`, on by default) turns a 3D acquisition (MRAcquisitionType
/// 3D, or Philips' private (2005,106F)) that is not EPI and gives ONE volume of several
/// slices to the closest RAS axes; 2D acquisitions, EPI and 4D series keep their order.
fn is_3d_not_epi(file: &DicomFile) -> bool {
    const PHILIPS_MR_ACQUISITION_TYPE: dicom_core::Tag = dicom_core::Tag(0x2005, 0x106F);
    let three_d = file
        .str(tags::MR_ACQUISITION_TYPE)
        .or_else(|| file.str(PHILIPS_MR_ACQUISITION_TYPE))
        .is_some_and(|t| t.trim().to_ascii_uppercase().starts_with("3D"));
    let epi = file
        .str(tags::ECHO_PLANAR_PULSE_SEQUENCE)
        .is_some_and(|v| v.trim().to_ascii_uppercase().starts_with('Y'))
        || file
            .str(tags::SCANNING_SEQUENCE)
            .is_some_and(|v| v.contains("EP"));
    three_d && !epi
}

/// One volume of more than one slice (dcm2niix: dim[3] > 1 and dim[0] < 4).
fn is_one_volume(volumes: &[Volume]) -> bool {
    matches!(volumes, [v] if v.voxels.shape()[2] > 1)
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
    /// An enhanced file with fewer slices than announced: its own series, like dcm2niix.
    partial: bool,
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
            partial: crate::enhanced::partial_volume(file).is_some(),
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
