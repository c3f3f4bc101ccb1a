//! What may leave the console: the whole standard dictionary through de-identification
//! (nothing survives unless on the documented keep-list), private blocks that only
//! claim to be the CSA header, and DICOM without preamble, "DICM" or meta group.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_core::value::{DataSetSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_dictionary_std::{tags, uids, StandardDataDictionary};
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::InMemDicomObject;
use imaging::deid::{outgoing, Deidentifier};
use imaging::deid_profile::{kept_unlisted, Action, BASIC_PROFILE, KEPT_STANDARD};
use imaging::ImagingError;

use crate::testdata::{assert_volume_matches, load_reference, shared_testdata};

/// Every tag of the standard dictionary crate (dicom-dictionary-std), read from its
/// source: the crate has no public list, but its `tags` module names every attribute.
fn dictionary_tags() -> Vec<Tag> {
    // Offline, for this machine's platform only: a fresh machine has downloaded only
    // the packages its own platform builds (not, say, chrono's Android dependencies).
    let rustc = std::process::Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc -vV runs");
    let host = String::from_utf8_lossy(&rustc.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .expect("rustc -vV names the host");
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--filter-platform",
            &host,
            "--manifest-path",
        ])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    let manifest = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "dicom-dictionary-std")
        .and_then(|p| p["manifest_path"].as_str())
        .expect("dicom-dictionary-std is a dependency");
    let source = PathBuf::from(manifest).with_file_name("src/tags.rs");
    let text = std::fs::read_to_string(&source).expect("the dictionary's tags.rs");
    let hex = |s: &str| u16::from_str_radix(s.trim_start_matches("0x"), 16).ok();
    let tags: BTreeSet<Tag> = text
        .lines()
        .filter_map(|line| {
            // pub const PATIENT_NAME: Tag = Tag(0x0010, 0x0010);
            let inner = line.trim().strip_prefix("pub const ")?;
            let args = inner.split_once("= Tag(")?.1.strip_suffix(");")?;
            let (g, e) = args.split_once(',')?;
            Some(Tag(hex(g.trim())?, hex(e.trim())?))
        })
        .collect();
    tags.into_iter().collect()
}

/// The VR to write an attribute with (the dictionary's, or one of its choices).
fn vr_of(tag: Tag) -> Option<VR> {
    let entry = StandardDataDictionary.by_tag(tag)?;
    Some(match entry.vr() {
        VirtualVr::Exact(vr) => vr,
        VirtualVr::Xs => VR::US,
        _ => VR::OW,
    })
}

/// A value a participant's record could hold, unique to attribute number `n` so a
/// survivor can be traced: a name, a birth date, an ID, a weight.
fn patient_like(vr: VR, n: usize) -> Value<InMemDicomObject> {
    let name = marker(n);
    let code = format!("DOEJ{n:05}");
    let number = 19_700_000 + n as u32;
    let prim = match vr {
        VR::PN | VR::LO | VR::SH | VR::LT | VR::ST | VR::UT | VR::UC => PrimitiveValue::from(name),
        VR::CS | VR::AE => PrimitiveValue::from(code),
        VR::UR => PrimitiveValue::from(format!("https://doe.example/{code}")),
        VR::AS => PrimitiveValue::from("042Y"),
        VR::DA => PrimitiveValue::from("19700101"),
        VR::DT => PrimitiveValue::from("19700101120000"),
        VR::TM => PrimitiveValue::from("120000"),
        VR::UI => PrimitiveValue::from(format!("1.2.826.0.1.3680043.99.{number}")),
        VR::DS | VR::IS => PrimitiveValue::from(number.to_string()),
        VR::US => PrimitiveValue::from(1970 + (n % 50) as u16),
        VR::SS => PrimitiveValue::from(1970 + (n % 50) as i16),
        VR::UL => PrimitiveValue::from(number),
        VR::SL => PrimitiveValue::from(number as i32),
        VR::UV => PrimitiveValue::from(u64::from(number)),
        VR::SV => PrimitiveValue::from(i64::from(number)),
        VR::FL => PrimitiveValue::from(number as f32),
        VR::FD => PrimitiveValue::from(f64::from(number)),
        VR::AT => PrimitiveValue::from(tags::PATIENT_NAME),
        VR::SQ => {
            // An item holding the participant's name, as a nested record would.
            let item = InMemDicomObject::from_element_iter([DataElement::new(
                tags::PATIENT_NAME,
                VR::PN,
                PrimitiveValue::from(marker(n)),
            )]);
            return Value::from(DataSetSequence::new(vec![item], Length::UNDEFINED));
        }
        // OB, OW, OF, OD, OL, OV, UN: the name as bytes, padded to 8.
        _ => PrimitiveValue::U8(format!("{code:<16}").into_bytes().into()),
    };
    Value::Primitive(prim)
}

