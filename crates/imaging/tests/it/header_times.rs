//! `prescan::header_times` (issue 14's timeline) against the full parser: the cheap
//! header walk must read the same AcquisitionTime and RepetitionTime as dicom-object
//! for every file of the real data, de-identified (as the analyser gets it) or not.

use crate::testdata::{read_dir_files, shared_testdata};

#[test]
fn header_times_match_the_full_parse_on_every_shared_file() {
    let Some(root) = shared_testdata() else {
        return;
    };
    let mut checked = 0;
    for case in [
        "siemens-mosaic-skyra-e11",
        "siemens-mosaic-d13",
        "transfer-syntaxes",
    ] {
        for (path, bytes) in read_dir_files(&root.join(case)) {
            let Ok(file) = imaging::parse(&bytes) else {
                continue;
            };
            let expected_acq = file
                .str(dicom_dictionary_std::tags::ACQUISITION_TIME)
                .and_then(|t| imaging::mosaic::seconds_since_midnight(&t));
            let expected_tr = file
                .f64(dicom_dictionary_std::tags::REPETITION_TIME)
                .map(|ms| ms / 1000.0);
            let mut deid = imaging::deid::Deidentifier::new();
            let outgoing = deid.deidentify(&bytes).expect("de-identify");
            for (what, b) in [("original", &bytes), ("de-identified", &outgoing)] {
                let got = imaging::prescan::header_times(b);
                assert_eq!(
                    got.acquisition_time_s,
                    expected_acq,
                    "{what} {}",
                    path.display()
                );
                assert_eq!(
                    got.repetition_time_s,
                    expected_tr,
                    "{what} {}",
                    path.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 11, "only {checked} files checked");
}
