//! De-identification on every real test file: nothing identifying survives, the
//! converted data does, and UIDs are mapped consistently within a session only.

use std::io::Read;
use std::path::{Path, PathBuf};

use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use imaging::deid::Deidentifier;
use imaging::deid_profile::{Action, BASIC_PROFILE};
use imaging::{parse, DicomFile, ImagingError, Volume};

use crate::testdata::{read_dir_files, shared_testdata};

/// Every .dcm file under testdata (ref/ excluded), by folder.
fn all_dicom_dirs(testdata: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let mut stack = vec![testdata.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut has_dcm = false;
        for entry in std::fs::read_dir(&dir).expect("read testdata dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() && path.file_name().is_some_and(|n| n != "ref") {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "dcm") {
                has_dcm = true;
            }
        }
        if has_dcm {
            dirs.push(dir);
        }
    }
    dirs.sort();
    dirs
}

/// Original values the profile removes or replaces (length >= 4), and every UID
/// outside the DICOM root, collected recursively.
fn identifying_values(ds: &InMemDicomObject, out: &mut Vec<(String, String)>) {
    for e in ds.iter() {
        let tag = e.header().tag;
        if let Some(items) = e.items() {
            for item in items {
                identifying_values(item, out);
            }
            continue;
        }
        let entry = BASIC_PROFILE.iter().find(|p| p.tag == tag);
        let is_target = entry.is_some_and(|p| p.action != Action::Keep);
        let is_uid = e.header().vr == VR::UI && tag.group() % 2 == 0;
        if !(is_target || is_uid) {
            continue;
        }
        let Ok(values) = e.value().to_multi_str() else {
            continue;
        };
        for v in values.iter() {
            let v = v.trim_matches(['\0', ' ']);
            if v.len() >= 4 && !v.starts_with("1.2.840.10008.") {
                let name = entry.map_or("UID", |p| p.name);
                out.push((name.to_string(), v.to_string()));
            }
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn blank_new_uids(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let mut i = 0;
    while i + 5 <= out.len() {
        if &out[i..i + 5] == b"2.25." {
            let mut j = i;
            while j < out.len() && (out[j].is_ascii_digit() || out[j] == b'.') {
                out[j] = b'#';
                j += 1;
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// Attributes naming or identifying the participant or staff (checked in descriptors).
const PERSONAL: &[&str] = &[
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "OtherPatientIDs",
    "OtherPatientNames",
    "PatientBirthName",
    "PatientMotherBirthName",
    "AccessionNumber",
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "OperatorsName",
];

/// Overwrites every occurrence of `needle` with '#'.
fn blank_all(haystack: &mut [u8], needle: &[u8]) {
    if needle.is_empty() {
        return;
    }
    let mut i = 0;
    while i + needle.len() <= haystack.len() {
        if &haystack[i..i + needle.len()] == needle {
            haystack[i..i + needle.len()].fill(b'#');
            i += needle.len();
        } else {
            i += 1;
        }
    }
}

fn kept_times_of(ds: &InMemDicomObject, out: &mut Vec<String>) {
    for e in ds.iter() {
        if let Some(items) = e.items() {
            items.iter().for_each(|item| kept_times_of(item, out));
        } else if e.header().vr == VR::DT {
            if let Ok(v) = e.to_str() {
                if let Some(time) = v.trim_matches(['\0', ' ']).get(8..) {
                    if !out.iter().any(|t| t == time) {
                        out.push(time.to_string());
                    }
                }
            }
        }
    }
}

fn gunzip(gz: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_string(&mut text)
        .expect("GE protocol block decodes");
    text
}

fn text(file: &DicomFile, tag: Tag) -> Option<String> {
    file.str(tag)
        .map(|s| s.trim_matches(['\0', ' ']).to_string())
}

/// Attributes conversion reads, which must come out byte-identical.
const CONVERSION_TAGS: &[Tag] = &[
    tags::IMAGE_ORIENTATION_PATIENT,
    tags::IMAGE_POSITION_PATIENT,
    tags::PIXEL_SPACING,
    tags::SLICE_THICKNESS,
    tags::SPACING_BETWEEN_SLICES,
    tags::REPETITION_TIME,
    tags::ECHO_TIME,
    tags::ACQUISITION_TIME,
    tags::ROWS,
    tags::COLUMNS,
    tags::BITS_ALLOCATED,
    tags::RESCALE_SLOPE,
    tags::RESCALE_INTERCEPT,
    tags::INSTANCE_NUMBER,
    tags::MANUFACTURER,
    tags::IMAGE_TYPE,
    tags::NUMBER_OF_FRAMES,
    tags::PIXEL_DATA,
    Tag(0x0019, 0x100A),
    Tag(0x0019, 0x1029),
    Tag(0x0021, 0x1104),
    Tag(0x0019, 0x109C),
    Tag(0x0043, 0x107C),
    Tag(0x2005, 0x100E),
];

fn check_file(session: &mut Deidentifier, path: &Path, bytes: &[u8]) -> Vec<u8> {
    let label = path.display();
    let original = parse(bytes).unwrap_or_else(|e| panic!("{label}: {e}"));
    let out = session
        .deidentify(bytes)
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    let deid = parse(&out).unwrap_or_else(|e| panic!("{label}: output does not parse: {e}"));

    let mut secrets = Vec::new();
    identifying_values(original.dataset(), &mut secrets);
    let meta_uid = original.object().meta().media_storage_sop_instance_uid();
    secrets.push((
        "MediaStorageSOPInstanceUID".into(),
        meta_uid.trim_matches(['\0', ' ']).into(),
    ));
    // AcquisitionTime is kept on purpose; a series or content time equal to it is no leak.
    // Likewise the time of day of re-dated DT values (enhanced per-frame times).
    let mut kept_times = vec![text(&original, tags::ACQUISITION_TIME).unwrap_or_default()];
    kept_times_of(deid.dataset(), &mut kept_times);
    secrets.retain(|(_, value)| !kept_times.contains(value));
    // Our own 2.25 UIDs are long random decimals: blank them so a short original number
    // (a study ID) cannot match inside one by chance.
    let mut haystack = blank_new_uids(&out);
    // Clean Descriptors Option (on by default): StudyDescription, SeriesDescription and
    // ProtocolName stay, cleaned. None of the file's personal values may be in them; then
    // their text is blanked for the search below (a removed value equal to one, such as
    // the procedure step description, is the kept descriptor itself).
    let kept: Vec<String> = [
        tags::STUDY_DESCRIPTION,
        tags::SERIES_DESCRIPTION,
        tags::PROTOCOL_NAME,
    ]
    .into_iter()
    .filter_map(|tag| text(&deid, tag))
    .collect();
    for (name, value) in secrets
        .iter()
        .filter(|(n, _)| PERSONAL.contains(&n.as_str()))
    {
        for k in &kept {
            let (k, v) = (k.to_ascii_lowercase(), value.to_ascii_lowercase());
            assert!(
                !k.contains(&v),
                "{label}: {name} {value:?} in descriptor {k:?}"
            );
        }
    }
    for k in &kept {
        blank_all(&mut haystack, k.as_bytes());
    }
    // Documented exception: the CSA headers repeat the protocol name (tProtocolName,
    // often also the series description); it names the scan protocol, not the patient.
    let mut outside_csa = haystack.clone();
    for tag in [Tag(0x0029, 0x1010), Tag(0x0029, 0x1020)] {
        if let Some(csa) = deid.bytes(tag).filter(|csa| !csa.is_empty()) {
            if let Some(at) = outside_csa.windows(csa.len()).position(|w| w == &csa[..]) {
                outside_csa[at..at + csa.len()].fill(b'#');
            }
        }
    }
    for (name, value) in &secrets {
        let protocol_name = name == "SeriesDescription" || name == "ProtocolName";
        let searched = if protocol_name {
            &outside_csa
        } else {
            &haystack
        };
        assert!(
            !contains(searched, value.as_bytes()),
            "{label}: {name} value {value:?} survives"
        );
    }

    assert_eq!(
        text(&deid, tags::PATIENT_IDENTITY_REMOVED).as_deref(),
        Some("YES"),
        "{label}"
    );
    assert!(
        text(&deid, tags::DEIDENTIFICATION_METHOD).is_some_and(|m| !m.is_empty()),
        "{label}"
    );
    assert_eq!(
        deid.transfer_syntax(),
        original.transfer_syntax(),
        "{label}"
    );
    let sop = text(&deid, tags::SOP_INSTANCE_UID).expect("SOPInstanceUID");
    assert!(sop.starts_with("2.25."), "{label}: {sop}");
    assert_eq!(
        deid.object()
            .meta()
            .media_storage_sop_instance_uid()
            .trim_end_matches('\0'),
        sop
    );
    for &tag in CONVERSION_TAGS {
        assert!(
            original.bytes(tag) == deid.bytes(tag),
            "{label}: {tag} changed"
        );
    }
    // CSA headers keep their layout; only digits of scrubbed UIDs/dates become '0'.
    for tag in [Tag(0x0029, 0x1010), Tag(0x0029, 0x1020)] {
        let (a, b) = (original.bytes(tag), deid.bytes(tag));
        assert_eq!(a.is_some(), b.is_some(), "{label}: {tag} presence");
        if let (Some(a), Some(b)) = (a, b) {
            assert_eq!(a.len(), b.len(), "{label}: {tag} length");
            let ok = a
                .iter()
                .zip(b.iter())
                .all(|(x, y)| x == y || (x.is_ascii_digit() && *y == b'0'));
            assert!(ok, "{label}: {tag} changed beyond digit blanking");
        }
    }
    // The GE protocol block keeps its text; only the gzip header's name and date go.
    let ge_block = |file: &DicomFile| file.bytes(Tag(0x0025, 0x101B)).map(|b| gunzip(&b[4..]));
    assert_eq!(
        ge_block(&original),
        ge_block(&deid),
        "{label}: GE protocol block"
    );
    // Type 2 attributes stay present, empty.
    for tag in [tags::PATIENT_NAME, tags::PATIENT_ID, tags::STUDY_DATE] {
        if original.dataset().get(tag).is_some() {
            let element = deid
                .dataset()
                .get(tag)
                .unwrap_or_else(|| panic!("{label}: {tag} removed"));
            assert!(
                element
                    .value()
                    .to_str()
                    .map_or(true, |v| v.trim().is_empty()),
                "{label}: {tag} not emptied"
            );
        }
    }
    assert!(deid.str(tags::INSTITUTION_NAME).is_none(), "{label}");
    assert!(deid.str(tags::DEVICE_SERIAL_NUMBER).is_none(), "{label}");
    // Enhanced MR: Type 1 dates get a dummy instead of disappearing.
    let enhanced = original
        .dataset()
        .get(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
        .is_some();
    if enhanced && original.str(tags::CONTENT_DATE).is_some() {
        assert_eq!(
            text(&deid, tags::CONTENT_DATE).as_deref(),
            Some("19000101"),
            "{label}"
        );
    }
    out
}

/// Metadata fields that come from removed or replaced attributes, by design.
fn without_identifying_meta(mut volume: Volume) -> Volume {
    let meta = &mut volume.meta;
    meta.series_description = None;
    meta.protocol_name = None;
    meta.series_instance_uid = None;
    meta.study_instance_uid = None;
    for key in DEIDENTIFIED_SIDECAR_KEYS {
        meta.extra.remove(*key);
    }
    volume
}

/// Sidecar fields the converters copy from attributes the profile removes.
const DEIDENTIFIED_SIDECAR_KEYS: &[&str] = &[
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "StationName",
    "DeviceSerialNumber",
    "ProcedureStepDescription",
    "ReferringPhysicianName",
    "AcquisitionDateTime",
    "PatientSex",
    "PatientWeight",
    "PatientAge",
];

fn assert_same_volume(a: Volume, b: Volume, label: &str) {
    let (a, b) = (without_identifying_meta(a), without_identifying_meta(b));
    assert!(a.voxels == b.voxels, "{label}: voxels changed");
    assert_eq!(a.affine, b.affine, "{label}: affine");
    assert_eq!(a.voxel_size, b.voxel_size, "{label}: voxel size");
    assert_eq!(a.tr_s, b.tr_s, "{label}: TR");
    assert_eq!(a.slice_timing_s, b.slice_timing_s, "{label}: slice timing");
    assert_eq!(
        a.acquisition_time_s, b.acquisition_time_s,
        "{label}: acquisition time"
    );
    assert_eq!(a.meta, b.meta, "{label}: metadata");
}

/// Mosaic and enhanced files: the single-file (real-time) conversion is unchanged.
fn compare_volume_from_file(path: &Path, original: &[u8], deidentified: &[u8]) {
    let before = imaging::volume_from_file(original);
    let after = imaging::volume_from_file(deidentified);
    match (before, after) {
        (Ok(a), Ok(b)) => assert_same_volume(a, b, &path.display().to_string()),
        // Until a converter handles a layout, both sides must fail the same way.
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{}", path.display()),
        (a, b) => panic!(
            "{}: before {:?}, after {:?}",
            path.display(),
            a.err(),
            b.err()
        ),
    }
}

/// Whole folders (single-slice series too): the same series, volumes and timing.
fn compare_series(dir: &Path, originals: Vec<DicomFile>, deidentified: Vec<DicomFile>) {
    let label = dir.display();
    let (before, after) = match (
        imaging::convert_series(originals),
        imaging::convert_series(deidentified),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(a), Err(b)) => {
            // A layout no converter handles yet: both sides must fail alike.
            // (the message names the series description, which de-identification removes)
            assert_eq!(
                std::mem::discriminant(&a),
                std::mem::discriminant(&b),
                "{label}: {a} / {b}"
            );
            eprintln!("{label}: not compared, conversion fails: {a}");
            return;
        }
        (a, b) => panic!("{label}: before {:?}, after {:?}", a.err(), b.err()),
    };
    assert_eq!(before.len(), after.len(), "{label}: series count");
    for (a, b) in before.into_iter().zip(after) {
        assert_eq!(a.series_number, b.series_number, "{label}");
        assert_eq!(a.volumes.len(), b.volumes.len(), "{label}: volume count");
        for (k, (va, vb)) in a.volumes.into_iter().zip(b.volumes).enumerate() {
            assert_same_volume(
                va,
                vb,
                &format!("{label}: series {:?} volume {k}", a.series_number),
            );
        }
    }
}

#[test]
fn profile_table_is_sorted_and_unique() {
    assert!(BASIC_PROFILE.windows(2).all(|w| w[0].tag < w[1].tag));
    let acq = BASIC_PROFILE
        .iter()
        .find(|p| p.tag == tags::ACQUISITION_TIME)
        .expect("row");
    assert_eq!(acq.action, Action::Keep);
}

#[test]
fn every_test_file_is_deidentified_and_still_converts() {
    let Some(testdata) = shared_testdata() else {
        return;
    };
    let mut count = 0;
    for dir in all_dicom_dirs(&testdata) {
        let files = read_dir_files(&dir);
        let mut session = Deidentifier::new();
        if dir.ends_with("truncated") {
            for (path, bytes) in &files {
                let err = session
                    .deidentify(bytes)
                    .expect_err("truncated file must fail");
                assert!(
                    matches!(err, ImagingError::Incomplete(_)),
                    "{}: {err}",
                    path.display()
                );
            }
            continue;
        }
        let mut originals = Vec::new();
        let mut deidentified = Vec::new();
        for (path, bytes) in &files {
            let out = check_file(&mut session, path, bytes);
            compare_volume_from_file(path, bytes, &out);
            originals.push(parse(bytes).expect("parsed above"));
            deidentified.push(parse(&out).expect("parsed above"));
            count += 1;
        }
        compare_series(&dir, originals, deidentified);
    }
    assert!(count > 200, "only {count} files checked");
}

/// The eight D13 series of one study keep one (new) StudyInstanceUID in one session.
#[test]
fn study_uid_is_shared_across_series_of_a_session() {
    let Some(testdata) = shared_testdata() else {
        return;
    };
    let mut session = Deidentifier::new();
    let mut studies = Vec::new();
    let mut series = Vec::new();
    for dir in all_dicom_dirs(&testdata.join("siemens-mosaic-d13")) {
        let (_, bytes) = read_dir_files(&dir).into_iter().next().expect("a file");
        let original = parse(&bytes).expect("parse");
        let out = parse(&session.deidentify(&bytes).expect("deid")).expect("parse output");
        studies.push((
            text(&original, tags::STUDY_INSTANCE_UID),
            text(&out, tags::STUDY_INSTANCE_UID),
        ));
        series.push(text(&out, tags::SERIES_INSTANCE_UID));
    }
    assert!(studies.len() >= 8, "{} series", studies.len());
    let same_before = studies.iter().all(|(a, _)| *a == studies[0].0);
    let same_after = studies.iter().all(|(_, b)| *b == studies[0].1);
    assert!(same_before && same_after, "{studies:?}");
    series.sort();
    series.dedup();
    assert_eq!(series.len(), studies.len(), "series stay distinct");
}

#[test]
fn uids_are_consistent_within_a_session_and_differ_across_sessions() {
    let Some(testdata) = shared_testdata() else {
        return;
    };
    let files = read_dir_files(&testdata.join("siemens-mosaic-skyra-e11"));
    assert!(files.len() >= 2);
    let uid = |bytes: &[u8], tag| text(&parse(bytes).expect("parse"), tag).expect("uid");

    let mut session = Deidentifier::new();
    let outs: Vec<Vec<u8>> = files
        .iter()
        .map(|(_, b)| session.deidentify(b).expect("deid"))
        .collect();
    let series: Vec<String> = outs
        .iter()
        .map(|o| uid(o, tags::SERIES_INSTANCE_UID))
        .collect();
    assert!(
        series.iter().all(|s| *s == series[0]),
        "series UID shared by the run"
    );
    assert_ne!(series[0], uid(&files[0].1, tags::SERIES_INSTANCE_UID));
    let frames: Vec<String> = outs
        .iter()
        .map(|o| uid(o, tags::FRAME_OF_REFERENCE_UID))
        .collect();
    assert!(frames.iter().all(|s| *s == frames[0]));
    // Same original SOP UID <=> same new one (file _000000 duplicates _000001's instance).
    for (i, (_, a)) in files.iter().enumerate() {
        for (j, (_, b)) in files.iter().enumerate() {
            let same_in = uid(a, tags::SOP_INSTANCE_UID) == uid(b, tags::SOP_INSTANCE_UID);
            let same_out =
                uid(&outs[i], tags::SOP_INSTANCE_UID) == uid(&outs[j], tags::SOP_INSTANCE_UID);
            assert_eq!(same_in, same_out, "files {i} and {j}");
        }
    }

    // The same file again in the same session: identical UIDs.
    let again = session.deidentify(&files[1].1).expect("deid");
    assert_eq!(
        uid(&again, tags::SOP_INSTANCE_UID),
        uid(&outs[1], tags::SOP_INSTANCE_UID)
    );

    // Another session: different UIDs for the same input.
    let other = Deidentifier::new().deidentify(&files[1].1).expect("deid");
    assert_ne!(
        uid(&other, tags::SOP_INSTANCE_UID),
        uid(&outs[1], tags::SOP_INSTANCE_UID)
    );
    assert_ne!(uid(&other, tags::SERIES_INSTANCE_UID), series[0]);
}

/// Cut-short files (a scanner still writing) fail with Incomplete, never panic.
#[test]
fn cut_short_files_are_incomplete() {
    let Some(testdata) = shared_testdata() else {
        return;
    };
    let bytes = std::fs::read(testdata.join("siemens-mosaic-skyra-e11/001_000013_000005.dcm"))
        .expect("read Skyra mosaic");
    let mut session = Deidentifier::new();
    for len in [200, 1_000, 20_000, 100_000, bytes.len() - 1] {
        let err = session
            .deidentify(&bytes[..len])
            .expect_err("cut-short file must fail");
        assert!(
            matches!(err, ImagingError::Incomplete(_)),
            "{len} bytes: {err}"
        );
    }
}
