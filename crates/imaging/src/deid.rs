//! DICOM de-identification before a scanner file leaves the control room.
//!
//! [`Deidentifier::deidentify`] applies DICOM PS3.15 Annex E, the Basic Application
//! Level Confidentiality Profile, with the action table kept as data in
//! [`crate::deid_profile`], recursively inside sequences. The output is a Part 10 file
//! in the same transfer syntax that converts to the same volume.
//!
//! What is deliberately kept, and why:
//! - `AcquisitionTime` (0008,0032): the standard allows removing it, but real-time
//!   volume order and slice timing need it; without any date it names nobody. For the
//!   same reason dates the table does not list (e.g. the enhanced per-frame
//!   `FrameAcquisitionDateTime`, which slice timing needs) become 1900-01-01 with the
//!   time of day kept, and so do Type 1 dates of enhanced files.
//! - All geometry, timing and pixel attributes (not in the profile's table).
//! - The private attributes listed in [`crate::deid_profile::KEPT_PRIVATE`], with their
//!   private creator elements: the Siemens CSA image and series headers ((0029,xx10),
//!   (0029,xx20), creator "SIEMENS CSA HEADER"), which carry the mosaic layout, slice
//!   normal, slice times and phase-encoding polarity; the Siemens XA per-frame
//!   TimeAfterStart; GE sequence names, TR group delay and protocol block; the Philips
//!   scale slope; the phase-encoding, multiband, epi_pepolar, ASL timing and diffusion
//!   fields the sidecar needs. Every other private attribute is removed. GE's raw image
//!   header (0043,102A) holds the scan date and goes; its phase-encoding polarity is
//!   re-recorded as the standard (0018,9034) first.
//! - What the kept private data was found to hold, on every test file: acquisition
//!   parameters, sequence and coil names and the protocol name (`tProtocolName`, often
//!   equal to the removed SeriesDescription; it names the scan protocol, not the
//!   patient), but also the UIDs of the localizer reference images (`tReferenceImage0..2`
//!   in the ASCCONV, which embed the scanner serial and the date, once even reversed)
//!   and, in GE's gzip protocol block, the exam number as the gzip file name. So kept
//!   private data is cleaned in place, lengths unchanged: every digits-and-dots run that
//!   is UID-shaped or equals a removed value (dates, IDs) has its digits zeroed, and the
//!   gzip header's name, comment and time are blanked. The tests search each output for
//!   every removed value, private bytes included.
//! - The file preamble is zeroed (it may hold foreign data); the file meta group names
//!   this writer, not the scanner, and loses its AE titles (they name the station).
//!
//! UIDs (`U`) are replaced by `2.25.<decimal>` UIDs derived from a keyed hash of the
//! original under a per-session random key, so the same UID maps to the same new UID
//! within a session (series relationships survive) and to different ones across
//! sessions. Every other UID value outside the DICOM root `1.2.840.10008.` (which only
//! names classes and syntaxes) is replaced the same way, since vendor instance UIDs
//! embed device serial numbers and dates. The keyed hash is std's `RandomState`
//! (SipHash keyed from the OS's randomness) over the original and a 256-bit session
//! secret: not a cryptographic MAC, but the key never leaves the process.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::path::Path;

