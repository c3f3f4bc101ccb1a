//! Clock values and slice timing for single-slice series: DICOM TM/DT parsing and the
//! GE slice timing dcm2niix derives from the GE protocol data block (0025,101B).

use std::collections::HashMap;
use std::io::Read;

use dicom_core::Tag;
use dicom_dictionary_std::tags;

use crate::dicom::DicomFile;
use crate::slices::SliceHeader;

/// Upper bound for the inflated GE protocol block; real ones are a few kB.
const MAX_PROTOCOL_BLOCK: u64 = 1 << 20;

/// DICOM TM ("HHMMSS.ffffff", or the old "HH:MM:SS.frac") as seconds since midnight.
pub(crate) fn dicom_time_s(tm: &str) -> Option<f64> {
    let clean: String = tm.trim().chars().filter(|c| *c != ':').collect();
    let (hms, frac) = match clean.split_once('.') {
        Some((a, b)) => (a, b),
        None => (clean.as_str(), ""),
    };
    if hms.len() < 2 || !hms.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let field =
        |range: std::ops::Range<usize>| hms.get(range).map_or(Some(0.0), |s| s.parse::<f64>().ok());
    let seconds = field(0..2)? * 3600.0 + field(2..4)? * 60.0 + field(4..6)?;
    let frac = if frac.is_empty() {
        0.0
    } else {
        format!("0.{frac}").parse::<f64>().ok()?
    };
    Some(seconds + frac)
}

/// DICOM DT ("YYYYMMDDHHMMSS.ffffff", offsets ignored) as seconds since midnight of its day.
pub(crate) fn dicom_datetime_s(dt: &str) -> Option<f64> {
    let dt = dt.trim();
    let dt = dt.split(['+', '-']).next().unwrap_or(dt);
    dicom_time_s(dt.get(8..)?)
}

/// The GE protocol data block (0025,101B): a 4-byte length then a gzip stream of
/// `KEY "value"` lines.
fn ge_protocol_block(file: &DicomFile) -> Option<HashMap<String, String>> {
    let raw = file.bytes(Tag(0x0025, 0x101B))?;
    let gz = raw.get(4..)?;
    if gz.len() < 20 || gz[0] != 0x1f || gz[1] != 0x8b {
        return None;
    }
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .take(MAX_PROTOCOL_BLOCK)
        .read_to_end(&mut text)
        .ok()?;
    let text = String::from_utf8_lossy(&text);
    let map = text
        .lines()
        .filter_map(|line| {
            let (key, value) = line.trim().split_once(' ')?;
            Some((key.to_string(), value.trim().trim_matches('"').to_string()))
        })
        .collect();
    Some(map)
}

/// Which GE EPI flavour, as dcm2niix tells them apart.
#[derive(Debug, PartialEq)]
enum GeEpi {
    /// epiRT / BrainWave fMRI: slice order from SLICEORDER.
    RealTime,
    /// Multi-phase EPI: always interleaved, group delay added to TR.
    MultiPhase,
}

fn ge_epi_kind(file: &DicomFile, block: &HashMap<String, String>) -> Option<GeEpi> {
    let pulse = file
        .str(Tag(0x0019, 0x109C))
        .unwrap_or_default()
        .to_string();
    let internal = file
        .str(Tag(0x0019, 0x109E))
        .unwrap_or_default()
        .to_string();
    let iopt = block.get("IOPT").map(String::as_str).unwrap_or("");
    let epi_rt = pulse.contains("epiRT") || file.f64(Tag(0x0043, 0x107C)).is_some();
    if pulse.contains("epi_pepolar") || pulse.contains("epi2") || internal == "EPI2" {
        return None;
    }
    if epi_rt || iopt.contains("FMRI") {
        Some(GeEpi::RealTime)
    } else if pulse.contains("epi") || internal == "EPI" || iopt.contains("MPh") {
        Some(GeEpi::MultiPhase)
    } else {
        None
    }
}

