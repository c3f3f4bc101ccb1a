//! BIDS sidecars: every field we write that dcm2niix also writes has its value.

use imaging::{bids, metadata, parse};
use serde_json::Value;

use super::{frames_of, parse_header, volume_from_reference};
use crate::testdata::shared_testdata;

/// DICOM TM "HHMMSS.ffffff" as seconds since midnight.
fn tm_seconds(tm: &str) -> f64 {
    let num = |r: std::ops::Range<usize>| tm.get(r).and_then(|s| s.parse::<f64>().ok());
    let (h, m) = (num(0..2).expect("hours"), num(2..4).expect("minutes"));
    let s = tm
        .get(4..)
        .and_then(|s| s.parse::<f64>().ok())
        .expect("seconds");
    h * 3600.0 + m * 60.0 + s
}

fn values_equal(ours: &Value, theirs: &Value) -> bool {
    match (ours, theirs) {
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (
                a.as_f64().unwrap_or(f64::NAN),
                b.as_f64().unwrap_or(f64::NAN),
            );
            (a - b).abs() <= 1e-6 * b.abs().max(1.0)
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| values_equal(x, y))
        }
        _ => ours == theirs,
    }
}

/// The Skyra volume as the streaming converter builds it from one file: every field we
/// write that dcm2niix also writes has dcm2niix's value, in dcm2niix's order.
#[test]
fn skyra_sidecar_matches_dcm2niix() {
    let Some(td) = shared_testdata() else { return };
    let dicom = std::fs::read(td.join("siemens-mosaic-skyra-e11/001_000013_000001.dcm"))
        .expect("read DICOM");
    let volume = imaging::volume_from_file(&dicom).expect("convert the mosaic");
    let nii_path = td.join("ref/siemens-mosaic-skyra-e11/series.nii");
    let reference: Value =
        serde_json::from_slice(&std::fs::read(nii_path.with_extension("json")).expect("json"))
            .expect("json parses");

    let ours = bids::sidecar(&volume);
    let ours = ours.as_object().expect("an object");
    let mut shared = Vec::new();
    for (key, value) in ours {
        if key.starts_with("ConversionSoftware") {
            continue;
        }
        let Some(theirs) = reference.get(key) else {
            continue;
        };
        assert!(
            values_equal(value, theirs),
            "{key}: ours {value}, dcm2niix {theirs}"
        );
        shared.push(key.as_str());
    }
    for key in [
        "Modality",
        "MagneticFieldStrength",
        "ImagingFrequency",
        "Manufacturer",
        "ManufacturersModelName",
        "SoftwareVersions",
        "SeriesDescription",
        "ProtocolName",
        "ImageType",
        "SeriesNumber",
        "AcquisitionTime",
        "AcquisitionNumber",
        "EchoTime",
        "RepetitionTime",
        "FlipAngle",
        "SliceTiming",
        "PhaseEncodingDirection",
        "SliceThickness",
        "SpacingBetweenSlices",
        "PixelBandwidth",
    ] {
        assert!(
            shared.contains(&key),
            "{key} missing from our sidecar: {shared:?}"
        );
    }
    // Privacy: nothing naming the site, the device or the study.
    for key in [
        "InstitutionName",
        "InstitutionAddress",
        "StationName",
        "DeviceSerialNumber",
        "StudyDescription",
        "ProcedureStepDescription",
        "InstitutionalDepartmentName",
    ] {
        assert!(!ours.contains_key(key), "{key} must not be in the sidecar");
    }
    // dcm2niix's relative order holds for the keys we share.
    let their_order: Vec<&str> = reference
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .filter(|k| shared.contains(k))
        .collect();
    assert_eq!(shared, their_order, "key order");
    assert_eq!(ours["ConversionSoftware"], "rtcloud-rs");
}

#[test]
fn bids_time_formats_like_dcm2niix() {
    assert_eq!(
        bids::bids_time(tm_seconds("124750.3275")).as_deref(),
        Some("12:47:50.327500")
    );
    assert_eq!(bids::bids_time(-1.0), None);
}

/// `metadata::from_dicom` on the first file of every reference series: each common
/// field we write equals dcm2niix's (vendor normalization, units, ImageType suffix).
#[test]
fn common_metadata_matches_dcm2niix_for_every_vendor() {
    let Some(td) = shared_testdata() else { return };
    let series = [
        "siemens-mosaic-skyra-e11",
        "siemens-mosaic-e11-pe/mr_0003",
        "siemens-mosaic-d13/cmrr_Asc_6",
        "siemens-xa30-enhanced/7_func-bold",
        "ge-perslice-dv26/mr_0004",
        "philips-perslice/fmri",
    ];
    for rel in series {
        let files = crate::testdata::read_dir_files(&td.join(rel));
        // The Skyra run's file _000000 duplicates _000001 and dcm2niix drops it.
        let skip = usize::from(rel == "siemens-mosaic-skyra-e11");
        let Some((path, bytes)) = files.into_iter().nth(skip) else {
            panic!("{rel}: no DICOM files");
        };
        let file = parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let reference: Value = serde_json::from_slice(
            &std::fs::read(td.join("ref").join(rel).join("series.json")).expect("json"),
        )
        .expect("json parses");
        let nii = std::fs::read(td.join("ref").join(rel).join("series.nii")).expect("nii");
        let h = parse_header(&nii);
        let frame = frames_of(&h, &nii).remove(0);
        let mut volume = volume_from_reference(&h, frame, &Value::Null);
        volume.tr_s = None;
        volume.meta = metadata::from_dicom(&file);
        let ours = bids::sidecar(&volume);
        let mut compared = 0;
        for (key, value) in ours.as_object().expect("object") {
            if let Some(theirs) = reference
                .get(key)
                .filter(|_| !key.starts_with("Conversion"))
            {
                assert!(
                    values_equal(value, theirs),
                    "{rel} {key}: ours {value}, dcm2niix {theirs}"
                );
                compared += 1;
            }
        }
        assert!(compared >= 10, "{rel}: only {compared} fields compared");
    }
}