use dicom_core::value::{DataSetSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::deid_profile::{action_for, kept_unlisted, Action, ENHANCED_TYPE1};
use crate::dicom::parse;
use crate::error::{ImagingError, Result};

mod descriptors;
mod private;

use private::{
    is_csa_element, is_csa_header, is_ge_protocol_block, keep_element, kept_private_blocks,
    note_values, scrub_gzip_header, scrub_numeric_tokens,
};

/// The registered root of DICOM-defined UIDs (SOP classes, transfer syntaxes, codes).
const DICOM_ROOT: &str = "1.2.840.10008.";
/// Sequences nest far less deeply in real files; this stops hostile recursion.
pub(crate) const MAX_DEPTH: usize = 32;
/// rtcloud-rs as the writer of de-identified files (a UUID-derived UID, no registered root).
const IMPLEMENTATION_CLASS_UID: &str = "2.25.224750592426312794641522871211470903273";
const IMPLEMENTATION_VERSION_NAME: &str = "RTCLOUD_RS_DEID";
const METHOD: &str = "PS3.15 E.1 Basic Profile, Retain Safe Private, times kept";
const METHOD_CLEAN_DESCRIPTORS: &str =
    "PS3.15 E.1 Basic Profile, Retain Safe Private, Clean Descriptors, times kept";

/// De-identification state of one session: the UID key and the UIDs mapped so far.
#[derive(Debug)]
pub struct Deidentifier {
    key: RandomState,
    secret: [u8; 32],
    uids: HashMap<String, String>,
    /// Numeric values (dates, times, UIDs, IDs) removed from the current file, to be
    /// blanked where kept private data repeats them.
    removed: HashSet<Vec<u8>>,
    /// The current file is an enhanced multi-frame object (see `ENHANCED_TYPE1`).
    enhanced: bool,
    /// Apply the Clean Descriptors Option (on unless the site switched it off).
    clean_descriptors: bool,
}

impl Default for Deidentifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Deidentifier {
    /// A new session with a fresh random key: its UIDs differ from any other session's.
    pub fn new() -> Self {
        Self {
            key: RandomState::new(),
            secret: rand::random(),
            uids: HashMap::new(),
            removed: HashSet::new(),
            enhanced: false,
            clean_descriptors: true,
        }
    }

    /// Switches the Clean Descriptors Option (PS3.15 E.3.5, on by default): with it,
    /// StudyDescription, SeriesDescription and ProtocolName are kept, cleaned of the
    /// file's identifying values and of anything that looks like an ID or a date
    /// (`deid/descriptors.rs`); without it they are removed like the basic profile says.
    pub fn with_clean_descriptors(mut self, on: bool) -> Self {
        self.clean_descriptors = on;
        self
    }

    /// De-identifies one DICOM file (Part 10 or headerless, see [`crate::parse`]) and
    /// returns the new Part 10 file's bytes.
    pub fn deidentify(&mut self, bytes: &[u8]) -> Result<Vec<u8>> {
        let mut obj = parse(bytes)?.into_object();
        self.removed.clear();
        self.enhanced = obj
            .get(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
            .is_some();
        record_ge_phase_polarity(&mut obj);
        let descriptors = if self.clean_descriptors {
            descriptors::cleaned_descriptors(&obj)
        } else {
            Vec::new()
        };
        self.clean_dataset(&mut obj, 0)?;
        descriptors::restore(&mut obj, descriptors);
        obj.put(DataElement::new(
            tags::PATIENT_IDENTITY_REMOVED,
            VR::CS,
            PrimitiveValue::from("YES"),
        ));
        obj.put(DataElement::new(
            tags::DEIDENTIFICATION_METHOD,
            VR::LO,
            PrimitiveValue::from(if self.clean_descriptors {
                METHOD_CLEAN_DESCRIPTORS
            } else {
                METHOD
            }),
        ));
        obj.put(method_code_sequence(self.clean_descriptors));
        // Dates became 1900-01-01 while times of day stayed.
        obj.put(DataElement::new(
            tags::LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED,
            VR::CS,
            PrimitiveValue::from("MODIFIED"),
        ));
        let sop = obj
            .get(tags::SOP_INSTANCE_UID)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_end_matches(['\0', ' ']).to_string());
        let meta_uid = match sop {
            Some(uid) => uid,
            None => {
                let old = obj.meta().media_storage_sop_instance_uid().to_string();
                self.replace_uid(&old)
            }
        };
        let meta = obj.meta_mut();
        meta.media_storage_sop_instance_uid = meta_uid;
        // We wrote this file, so the implementation is ours (the scanner's names its model).
        meta.implementation_class_uid = IMPLEMENTATION_CLASS_UID.to_string();
        meta.implementation_version_name = Some(IMPLEMENTATION_VERSION_NAME.to_string());
        // AE titles name the scanner or workstation (e.g. the station name).
        meta.source_application_entity_title = None;
        meta.sending_application_entity_title = None;
        meta.receiving_application_entity_title = None;
        meta.private_information_creator_uid = None;
        meta.private_information = None;
        meta.update_information_group_length();
        // Headroom for the meta group; the pixel data dominates.
        let mut out = Vec::with_capacity(bytes.len() + 256);
        obj.write_all(&mut out).map_err(|e| {
            ImagingError::Invalid(format!("cannot write the de-identified file: {e}"))
        })?;
        Ok(out)
    }

    /// The replacement of one UID in this session (the same input gives the same output).
    pub fn replace_uid(&mut self, uid: &str) -> String {
        let uid = uid.trim_end_matches(['\0', ' ']);
        if let Some(new) = self.uids.get(uid) {
            return new.clone();
        }
        let high = self.key.hash_one((0u8, &self.secret, uid));
        let low = self.key.hash_one((1u8, &self.secret, uid));
        let mut n = (u128::from(high) << 64) | u128::from(low);
        // Shape it as an RFC 9562 version 8 (custom) UUID, as 2.25 UIDs conventionally are.
        n = (n & !(0xF << 76)) | (0x8 << 76);
        n = (n & !(0b11 << 62)) | (0b10 << 62);
        let new = format!("2.25.{n}");
        self.uids.insert(uid.to_string(), new.clone());
        new
    }

    fn clean_dataset(&mut self, ds: &mut InMemDicomObject, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(ImagingError::Invalid(format!(
                "sequences nested deeper than {MAX_DEPTH} levels"
            )));
        }
        let kept_blocks = kept_private_blocks(ds);
        ds.retain(|e| keep_element(e.header().tag, &kept_blocks));
        let tags: Vec<(Tag, VR)> = ds.iter().map(|e| (e.header().tag, e.header().vr)).collect();
        for &(tag, vr) in tags.iter().filter(|(tag, _)| tag.group() % 2 == 0) {
            let action = if self.enhanced && ENHANCED_TYPE1.contains(&tag) {
                Some(Action::Dummy)
            } else {
                action_for(tag)
            };
            // What the table does not list goes unless it is known to be safe.
            let action = match action {
                None if !kept_unlisted(tag, vr) || !numbers_are_numbers(ds, tag, vr) => {
                    Some(Action::Remove)
                }
                other => other,
            };
            if matches!(
                action,
                Some(Action::Remove | Action::Empty | Action::Dummy | Action::Uid)
            ) {
                if let Some(e) = ds.get(tag) {
                    note_values(e, &mut self.removed, 0);
                }
            }
            match action {
                Some(Action::Remove) => {
                    ds.remove_element(tag);
                }
                Some(Action::Empty) => put_empty(ds, tag, vr),
                Some(Action::Dummy) => put_dummy(ds, tag, vr),
                Some(Action::Uid) => self.replace_uids_in(ds, tag, vr, true),
                Some(Action::Keep) | None if vr == VR::UI => {
                    self.replace_uids_in(ds, tag, vr, false)
                }
                None if vr == VR::DA || vr == VR::DT => {
                    if let Some(e) = ds.get(tag) {
                        note_values(e, &mut self.removed, 0);
                    }
                    redate(ds, tag, vr);
                }
                Some(Action::Keep) | None if vr == VR::SQ => self.clean_items(ds, tag, depth)?,
                Some(Action::Keep) | None => {}
            }
        }
        // Kept private data last, once every removed value of the file is known.
        for &(tag, vr) in tags.iter().filter(|(tag, _)| tag.group() % 2 == 1) {
            if vr == VR::SQ {
                self.clean_items(ds, tag, depth)?;
                continue;
            }
            if is_csa_element(tag, &kept_blocks) && !ds.get(tag).is_some_and(is_csa_header) {
                // A block that claims to be the CSA header but does not parse as one.
                ds.remove_element(tag);
                continue;
            }
            let ge_block = is_ge_protocol_block(tag, &kept_blocks);
            let is_creator = tag.element() <= 0x00FF;
            let removed = &self.removed;
            ds.update_value(tag, |value| {
                if let Value::Primitive(PrimitiveValue::U8(bytes)) = value {
                    if ge_block {
                        scrub_gzip_header(bytes.get_mut(4..).unwrap_or_default());
                    } else if !is_creator {
                        scrub_numeric_tokens(bytes, removed);
                    }
                }
            });
        }
        Ok(())
    }

    /// Cleans every item of a kept sequence.
    fn clean_items(&mut self, ds: &mut InMemDicomObject, tag: Tag, depth: usize) -> Result<()> {
        let mut result = Ok(());
        ds.update_value(tag, |value| {
            if let Some(items) = value.items_mut() {
                for item in items.iter_mut() {
                    if result.is_ok() {
                        result = self.clean_dataset(item, depth + 1);
                    }
                }
            }
        });
        result
    }

    /// Replaces the UID values of one attribute; `all` also replaces DICOM-root UIDs.
    fn replace_uids_in(&mut self, ds: &mut InMemDicomObject, tag: Tag, vr: VR, all: bool) {
        let Some(values) = ds.get(tag).and_then(|e| e.value().to_multi_str().ok()) else {
            return;
        };
        let needs = values.iter().any(|v| all || !v.starts_with(DICOM_ROOT));
        if !needs {
            return;
        }
        let new: Vec<String> = values
            .iter()
            .map(|v| {
                let v = v.trim_end_matches(['\0', ' ']);
                if v.is_empty() || (!all && v.starts_with(DICOM_ROOT)) {
                    v.to_string()
                } else {
                    self.replace_uid(v)
                }
            })
            .collect();
        ds.put(DataElement::new(tag, vr, PrimitiveValue::Strs(new.into())));
    }
}