/// Extra TR of GE multi-phase EPI (protocol DELACQNOAV, seconds), as dcm2niix adds it.
pub(crate) fn ge_multiphase_delay_s(file: &DicomFile) -> Option<f64> {
    let block = ge_protocol_block(file)?;
    if ge_epi_kind(file, &block)? != GeEpi::MultiPhase {
        return None;
    }
    block
        .get("DELACQNOAV")
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|d| *d > 0.0)
}

/// Software major version and release of "…release:DV26.0_R01_1725.a".
fn ge_version(file: &DicomFile) -> (f64, u32) {
    let versions = file
        .str(tags::SOFTWARE_VERSIONS)
        .unwrap_or_default()
        .to_string();
    let Some(rest) = versions.split("release:").nth(1) else {
        return (0.0, 0);
    };
    let digits = rest.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let major: String = digits
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let release = digits
        .split("_R")
        .nth(1)
        .map(|r| {
            r.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    (major.parse().unwrap_or(0.0), release)
}

/// GE slice onsets (seconds) per slice file, indexed like `headers`, computed from TR,
/// slice order and multiband factor as dcm2niix does (the DICOM holds no slice times).
pub(crate) fn ge_slice_times(first: &DicomFile, headers: &[SliceHeader]) -> Option<Vec<f64>> {
    let n = headers.len();
    if n < 2
        || first
            .str(tags::MR_ACQUISITION_TYPE)
            .is_some_and(|t| t == "3D")
    {
        return None;
    }
    if first
        .i64(tags::NUMBER_OF_TEMPORAL_POSITIONS)
        .is_some_and(|t| t < 2)
    {
        return None;
    }
    if first
        .str(tags::SOFTWARE_VERSIONS)
        .is_none_or(|v| v.len() < 10)
    {
        return None;
    }
    let block = ge_protocol_block(first)?;
    let interleaved = match ge_epi_kind(first, &block)? {
        GeEpi::RealTime => block.get("SLICEORDER").is_none_or(|s| s.trim() != "0"),
        GeEpi::MultiPhase => {
            let delay: f64 = block
                .get("DELACQNOAV")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0);
            if delay < -0.5 {
                return None; // variable delays: unsupported by dcm2niix too
            }
            true
        }
    };
    let tr_s = first.f64(tags::REPETITION_TIME)? / 1000.0;
    let mb = block
        .get("MBACCEL")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let (major, release) = ge_version(first);
    let is27r3 = major >= 28.0 || (major >= 27.0 && release >= 3);
    if mb > 1 && major < 26.0 {
        return None;
    }
    let mut n_exc = n.div_ceil(mb);
    if mb > 1 && !is27r3 && n_exc % 2 == 0 {
        n_exc += 1;
    }
    let per_slice = tr_s / n_exc as f64;
    let mut times: Vec<f64> = (0..n_exc)
        .map(|i| {
            let slot = if !interleaved {
                i
            } else if i % 2 == 0 {
                i / 2
            } else {
                (n_exc - 1) / 2 + i.div_ceil(2)
            };
            slot as f64 * per_slice
        })
        .collect();
    if mb > 1 && is27r3 && interleaved && n_exc > 2 && n_exc % 2 == 0 {
        times.swap(n_exc - 1, n_exc - 3);
    }
    // Rank of each file in instance order: the order the formula above describes.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| headers[i].instance);
    let mut by_file = vec![0.0; n];
    for (rank, &i) in order.iter().enumerate() {
        by_file[i] = times[rank % n_exc];
    }
    Some(by_file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dicom_clock_values() {
        assert_eq!(
            dicom_time_s("114815"),
            Some(11.0 * 3600.0 + 48.0 * 60.0 + 15.0)
        );
        assert_eq!(
            dicom_time_s("090629.35"),
            Some(9.0 * 3600.0 + 6.0 * 60.0 + 29.35)
        );
        assert_eq!(
            dicom_time_s("12:09:05.5"),
            Some(12.0 * 3600.0 + 9.0 * 60.0 + 5.5)
        );
        assert_eq!(dicom_time_s("ab"), None);
        let dt = dicom_datetime_s("20220711120905.225000").unwrap_or(f64::NAN);
        assert!((dt - (12.0 * 3600.0 + 9.0 * 60.0 + 5.225)).abs() < 1e-9);
    }
}