/// The name planted in attribute number `n` (fixed width: no marker contains another).
fn marker(n: usize) -> String {
    format!("DOE^JANE^{n:05}")
}

/// An element's values as text, without DICOM padding.
fn text_of(e: &DataElement<InMemDicomObject>) -> String {
    e.to_str()
        .map(|t| t.trim_matches(['\0', ' ']).to_string())
        .unwrap_or_default()
}

/// The attributes that make the object a valid image (kept as they are, not overwritten).
fn image_base() -> InMemDicomObject {
    InMemDicomObject::from_element_iter([
        DataElement::new(
            tags::SPECIFIC_CHARACTER_SET,
            VR::CS,
            PrimitiveValue::from("ISO_IR 100"),
        ),
        DataElement::new(
            tags::SOP_CLASS_UID,
            VR::UI,
            PrimitiveValue::from(uids::MR_IMAGE_STORAGE),
        ),
        DataElement::new(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from("1.2.826.0.1.3680043.99.1"),
        ),
        DataElement::new(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(1u16)),
        DataElement::new(
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            PrimitiveValue::from("MONOCHROME2"),
        ),
        DataElement::new(tags::ROWS, VR::US, PrimitiveValue::from(2u16)),
        DataElement::new(tags::COLUMNS, VR::US, PrimitiveValue::from(2u16)),
        DataElement::new(tags::NUMBER_OF_FRAMES, VR::IS, PrimitiveValue::from("1")),
        DataElement::new(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(16u16)),
        DataElement::new(tags::BITS_STORED, VR::US, PrimitiveValue::from(16u16)),
        DataElement::new(tags::HIGH_BIT, VR::US, PrimitiveValue::from(15u16)),
        DataElement::new(
            tags::PIXEL_REPRESENTATION,
            VR::US,
            PrimitiveValue::from(0u16),
        ),
        DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U8(vec![0u8; 8].into()),
        ),
    ])
}

fn write_part10(obj: InMemDicomObject) -> Vec<u8> {
    let file = obj
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN))
        .expect("meta");
    let mut bytes = Vec::new();
    file.write_all(&mut bytes).expect("write");
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The documented keep-list: the table's K rows, [`KEPT_STANDARD`], and the groups kept
/// by value representation ([`kept_unlisted`]).
fn documented_keep(tag: Tag, vr: VR) -> bool {
    let table_keep = BASIC_PROFILE
        .iter()
        .any(|row| row.tag == tag && row.action == Action::Keep);
    table_keep || kept_unlisted(tag, vr)
}

#[test]
fn keep_list_is_sorted() {
    assert!(KEPT_STANDARD.windows(2).all(|w| w[0].tag < w[1].tag));
}