/// The bytes of a file named `name` as they may leave the console: DICOM (by name or
/// content, [`crate::dicom::is_dicom`], headerless data sets included) de-identified
/// by `deid`, anything else as it is. `deid` is `None` only where the console itself was
/// told to send identified data; then everything goes as stored.
///
/// Errors: a file that is DICOM by name or content but cannot be de-identified (cut
/// short, damaged, not DICOM after all) is an error, never sent as stored.
pub fn outgoing(name: &Path, bytes: Vec<u8>, deid: Option<&mut Deidentifier>) -> Result<Vec<u8>> {
    match deid {
        Some(deid) if crate::dicom::is_dicom(name, &bytes) => {
            deid.deidentify(&bytes)
                .map_err(|e| ImagingError::NotDeidentified {
                    name: name.display().to_string(),
                    reason: e.to_string(),
                })
        }
        _ => Ok(bytes),
    }
}

/// DeidentificationMethodCodeSequence: the profile and option applied (CID 7050).
/// GE's raw image header (0043,102A) goes (it holds the scan date), but the
/// phase-encoding polarity conversion reads from it stays: as the standard
/// RectilinearPhaseEncodeReordering (0018,9034) GE itself writes from RX27 on, which
/// dcm2niix (and `slices::timing::ge_phase_positive`) prefers to the raw header.
fn record_ge_phase_polarity(ds: &mut InMemDicomObject) {
    let is_ge = ds
        .get(tags::MANUFACTURER)
        .and_then(|e| e.to_str().ok())
        .is_some_and(|m| m.trim().to_ascii_uppercase().starts_with("GE"));
    if !is_ge || ds.get(tags::RECTILINEAR_PHASE_ENCODE_REORDERING).is_some() {
        return;
    }
    let raw = ds.get(Tag(0x0043, 0x102A)).and_then(|e| e.to_bytes().ok());
    let Some(positive) = raw.and_then(|r| crate::slices::timing::ge_header_positive(&r)) else {
        return;
    };
    let reordering = if positive { "REVERSE_LINEAR" } else { "LINEAR" };
    ds.put(DataElement::new(
        tags::RECTILINEAR_PHASE_ENCODE_REORDERING,
        VR::CS,
        PrimitiveValue::from(reordering),
    ));
}

