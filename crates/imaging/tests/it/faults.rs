//! Fault kinds of issue 17 beyond what the references show: a Siemens mosaic that has
//! lost both its CSA headers and its private slice count (refused, naming both), and
//! an enhanced XA volume cut short by an aborted scan (a warning and its own series,
//! as dcm2niix does). Both are made from real shared files with one thing changed.

use dicom_core::value::{DataSetSequence, PrimitiveValue};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_dictionary_std::tags;
use imaging::{parse, DicomFile, ImagingError};

use crate::testdata::{read_dir_files, shared_imaging_cases, shared_testdata};

/// The D13 mosaic volume whose CSA headers an anonymizer removed.
fn csa_stripped() -> Option<(std::path::PathBuf, Vec<u8>)> {
    let dir = shared_imaging_cases()?.join("siemens-csa-stripped/d13");
    read_dir_files(&dir).into_iter().next()
}

#[test]
fn mosaic_without_csa_converts_from_the_standard_and_private_tags() {
    let Some((path, bytes)) = csa_stripped() else {
        return;
    };
    let file = parse(&bytes).expect("parses");
    assert!(imaging::csa::image_header(&file).is_none(), "CSA removed");
    let volume =
        imaging::volume_from_file(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(volume.voxels.shape(), [64, 64, 36]);
}

#[test]
fn mosaic_without_any_slice_count_is_refused_naming_what_is_missing() {
    let Some((_, bytes)) = csa_stripped() else {
        return;
    };
    let mut obj = parse(&bytes).expect("parses").into_object();
    // NumberOfImagesInMosaic in the "SIEMENS MR HEADER" block (0019,10xx).
    assert!(
        obj.remove_element(Tag(0x0019, 0x100A)),
        "the test file has it"
    );
    let mut out = Vec::new();
    obj.write_all(&mut out).expect("write DICOM");
    match imaging::volume_from_file(&out) {
        Err(ImagingError::Unsupported(message)) => {
            for what in ["MOSAIC", "0029,1010", "0019,100A", "number of slices"] {
                assert!(message.contains(what), "{what} not in: {message}");
            }
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// The first `keep` frames of an enhanced file, as an aborted scan leaves it.
fn cut_short(bytes: &[u8], keep: usize) -> Vec<u8> {
    let mut file = parse(bytes).expect("parses").into_object();
    let items: Vec<_> = file
        .element(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
        .expect("per-frame groups")
        .items()
        .expect("a sequence")[..keep]
        .to_vec();
    let rows = file
        .element(tags::ROWS)
        .expect("Rows")
        .to_int::<usize>()
        .expect("int");
    let cols = file
        .element(tags::COLUMNS)
        .expect("Columns")
        .to_int::<usize>()
        .expect("int");
    let pixels = file
        .element(tags::PIXEL_DATA)
        .expect("pixels")
        .to_bytes()
        .expect("native");
    let kept = pixels[..rows * cols * 2 * keep].to_vec();
    file.put(DataElement::new(
        tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE,
        VR::SQ,
        DataSetSequence::new(items, Length::UNDEFINED),
    ));
    file.put(DataElement::new(
        tags::NUMBER_OF_FRAMES,
        VR::IS,
        PrimitiveValue::from(keep.to_string()),
    ));
    file.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OW,
        PrimitiveValue::U8(kept.into()),
    ));
    let mut out = Vec::new();
    file.write_all(&mut out).expect("write DICOM");
    out
}

#[test]
fn cut_short_enhanced_volume_warns_and_becomes_its_own_series() {
    let Some(td) = shared_testdata() else { return };
    let files = read_dir_files(&td.join("siemens-xa30-enhanced/7_func-bold"));
    let whole: Vec<Vec<u8>> = files.iter().map(|(_, b)| b.clone()).collect();
    for bytes in &whole {
        let file = parse(bytes).expect("parses");
        assert_eq!(
            imaging::enhanced::partial_volume(&file),
            None,
            "complete file"
        );
    }
    let last = whole.last().expect("files");
    let short = cut_short(last, 20);
    let file = parse(&short).expect("the cut-short file still parses");
    let warning = imaging::enhanced::partial_volume(&file).expect("a warning");
    assert!(
        warning.contains("20 slices") && warning.contains("33"),
        "{warning}"
    );
    // Streaming: the volume still converts (20 slices), after the warning.
    let alone = imaging::volume_from_file(&short).expect("converts");
    assert_eq!(alone.voxels.shape()[2], 20);

    // A folder with the complete run and the partial volume: the run is unchanged and
    // the partial volume is a separate series, numbered + 1000 like dcm2niix does.
    let mut inputs: Vec<DicomFile> = whole.iter().map(|b| parse(b).expect("parses")).collect();
    let run_number = inputs[0].i64(tags::SERIES_NUMBER).expect("SeriesNumber");
    inputs.push(file);
    let series = imaging::convert_series(inputs).expect("converts");
    assert_eq!(series.len(), 2, "run and partial volume apart");
    assert_eq!(series[0].series_number, Some(run_number));
    assert_eq!(series[0].volumes.len(), whole.len());
    assert!(series[0].warnings.is_empty());
    assert_eq!(series[1].series_number, Some(run_number + 1000));
    assert_eq!(series[1].volumes.len(), 1);
    assert_eq!(series[1].warnings, vec![warning]);
}
