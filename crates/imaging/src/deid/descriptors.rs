//! The Clean Descriptors Option (DICOM PS3.15 Annex E, E.3.5): StudyDescription,
//! SeriesDescription and ProtocolName stay, cleaned of identifying information.
//!
//! The basic profile removes these three, yet protocol QA keys its templates by them and
//! BIDS names runs from ProtocolName. What the option asks us to remove is what an
//! operator may have typed into them: the file's own identifying values (every part of
//! the patient's and staff names, the patient and other IDs, the accession number, the
//! birth date in the formats people write) and anything that looks like one (a run of
//! six or more digits, i.e. an ID or a compact date; a date written with separators).

use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

/// The descriptors the option keeps (all LO).
pub(super) const DESCRIPTORS: [Tag; 3] = [
    tags::STUDY_DESCRIPTION,
    tags::SERIES_DESCRIPTION,
    tags::PROTOCOL_NAME,
];

/// Attributes whose values identify someone and must not survive in a descriptor.
const IDENTIFYING: [Tag; 11] = [
    tags::PATIENT_NAME,
    tags::PATIENT_ID,
    // OtherPatientIDs (0010,1000): retired, yet old files still carry it.
    Tag(0x0010, 0x1000),
    tags::OTHER_PATIENT_NAMES,
    tags::PATIENT_BIRTH_NAME,
    tags::PATIENT_MOTHER_BIRTH_NAME,
    tags::ACCESSION_NUMBER,
    tags::REFERRING_PHYSICIAN_NAME,
    tags::PERFORMING_PHYSICIAN_NAME,
    tags::OPERATORS_NAME,
    tags::STUDY_ID,
];

/// Name parts shorter than this (initials) are not searched for: they would eat
/// ordinary letters of the descriptor, and an initial alone names nobody.
const MIN_PART: usize = 3;

/// The descriptors of `ds` (root data set) cleaned, read before the profile removes them
/// and the identifying values with them.
pub(super) fn cleaned_descriptors(ds: &InMemDicomObject) -> Vec<(Tag, String)> {
    let needles = identifying_values(ds);
    DESCRIPTORS
        .iter()
        .filter_map(|&tag| {
            let text = ds.get(tag)?.to_str().ok()?;
            let cleaned = clean(text.trim_matches(['\0', ' ']), &needles);
            (!cleaned.is_empty()).then_some((tag, cleaned))
        })
        .collect()
}

/// Puts the cleaned descriptors back after the profile ran.
pub(super) fn restore(ds: &mut InMemDicomObject, cleaned: Vec<(Tag, String)>) {
    for (tag, text) in cleaned {
        ds.put(DataElement::new(tag, VR::LO, PrimitiveValue::from(text)));
    }
}

/// Every identifying value of the file, as lower-case ASCII needles: whole values, name
/// parts and the birth date in its common written forms.
fn identifying_values(ds: &InMemDicomObject) -> Vec<String> {
    let mut needles = Vec::new();
    for tag in IDENTIFYING {
        let Some(values) = ds.get(tag).and_then(|e| e.value().to_multi_str().ok()) else {
            continue;
        };
        for value in values.iter() {
            let value = value.trim_matches(['\0', ' ']);
            needles.push(value.to_string());
            // Person names: family^given^middle^prefix^suffix, each part maybe several words.
            needles.extend(value.split(['^', ' ', '=', ',']).map(str::to_string));
        }
    }
    if let Some(date) = ds
        .get(tags::PATIENT_BIRTH_DATE)
        .and_then(|e| e.to_str().ok())
    {
        needles.extend(date_forms(date.trim_matches(['\0', ' '])));
    }
    let mut needles: Vec<String> = needles
        .into_iter()
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| n.chars().count() >= MIN_PART)
        .collect();
    // Longest first, so a whole name goes before its parts leave fragments behind.
    needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    needles.dedup();
    needles
}

/// A DA value (YYYYMMDD) as people write it: ISO, European and US orders, with '-',
/// '.', '/' or nothing between, four- or two-digit years.
fn date_forms(da: &str) -> Vec<String> {
    if da.len() != 8 || !da.bytes().all(|b| b.is_ascii_digit()) {
        return Vec::new();
    }
    let (y, m, d) = (&da[..4], &da[4..6], &da[6..]);
    let yy = &y[2..];
    let mut forms = Vec::new();
    for sep in ["", "-", ".", "/"] {
        for year in [y, yy] {
            forms.push(format!("{year}{sep}{m}{sep}{d}"));
            forms.push(format!("{d}{sep}{m}{sep}{year}"));
            forms.push(format!("{m}{sep}{d}{sep}{year}"));
        }
    }
    forms
}

/// `text` without the needles (ASCII case-insensitive) and without anything that looks
/// like an ID or a date; separators left dangling at the ends are trimmed.
pub(super) fn clean(text: &str, needles: &[String]) -> String {
    let mut out = text.to_string();
    for needle in needles {
        // ASCII lower-casing keeps byte offsets, so matches index the original.
        while let Some(at) = out.to_ascii_lowercase().find(needle.as_str()) {
            out.replace_range(at..at + needle.len(), "");
        }
    }
    let out = remove_id_like(&out);
    // What a removal leaves between two words collapses to one separator.
    let mut tidy = String::with_capacity(out.len());
    for c in out.chars() {
        if SEPARATORS.contains(c) && tidy.ends_with(c) {
            continue;
        }
        tidy.push(c);
    }
    tidy.trim_matches(|c: char| c.is_whitespace() || SEPARATORS.contains(c))
        .to_string()
}

const SEPARATORS: &str = "_-^., /";

/// Removes runs of digits and date separators that hold six or more digits (IDs,
/// compact dates) or three digit groups (dates written with separators).
fn remove_id_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let digits = run.bytes().filter(u8::is_ascii_digit).count();
        let groups = run.split(['-', '.', '/']).filter(|g| !g.is_empty()).count();
        let looks_like_id = digits >= 6 || (groups >= 3 && digits >= 4);
        if !looks_like_id {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() || (!run.is_empty() && matches!(c, '-' | '.' | '/')) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifying_values_and_look_alikes_go_descriptor_words_stay() {
        let needles: Vec<String> = ["smith^john", "smith", "john", "mrn4711x"]
            .iter()
            .map(|s| s.to_string())
            .chain(date_forms("19770606"))
            .collect();
        assert_eq!(
            clean("func_task-faces_run-01", &needles),
            "func_task-faces_run-01"
        );
        assert_eq!(clean("ep2d_bold SMITH", &needles), "ep2d_bold");
        assert_eq!(clean("John_rest_06.06.1977", &needles), "rest");
        assert_eq!(clean("rest 1234567 t1", &needles), "rest t1");
        assert_eq!(clean("bold_Smith_run1", &needles), "bold_run1");
        assert_eq!(clean("scan 2024-03-01", &needles), "scan");
        assert_eq!(clean("MRN4711X", &needles), "");
        assert_eq!(clean("cmrr_Asc 3.0mm", &needles), "cmrr_Asc 3.0mm");
    }
}