fn method_code_sequence(clean_descriptors: bool) -> DataElement<InMemDicomObject> {
    let codes = [
        ("113100", "Basic Application Confidentiality Profile"),
        ("113111", "Retain Safe Private Option"),
        ("113105", "Clean Descriptors Option"),
    ];
    let used = if clean_descriptors { 3 } else { 2 };
    let items: Vec<InMemDicomObject> = codes[..used]
        .iter()
        .map(|&(value, meaning)| {
            InMemDicomObject::from_element_iter([
                DataElement::new(tags::CODE_VALUE, VR::SH, PrimitiveValue::from(value)),
                DataElement::new(
                    tags::CODING_SCHEME_DESIGNATOR,
                    VR::SH,
                    PrimitiveValue::from("DCM"),
                ),
                DataElement::new(tags::CODE_MEANING, VR::LO, PrimitiveValue::from(meaning)),
            ])
        })
        .collect();
    DataElement::new(
        tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE,
        VR::SQ,
        DataSetSequence::new(items, dicom_core::Length::UNDEFINED),
    )
}

/// A kept numeric string (DS, IS) must hold numbers only: a name written into a
/// numeric attribute goes like any unlisted text.
fn numbers_are_numbers(ds: &InMemDicomObject, tag: Tag, vr: VR) -> bool {
    if !matches!(vr, VR::DS | VR::IS) {
        return true;
    }
    let Some(e) = ds.get(tag) else { return true };
    let Ok(text) = e.to_str() else { return false };
    text.chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E' | ' ' | '\\' | '\0'))
}

