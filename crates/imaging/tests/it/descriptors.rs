//! The Clean Descriptors Option (PS3.15 E.3.5) on a real Siemens file with identifiers
//! planted in its descriptors: they stay, without the file's own names, IDs and birth
//! date, and without what looks like an ID or a date; switched off they are removed.

use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use imaging::deid::Deidentifier;

use crate::testdata::shared_testdata;

fn planted() -> Option<Vec<u8>> {
    let td = shared_testdata()?;
    let path = td.join("siemens-mosaic-d13/ep2d_Asc_2/IM-0001-0001.dcm");
    let mut obj = dicom_object::open_file(&path).expect("open the first ep2d file");
    let mut put = |tag: Tag, vr: VR, text: &str| {
        obj.put(DataElement::new(tag, vr, PrimitiveValue::from(text)));
    };
    put(tags::PATIENT_NAME, VR::PN, "Doe^Jane");
    put(tags::PATIENT_ID, VR::LO, "MRN123456");
    put(tags::PATIENT_BIRTH_DATE, VR::DA, "19800215");
    put(tags::SERIES_DESCRIPTION, VR::LO, "bold_Doe_run1");
    put(tags::PROTOCOL_NAME, VR::LO, "Jane bold 15.02.1980");
    put(
        tags::STUDY_DESCRIPTION,
        VR::LO,
        "Study MRN123456 scan 2024-03-01",
    );
    let mut bytes = Vec::new();
    obj.write_all(&mut bytes).expect("write the planted file");
    Some(bytes)
}

fn text(bytes: &[u8], tag: Tag) -> Option<String> {
    imaging::parse(bytes)
        .expect("parses")
        .str(tag)
        .map(|s| s.into_owned())
}

#[test]
fn descriptors_stay_cleaned_of_planted_identifiers_or_go_when_switched_off() {
    let Some(bytes) = planted() else { return };
    let out = Deidentifier::new()
        .deidentify(&bytes)
        .expect("de-identified");
    assert_eq!(
        text(&out, tags::SERIES_DESCRIPTION).as_deref(),
        Some("bold_run1")
    );
    assert_eq!(text(&out, tags::PROTOCOL_NAME).as_deref(), Some("bold"));
    assert_eq!(
        text(&out, tags::STUDY_DESCRIPTION).as_deref(),
        Some("Study scan")
    );
    for secret in [
        "Doe",
        "Jane",
        "MRN123456",
        "19800215",
        "15.02.1980",
        "2024-03-01",
    ] {
        let found = out.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!found, "{secret} survives");
    }
    assert!(
        text(&out, tags::DEIDENTIFICATION_METHOD).is_some_and(|m| m.contains("Clean Descriptors"))
    );
    let codes = imaging::parse(&out).expect("parses");
    let items = codes
        .dataset()
        .get(tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE)
        .and_then(|e| e.items().map(<[_]>::to_vec))
        .expect("code sequence");
    let values: Vec<String> = items
        .iter()
        .filter_map(|i| {
            i.get(tags::CODE_VALUE)?
                .to_str()
                .ok()
                .map(|s| s.trim().to_string())
        })
        .collect();
    assert_eq!(values, ["113100", "113111", "113105"]);

    // Unplanted, the real file's descriptors come out as they were.
    let td = shared_testdata().expect("testdata");
    let real =
        std::fs::read(td.join("siemens-mosaic-d13/cmrr_Asc_6/IM-0005-0001.dcm")).expect("read");
    let out = Deidentifier::new()
        .deidentify(&real)
        .expect("de-identified");
    assert_eq!(
        text(&out, tags::SERIES_DESCRIPTION).as_deref(),
        Some("cmrr_Asc")
    );
    assert_eq!(
        text(&out, tags::STUDY_DESCRIPTION).as_deref(),
        Some("Research^Rorden_Prisma")
    );

    let off = Deidentifier::new()
        .with_clean_descriptors(false)
        .deidentify(&bytes)
        .expect("de-identified");
    for tag in [
        tags::SERIES_DESCRIPTION,
        tags::PROTOCOL_NAME,
        tags::STUDY_DESCRIPTION,
    ] {
        assert_eq!(text(&off, tag), None, "{tag} kept with the option off");
    }
    assert!(
        !text(&off, tags::DEIDENTIFICATION_METHOD).is_some_and(|m| m.contains("Clean Descriptors"))
    );
}
