//! Siemens mosaic conversion and pixel decoding against dcm2niix's references.

use imaging::pixels::{decode_frames, FrameData};

use crate::testdata::{assert_volume_matches, load_reference, read_dir_files, shared_testdata};

/// Every transfer syntax of the same image decodes to the same stored values.
#[test]
fn transfer_syntaxes_decode_alike() {
    let Some(td) = shared_testdata() else { return };
    let dir = td.join("transfer-syntaxes");
    let mut first: Option<FrameData> = None;
    for n in 1..=9 {
        let path = dir.join(format!("{n}.dcm"));
        let bytes = std::fs::read(&path).expect("read transfer-syntax file");
        let file = imaging::parse(&bytes).expect("parses");
        let frames = decode_frames(&file)
            .unwrap_or_else(|e| panic!("{n}.dcm ({}): {e}", file.transfer_syntax()));
        assert_eq!(frames.data.len(), frames.rows * frames.cols * frames.frames);
        match &first {
            None => first = Some(frames.data),
            Some(f) => assert!(
                *f == frames.data,
                "{n}.dcm ({}) differs",
                file.transfer_syntax()
            ),
        }
    }
}

fn convert(path: &std::path::Path) -> imaging::Result<imaging::Volume> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    imaging::mosaic::volume_from_mosaic(&imaging::parse(&bytes)?)
}

/// Converts each file of `rel` on its own, in InstanceNumber order, against the reference.
fn check_series(td: &std::path::Path, rel: &str) {
    let reference = load_reference(td, rel, "series");
    let mut files: Vec<(i64, std::path::PathBuf, imaging::Volume)> = read_dir_files(&td.join(rel))
        .into_iter()
        .map(|(p, bytes)| {
            let file = imaging::parse(&bytes).expect("parses");
            let instance = file
                .i64(dicom_dictionary_std::tags::INSTANCE_NUMBER)
                .unwrap_or(0);
            let vol = imaging::mosaic::volume_from_mosaic(&file)
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (instance, p, vol)
        })
        .collect();
    files.sort_by_key(|f| f.0);
    assert_eq!(
        files.len(),
        reference.dims[3],
        "{rel}: files vs reference volumes"
    );
    let pe = reference
        .json
        .get("PhaseEncodingDirection")
        .and_then(|v| v.as_str());
    for (t, (_, path, vol)) in files.iter().enumerate() {
        assert_volume_matches(vol, &reference, t, &path.display().to_string());
        assert_eq!(
            vol.meta.phase_encoding_direction.as_deref(),
            pe,
            "{rel}: phase encoding"
        );
    }
}

#[test]
fn skyra_each_file_matches_its_reference_volume() {
    let Some(td) = shared_testdata() else { return };
    let rel = "siemens-mosaic-skyra-e11";
    let reference = load_reference(&td, rel, "series");
    for k in 1..=10 {
        let path = td.join(rel).join(format!("001_000013_{k:06}.dcm"));
        let vol = convert(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_volume_matches(&vol, &reference, k - 1, &path.display().to_string());
        assert_eq!(vol.meta.phase_encoding_direction.as_deref(), Some("j-"));
    }
    // File _000000 repeats the acquisition of _000001 (same geometry and timing, other
    // pixel values); dcm2niix drops it, so only its header-derived parts are compared.
    let dup = convert(&td.join(rel).join("001_000013_000000.dcm")).expect("converts");
    let one = convert(&td.join(rel).join("001_000013_000001.dcm")).expect("converts");
    assert_eq!(dup.voxels.shape(), one.voxels.shape());
    assert_eq!(dup.affine, one.affine);
    assert_eq!(dup.slice_timing_s, one.slice_timing_s);
    let single = load_reference(&td, rel, "vol_13_000003");
    let vol = convert(&td.join(rel).join("001_000013_000003.dcm")).expect("converts");
    assert_volume_matches(&vol, &single, 0, "vol_13_000003");
}

#[test]
fn d13_series_match() {
    let Some(td) = shared_testdata() else { return };
    for series in [
        "ep2d_Asc_2",
        "ep2d_Int_4",
        "ep2d_Int_HF_5",
        "cmrr_Asc_6",
        "cmrr_Asc_HF_7",
        "cmrr_Int_8",
        "cmrr_Int_HF_9",
        "ep2d_Asc_HF_10",
    ] {
        check_series(&td, &format!("siemens-mosaic-d13/{series}"));
    }
}

#[test]
fn e11_pe_matches() {
    let Some(td) = shared_testdata() else { return };
    check_series(&td, "siemens-mosaic-e11-pe/mr_0003");
}

#[test]
fn transfer_syntaxes_match_references() {
    let Some(td) = shared_testdata() else { return };
    for n in 1..=9 {
        let reference = load_reference(&td, &format!("transfer-syntaxes/{n}"), "series");
        let path = td.join(format!("transfer-syntaxes/{n}.dcm"));
        let vol = convert(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_volume_matches(&vol, &reference, 0, &path.display().to_string());
    }
}

#[test]
fn truncated_mosaic_is_incomplete() {
    let Some(td) = shared_testdata() else { return };
    let path = td.join("truncated/trunc_001_000013_000005.dcm");
    match convert(&path) {
        Err(imaging::ImagingError::Incomplete(_)) => {}
        other => panic!(
            "expected Incomplete, got {:?}",
            other.map(|v| v.voxels.shape())
        ),
    }
}

#[test]
fn every_prefix_of_a_mosaic_is_an_error() {
    let Some(td) = shared_testdata() else { return };
    let path = td.join("siemens-mosaic-skyra-e11/001_000013_000005.dcm");
    let bytes = std::fs::read(&path).expect("read");
    for cut in 0..40 {
        let len = bytes.len() * cut / 40;
        let result =
            imaging::parse(&bytes[..len]).and_then(|f| imaging::mosaic::volume_from_mosaic(&f));
        assert!(
            result.is_err(),
            "prefix of {len} of {} bytes gave a volume",
            bytes.len()
        );
    }
}

/// The real-time budget: one Skyra mosaic, already parsed, converts in well under 0.5 ms
/// (checked in release builds only; debug builds are an order of magnitude slower).
#[test]
fn mosaic_conversion_is_fast() {
    let Some(td) = shared_testdata() else { return };
    let bytes =
        std::fs::read(td.join("siemens-mosaic-skyra-e11/001_000013_000005.dcm")).expect("read");
    let file = imaging::parse(&bytes).expect("parses");
    let mut best = std::time::Duration::MAX;
    for _ in 0..30 {
        let start = std::time::Instant::now();
        let vol = imaging::mosaic::volume_from_mosaic(&file).expect("converts");
        best = best.min(start.elapsed());
        assert_eq!(vol.voxels.shape(), [64, 64, 27]);
    }
    eprintln!("mosaic conversion: best of 30 = {best:?}");
    if !cfg!(debug_assertions) {
        assert!(
            best.as_secs_f64() < 0.5e-3,
            "mosaic conversion took {best:?}"
        );
    }
}