fn put_empty(ds: &mut InMemDicomObject, tag: Tag, vr: VR) {
    let value = if vr == VR::SQ {
        Value::new_sequence(
            Vec::<InMemDicomObject>::new(),
            dicom_core::Length::UNDEFINED,
        )
    } else {
        Value::Primitive(PrimitiveValue::Empty)
    };
    ds.put(DataElement::new(tag, vr, value));
}

/// A non-identifying value of the right VR (profile action `D`).
fn put_dummy(ds: &mut InMemDicomObject, tag: Tag, vr: VR) {
    let text = match vr {
        VR::DA => "19000101",
        VR::TM => "000000",
        // The time of day stays, like AcquisitionTime and the per-frame times.
        VR::DT => return redate(ds, tag, vr),
        VR::PN | VR::LO | VR::SH | VR::LT | VR::ST | VR::UT | VR::UC => "ANONYMIZED",
        VR::DS | VR::IS => "0",
        _ => return put_empty(ds, tag, vr),
    };
    ds.put(DataElement::new(tag, vr, PrimitiveValue::from(text)));
}

/// The safety net for dates the table does not list (e.g. the enhanced MR per-frame
/// FrameAcquisitionDateTime, which slice timing needs): the date becomes 1900-01-01 and
/// the time of day is kept, so time differences within a run survive (unless the run
/// crosses midnight).
fn redate(ds: &mut InMemDicomObject, tag: Tag, vr: VR) {
    let Some(values) = ds.get(tag).and_then(|e| e.value().to_multi_str().ok()) else {
        return;
    };
    let new: Vec<String> = values
        .iter()
        .map(|v| {
            let v = v.trim_matches(['\0', ' ']);
            match vr {
                VR::DT if v.len() > 8 => format!("19000101{}", v.get(8..).unwrap_or_default()),
                _ if v.is_empty() => String::new(),
                _ => "19000101".to_string(),
            }
        })
        .collect();
    ds.put(DataElement::new(tag, vr, PrimitiveValue::Strs(new.into())));
}
