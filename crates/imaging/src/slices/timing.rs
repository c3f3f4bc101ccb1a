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
    /// ABCD epi_pepolar research sequence: interleaved, no group delay.
    PePolar,
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
    if pulse.contains("epi_pepolar") {
        return Some(GeEpi::PePolar);
    }
    if pulse.contains("epi2") || internal == "EPI2" {
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
        GeEpi::PePolar => true,
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

/// GE multiband (HyperBand) factor: the first value of (0043,10B6), or the protocol
/// block's MBACCEL, whichever is larger, when above 1 (as dcm2niix reads both).
pub(crate) fn ge_multiband(file: &DicomFile) -> Option<u32> {
    let private = file.f64(Tag(0x0043, 0x10B6)).unwrap_or(0.0);
    let block = ge_protocol_block(file)
        .and_then(|b| b.get("MBACCEL").and_then(|v| v.parse::<f64>().ok()))
        .unwrap_or(0.0);
    let mb = private.max(block);
    (mb > 1.0 && mb < 1000.0).then_some(mb as u32)
}

/// True for a GE epi_pepolar volume acquired with reversed phase-encoding polarity
/// (UserData12 (0019,10B3): 1 every volume, 2 odd volumes, 3 even volumes after the
/// first; volumes numbered by TemporalPositionIdentifier), whose rows GE stores
/// flipped. dcm2niix flips them back (its issue 532).
pub(crate) fn ge_pepolar_reversed(file: &DicomFile) -> bool {
    let pepolar = file
        .str(Tag(0x0019, 0x109C))
        .is_some_and(|p| p.contains("epi_pepolar"));
    if !pepolar {
        return false;
    }
    let volume = file.i64(tags::TEMPORAL_POSITION_IDENTIFIER).unwrap_or(-1);
    match file.f64(Tag(0x0019, 0x10B3)).map(|v| v.round() as i64) {
        Some(1) => true,
        Some(2) => volume > 0 && volume % 2 == 1,
        Some(3) => volume > 0 && volume % 2 == 0,
        _ => false,
    }
}

/// GE phase-encoding polarity (true: positive, "unflipped" in dcm2niix's words), from
/// RectilinearPhaseEncodeReordering (0018,9034: LINEAR is flipped, REVERSE_LINEAR is
/// not), else from the EPI flags of the raw header (0043,102A); reversed pepolar
/// volumes invert it.
pub(crate) fn ge_phase_positive(file: &DicomFile) -> Option<bool> {
    let from_reordering = file
        .str(tags::RECTILINEAR_PHASE_ENCODE_REORDERING)
        .and_then(|r| match r.trim().chars().next()?.to_ascii_uppercase() {
            'L' => Some(false),
            'R' => Some(true),
            _ => None,
        });
    let positive = match from_reordering {
        Some(p) => p,
        None => ge_header_positive(&file.bytes(Tag(0x0043, 0x102A))?)?,
    };
    Some(positive != ge_pepolar_reversed(file))
}

/// Polarity from GE's raw header (0043,102A): the offset of the image header is at byte
/// 24, its version (f32) first; from version 25.002 fields move by 0x4C. A phase flag
/// (bit 2 at +0x30) and a bottom-up ky order (value 2 at +0x394, moved by -0x8C) each
/// flip the polarity. `None` for non-EPI headers or bytes too short.
pub(crate) fn ge_header_positive(raw: &[u8]) -> Option<bool> {
    let u16_at = |at: usize| {
        raw.get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let start = usize::from(u16_at(24)?);
    raw.get(start..start + 916)?;
    let version = f32::from_le_bytes(raw.get(start..start + 4)?.try_into().ok()?);
    if !(5.0..=40.0).contains(&version) {
        return None;
    }
    let (base, ky_order_at) = if version >= 25.002 {
        (start + 0x4C, 0x394 - 0x8C)
    } else {
        (start, 0x394)
    };
    let is_epi = u16_at(base + 0x3A)? & 0x800 != 0;
    if !is_epi {
        return None;
    }
    let mut flipped = u16_at(base + 0x30)? & 0x4 != 0;
    if u16_at(base + ky_order_at)? == 2 {
        flipped = !flipped;
    }
    Some(!flipped)
}

/// Slice onsets (seconds, storage order) of a Siemens 2D mosaic `file` of `n` slices
/// from its protocol (see [`siemens_protocol_slice_times`]); for files without
/// MosaicRefAcqTimes (VB12/VB13).
pub(crate) fn siemens_rescue_slice_times(file: &DicomFile, n: usize) -> Option<Vec<f64>> {
    if file
        .str(tags::MR_ACQUISITION_TYPE)
        .is_some_and(|t| t == "3D")
    {
        return None;
    }
    let tr_s = file.f64(tags::REPETITION_TIME)? / 1000.0;
    let protocol = crate::csa::protocol(&crate::csa::series_header(file)?.ok()?);
    let uc_mode = crate::csa::ascconv_int(&protocol, "sSliceArray.ucMode")?;
    let delay_us = protocol
        .get("lDelayTimeInTR")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    siemens_protocol_slice_times(uc_mode, delay_us, tr_s, n)
}

/// Slice onsets (seconds, k order) of an old Siemens mosaic without MosaicRefAcqTimes,
/// from the protocol's slice order `sSliceArray.ucMode` (1 ascending, 2 descending,
/// 4 interleaved) spread evenly over TR minus `lDelayTimeInTR` (µs), as dcm2niix's
/// "rescue" does for VB12/VB13. Interleaved with an even slice count starts at slice 2.
pub(crate) fn siemens_protocol_slice_times(
    uc_mode: i64,
    delay_us: f64,
    tr_s: f64,
    n: usize,
) -> Option<Vec<f64>> {
    if n < 2 || tr_s.is_nan() || tr_s <= 0.0 {
        return None;
    }
    let per_slice = (tr_s - delay_us / 1e6) / n as f64;
    let slot = |i: usize| i as f64 * per_slice;
    match uc_mode {
        1 => Some((0..n).map(slot).collect()),
        2 => Some((0..n).map(|i| slot(n - 1 - i)).collect()),
        4 => {
            // Slices 0, 2, 4, ... first (1, 3, 5, ... first when n is even).
            let half = n.div_ceil(2);
            let (mut even_slot, mut odd_slot) = if n % 2 == 0 { (half, 0) } else { (0, half) };
            let mut times = Vec::with_capacity(n);
            for i in 0..n {
                let s = if i % 2 == 0 {
                    &mut even_slot
                } else {
                    &mut odd_slot
                };
                times.push(slot(*s));
                *s += 1;
            }
            Some(times)
        }
        _ => None,
    }
}

/// The multiband factor slice times imply: how many slices share the earliest onset,
/// when more than one and fewer than all (dcm2niix counts the same way).
pub(crate) fn multiband_from_times(times: &[f64]) -> Option<u32> {
    let min = times.iter().copied().fold(f64::INFINITY, f64::min);
    let zeros = times.iter().filter(|&&t| (t - min).abs() < 1e-6).count();
    (zeros > 1 && zeros < times.len()).then_some(zeros as u32)
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

    #[test]
    fn protocol_slice_orders_match_dcm2niix() {
        let t = |mode, n| siemens_protocol_slice_times(mode, 0.0, n as f64, n).unwrap_or_default();
        assert_eq!(t(1, 4), vec![0.0, 1.0, 2.0, 3.0]);
        assert_eq!(t(2, 3), vec![2.0, 1.0, 0.0]);
        // Odd count: 0,2,4 first; even count: 1,3 first.
        assert_eq!(t(4, 5), vec![0.0, 3.0, 1.0, 4.0, 2.0]);
        assert_eq!(t(4, 4), vec![2.0, 0.0, 3.0, 1.0]);
        assert_eq!(siemens_protocol_slice_times(3, 0.0, 2.0, 4), None);
        let delayed = siemens_protocol_slice_times(1, 10_000.0, 2.2, 35).unwrap_or_default();
        assert!((delayed[1] - 2.19 / 35.0).abs() < 1e-12);
    }

    #[test]
    fn multiband_counts_simultaneous_slices() {
        assert_eq!(multiband_from_times(&[0.0, 0.5, 0.0, 0.5]), Some(2));
        assert_eq!(multiband_from_times(&[0.0, 0.5, 1.0]), None);
        assert_eq!(multiband_from_times(&[0.0, 0.0]), None);
        assert_eq!(multiband_from_times(&[]), None);
    }
}
