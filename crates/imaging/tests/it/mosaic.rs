//! Siemens mosaic conversion and pixel decoding against dcm2niix's references.

use imaging::csa;
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

fn skyra_file(td: &std::path::Path) -> imaging::DicomFile {
    let bytes =
        std::fs::read(td.join("siemens-mosaic-skyra-e11/001_000013_000005.dcm")).expect("read");
    imaging::parse(&bytes).expect("parses")
}

#[test]
fn csa_headers_of_the_skyra_mosaic() {
    let Some(td) = shared_testdata() else { return };
    let file = skyra_file(&td);
    let image = csa::image_header(&file)
        .expect("has CSA image header")
        .expect("parses");
    assert_eq!(image.i64("NumberOfImagesInMosaic"), Some(27));
    let normal = image.f64s("SliceNormalVector").expect("SliceNormalVector");
    assert_eq!(normal.len(), 3);
    assert!((normal.iter().map(|v| v * v).sum::<f64>() - 1.0).abs() < 1e-6);
    assert_eq!(image.f64s("MosaicRefAcqTimes").map(|t| t.len()), Some(27));
    assert!(image.i64("PhaseEncodingDirectionPositive").is_some());

    let series = csa::series_header(&file)
        .expect("has CSA series header")
        .expect("parses");
    let protocol = csa::protocol(&series);
    assert_eq!(csa::ascconv_int(&protocol, "sSliceArray.lSize"), Some(27));
    for key in [
        "sSliceArray.ucMode",
        "sKSpace.ucMultiSliceMode",
        "sKSpace.lBaseResolution",
    ] {
        assert!(protocol.contains_key(key), "ASCCONV lacks {key}");
    }
    assert_eq!(
        csa::ascconv_int(&protocol, "sKSpace.lBaseResolution"),
        Some(64)
    );
    assert!(csa::protocol_mentions(&file, "sSliceArray.lSize"));
    assert!(!csa::protocol_mentions(&file, "sSliceArray.ucImageNumb"));
}

/// The old layout is the SV10 one without its 8-byte magic; both parse alike.
#[test]
fn csa_old_layout_parses_like_sv10() {
    let Some(td) = shared_testdata() else { return };
    let file = skyra_file(&td);
    let raw = file
        .bytes(dicom_core::Tag(0x0029, 0x1010))
        .expect("CSA image header");
    assert!(raw.starts_with(b"SV10"));
    let sv10 = csa::parse(&raw).expect("SV10 parses");
    let old = csa::parse(&raw[8..]).expect("old layout parses");
    assert_eq!(sv10, old);
    assert!(sv10.elements.len() > 50);
}

/// Damaged headers give an error, never a panic or a runaway allocation.
#[test]
fn csa_damaged_headers_are_errors() {
    let Some(td) = shared_testdata() else { return };
    let file = skyra_file(&td);
    let raw = file
        .bytes(dicom_core::Tag(0x0029, 0x1010))
        .expect("CSA image header");
    for cut in (0..raw.len() - 8).step_by(97) {
        assert!(
            csa::parse(&raw[..cut]).is_err(),
            "prefix of {cut} bytes parsed"
        );
    }
    let mut huge = raw.to_vec();
    huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(csa::parse(&huge).is_err());
    // An item length past the end of the header.
    let mut long_item = raw.to_vec();
    let first_item_len = 16 + 64 + 4 + 4 + 4 + 4 + 4 + 4;
    long_item[first_item_len..first_item_len + 4].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    assert!(csa::parse(&long_item).is_err());
}

/// Multiband is read from slice times that repeat; these CMRR series ran with
/// multiband factor 1 (ASCCONV sWipMemBlock.alFree[13] = 1), so none is reported.
#[test]
fn multiband_factor_only_when_slice_times_repeat() {
    let Some(td) = shared_testdata() else { return };
    for series in ["ep2d_Int_4", "cmrr_Int_8", "cmrr_Asc_HF_7"] {
        let dir = td.join("siemens-mosaic-d13").join(series);
        let (path, bytes) = read_dir_files(&dir).into_iter().next().expect("a file");
        let vol = convert(&path).expect("converts");
        assert_eq!(vol.meta.multiband_acceleration_factor, None, "{series}");
        assert_eq!(
            vol.slice_timing_s.iter().filter(|&&t| t == 0.0).count(),
            1,
            "{series}"
        );
        let file = imaging::parse(&bytes).expect("parses");
        let series_header = csa::series_header(&file)
            .expect("series header")
            .expect("parses");
        let protocol = csa::protocol(&series_header);
        if series.starts_with("cmrr") {
            assert_eq!(
                csa::ascconv_int(&protocol, "sWipMemBlock.alFree[13]"),
                Some(1)
            );
        }
    }
}