#[test]
fn no_attribute_of_the_standard_dictionary_survives_unless_kept_on_purpose() {
    let base = image_base();
    let mut obj = base.clone();
    // (tag, vr, marker searched in the output)
    let mut planted = Vec::new();
    for (n, tag) in dictionary_tags().into_iter().enumerate() {
        // Command and file meta groups, group lengths and item delimiters are not data
        // set attributes; the image attributes stay valid.
        let skip = matches!(tag.group(), 0x0000 | 0x0002 | 0xFFFE)
            || tag.element() == 0x0000
            || base.get(tag).is_some();
        let Some(vr) = vr_of(tag).filter(|_| !skip) else {
            continue;
        };
        obj.put(DataElement::new(tag, vr, patient_like(vr, n)));
        planted.push((tag, vr, n));
    }
    // Private data: a block that claims to be the Siemens CSA header but holds a name,
    // and any other vendor's block.
    obj.put(DataElement::new(
        Tag(0x0029, 0x0011),
        VR::LO,
        PrimitiveValue::from("SIEMENS CSA HEADER"),
    ));
    obj.put(DataElement::new(
        Tag(0x0029, 0x1110),
        VR::OB,
        PrimitiveValue::U8(b"DOE^JANE-CSA".to_vec().into()),
    ));
    obj.put(DataElement::new(
        Tag(0x0009, 0x0010),
        VR::LO,
        PrimitiveValue::from("ACME 1.0"),
    ));
    obj.put(DataElement::new(
        Tag(0x0009, 0x1001),
        VR::LO,
        PrimitiveValue::from("DOE^JANE-ACME"),
    ));
    assert!(
        planted.len() > 4000,
        "only {} dictionary attributes",
        planted.len()
    );

    let input = write_part10(obj);
    let out = Deidentifier::new()
        .deidentify(&input)
        .expect("de-identifies");
    let result = imaging::parse(&out).expect("output parses");
    let ds = result.dataset();

    let mut leaks = Vec::new();
    let mut kept = 0usize;
    for &(tag, vr, n) in &planted {
        let before = text_of(&DataElement::new(tag, vr, patient_like(vr, n)));
        let survived = ds.get(tag).is_some_and(|e| {
            if let Some(items) = e.items() {
                // The planted item came through (its name emptied or not); a sequence
                // de-identification writes itself (the method codes) does not count.
                items
                    .iter()
                    .any(|item| item.get(tags::PATIENT_NAME).is_some())
            } else {
                let after = text_of(e);
                !after.is_empty() && after == before
            }
        });
        if survived {
            kept += 1;
            if !documented_keep(tag, vr) {
                leaks.push(format!("{tag} {} {vr:?}", imaging::dicom::tag_name(tag)));
            }
        }
        // A name in a kept sequence's item never survives, kept or not.
        if vr == VR::SQ {
            assert!(
                !contains(&out, marker(n).as_bytes()),
                "{tag}: item name survives"
            );
        }
    }
    assert!(
        leaks.is_empty(),
        "{} attributes survive off the keep-list:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
    for needle in ["DOE^JANE-CSA", "DOE^JANE-ACME"] {
        assert!(
            !contains(&out, needle.as_bytes()),
            "private {needle} survives"
        );
    }
    // The ones the security review found, by name.
    for tag in [
        Tag(0x0010, 0x0033), // PatientBirthDateInAlternativeCalendar
        Tag(0x0010, 0x0035), // PatientAlternativeCalendar
        Tag(0x0040, 0x0310), // CommentsOnRadiationDose
        Tag(0x6000, 0x0022), // OverlayDescription
    ] {
        assert!(ds.get(tag).is_none(), "{tag} survives");
    }
    for e in ds.iter().filter(|e| e.header().tag.group() == 0x0010) {
        let value = e.value().to_str().unwrap_or_default();
        assert!(
            value.trim().is_empty(),
            "{} keeps {value:?}",
            e.header().tag
        );
    }
    eprintln!(
        "{} dictionary attributes planted, {kept} kept as documented",
        planted.len()
    );
}

/// The no-preamble case of ../shared/imaging-cases.
fn headerless_case() -> Option<(PathBuf, PathBuf)> {
    let cases = shared_testdata()?.join("../imaging-cases");
    let file = cases.join("headerless/no-preamble/001_000013_000003.dcm");
    Some((cases, file))
}

#[test]
fn a_dicom_without_preamble_dicm_or_meta_group_converts_like_dcm2niix() {
    let Some((cases, file)) = headerless_case() else {
        return;
    };
    let bytes = std::fs::read(&file).expect("the headerless file");
    assert!(&bytes[..4] != b"DICM" && bytes.get(128..132) != Some(b"DICM".as_slice()));
    assert!(imaging::dicom::is_dicom(Path::new("no-extension"), &bytes));
    let vol = imaging::volume_from_file(&bytes).expect("converts");
    let reference = load_reference(&cases, "headerless/no-preamble", "series");
    assert_volume_matches(&vol, &reference, 0, "headerless/no-preamble");
}

#[test]
fn a_headerless_dicom_leaves_de_identified_and_a_broken_one_not_at_all() {
    let Some((_, file)) = headerless_case() else {
        return;
    };
    let bytes = std::fs::read(&file).expect("the headerless file");
    let name = |b: &[u8]| {
        imaging::parse(b)
            .expect("parses")
            .str(tags::PATIENT_NAME)
            .map(|s| s.to_string())
    };
    assert!(name(&bytes).is_some(), "the case names someone");
    // Named without an extension: DICOM by content.
    let mut deid = Deidentifier::new();
    let out = outgoing(Path::new("scans/0003"), bytes.clone(), Some(&mut deid)).expect("goes");
    assert_ne!(out, bytes);
    assert_eq!(name(&out), None, "the name left");
    assert_eq!(
        imaging::volume_from_file(&out).expect("converts").voxels,
        imaging::volume_from_file(&bytes).expect("converts").voxels
    );
    // Cut short, or DICOM by name only: refused, never sent as stored.
    for (label, broken) in [
        ("scans/0003", &bytes[..bytes.len() / 2]),
        ("scans/x.dcm", b"not dicom".as_slice()),
    ] {
        let err = outgoing(Path::new(label), broken.to_vec(), Some(&mut deid)).expect_err(label);
        assert!(matches!(err, ImagingError::NotDeidentified { .. }), "{err}");
        assert!(err.to_string().contains("is not sent"), "{err}");
    }
    // Not DICOM: as it is. The console's --send-identified: everything as stored.
    let text = b"TR 2.0\n".to_vec();
    assert_eq!(
        outgoing(Path::new("scans/notes.txt"), text.clone(), Some(&mut deid)).expect("text"),
        text
    );
    assert_eq!(
        outgoing(Path::new("scans/0003"), bytes.clone(), None).expect("identified"),
        bytes
    );
}
