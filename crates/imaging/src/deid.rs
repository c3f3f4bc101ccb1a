//! DICOM de-identification before a scanner file leaves the control room.
//!
//! [`Deidentifier::deidentify`] applies DICOM PS3.15 Annex E, the Basic Application
//! Level Confidentiality Profile, with the action table kept as data in
//! [`crate::deid_profile`], recursively inside sequences. The output is a Part 10 file
//! in the same transfer syntax that converts to the same volume.
//!
//! What is deliberately kept, and why:
//! - `AcquisitionTime` (0008,0032): the standard allows removing it, but real-time
//!   volume order and slice timing need it; without any date it names nobody.
//! - All geometry, timing and pixel attributes (not in the profile's table).
//! - The private attributes listed in [`crate::deid_profile::KEPT_PRIVATE`], with their
//!   private creator elements: the Siemens CSA image and series headers ((0029,xx10),
//!   (0029,xx20), creator "SIEMENS CSA HEADER"), which carry the mosaic layout, slice
//!   normal, slice times and phase-encoding polarity, and the few GE / Philips / Siemens
//!   XA numeric or sequence-name attributes the converters read. The CSA headers were
//!   checked on every test file: they hold acquisition parameters, sequence and coil
//!   names, and the protocol name (`tProtocolName`, which the profile would also let us
//!   keep after review), but no patient name, ID, birth date, institution or UID; the
//!   tests search the output for every removed value, CSA bytes included.
//! - The file preamble is zeroed (it may hold foreign data).
//!
//! UIDs (`U`) are replaced by `2.25.<decimal>` UIDs derived from a keyed hash of the
//! original under a per-session random key, so the same UID maps to the same new UID
//! within a session (series relationships survive) and to different ones across
//! sessions. Every other UID value outside the DICOM root `1.2.840.10008.` (which only
//! names classes and syntaxes) is replaced the same way, since vendor instance UIDs
//! embed device serial numbers and dates.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};

use dicom_core::value::{DataSetSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::deid_profile::{action_for, Action, ENHANCED_TYPE1, KEPT_PRIVATE};
use crate::dicom::parse;
use crate::error::{ImagingError, Result};

/// The registered root of DICOM-defined UIDs (SOP classes, transfer syntaxes, codes).
const DICOM_ROOT: &str = "1.2.840.10008.";
/// Sequences nest far less deeply in real files; this stops hostile recursion.
const MAX_DEPTH: usize = 32;
/// rtcloud-rs as the writer of de-identified files (a UUID-derived UID, no registered root).
const IMPLEMENTATION_CLASS_UID: &str = "2.25.224750592426312794641522871211470903273";
const IMPLEMENTATION_VERSION_NAME: &str = "RTCLOUD_RS_DEID";
const METHOD: &str = "PS3.15 E.1 Basic Profile, Retain Safe Private, times kept";

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
        }
    }

    /// De-identifies one DICOM Part 10 file and returns the new file's bytes.
    pub fn deidentify(&mut self, bytes: &[u8]) -> Result<Vec<u8>> {
        let mut obj = parse(bytes)?.into_object();
        self.removed.clear();
        self.enhanced = obj
            .get(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
            .is_some();
        self.clean_dataset(&mut obj, 0)?;
        obj.put(DataElement::new(
            tags::PATIENT_IDENTITY_REMOVED,
            VR::CS,
            PrimitiveValue::from("YES"),
        ));
        obj.put(DataElement::new(
            tags::DEIDENTIFICATION_METHOD,
            VR::LO,
            PrimitiveValue::from(METHOD),
        ));
        obj.put(method_code_sequence());
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

/// Private blocks `(group, block byte)` whose creator is one we keep data from.
fn kept_private_blocks(ds: &InMemDicomObject) -> Vec<(u16, u8, &'static str)> {
    let mut blocks = Vec::new();
    for e in ds.iter() {
        let Tag(group, element) = e.header().tag;
        if group % 2 == 0 || !(0x0010..=0x00FF).contains(&element) {
            continue;
        }
        let Ok(creator) = e.to_str() else { continue };
        let creator = creator.trim_end_matches(['\0', ' ']);
        if let Some(kept) = KEPT_PRIVATE
            .iter()
            .find(|k| k.group == group && k.creator == creator)
        {
            // Element (gggg,00bb) reserves the block (gggg,bbxx).
            blocks.push((group, element as u8, kept.creator));
        }
    }
    blocks
}

fn keep_element(tag: Tag, kept_blocks: &[(u16, u8, &'static str)]) -> bool {
    let Tag(group, element) = tag;
    if group % 2 == 0 {
        // Overlay data and comments, curves (profile: X); group lengths are recomputed.
        let overlay =
            (0x6000..=0x60FF).contains(&group) && (element == 0x3000 || element == 0x4000);
        let curve = (0x5000..=0x50FF).contains(&group);
        return !(overlay || curve || element == 0x0000);
    }
    if (0x0010..=0x00FF).contains(&element) {
        return kept_blocks
            .iter()
            .any(|&(g, b, _)| g == group && u16::from(b) == element);
    }
    let block = (element >> 8) as u8;
    let low = (element & 0xFF) as u8;
    kept_blocks.iter().any(|&(g, b, creator)| {
        g == group
            && b == block
            && KEPT_PRIVATE
                .iter()
                .any(|k| k.group == group && k.creator == creator && k.element == low)
    })
}

/// DeidentificationMethodCodeSequence: the profile and option applied (CID 7050).
fn method_code_sequence() -> DataElement<InMemDicomObject> {
    let codes = [
        ("113100", "Basic Application Confidentiality Profile"),
        ("113111", "Retain Safe Private Option"),
    ];
    let items: Vec<InMemDicomObject> = codes
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

fn is_ge_protocol_block(tag: Tag, kept_blocks: &[(u16, u8, &'static str)]) -> bool {
    let Tag(group, element) = tag;
    group == 0x0025
        && element & 0xFF == 0x1B
        && kept_blocks.iter().any(|&(g, b, creator)| {
            g == group && u16::from(b) == element >> 8 && creator == "GEMS_SERS_01"
        })
}

/// Blanks the identifying parts of a gzip member header in place, keeping every length:
/// the modification time (a date) and the stored file name and comment (GE writes the
/// exam number there, e.g. `Ex27018Ser4Rx`). The compressed data is untouched, so the
/// block still decodes to the same protocol text (acquisition parameters only).
fn scrub_gzip_header(gz: &mut [u8]) {
    const FHCRC: u8 = 0x02;
    const FEXTRA: u8 = 0x04;
    const FNAME: u8 = 0x08;
    const FCOMMENT: u8 = 0x10;
    if gz.len() < 10 || gz[0] != 0x1f || gz[1] != 0x8b {
        return;
    }
    let flags = gz[3];
    gz[4..8].fill(0);
    let mut pos = 10;
    if flags & FEXTRA != 0 {
        let Some(len) = gz
            .get(pos..pos + 2)
            .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
        else {
            return;
        };
        pos += 2 + len;
    }
    for field in [FNAME, FCOMMENT] {
        if flags & field == 0 {
            continue;
        }
        let Some(rest) = gz.get_mut(pos..) else {
            return;
        };
        let Some(end) = rest.iter().position(|&b| b == 0) else {
            return;
        };
        rest[..end].fill(b'x');
        pos += end + 1;
    }
    if flags & FHCRC != 0 {
        if let Some(header) = gz.get(..pos) {
            let mut crc = flate2::Crc::new();
            crc.update(header);
            let crc16 = (crc.sum() & 0xFFFF) as u16;
            if let Some(slot) = gz.get_mut(pos..pos + 2) {
                slot.copy_from_slice(&crc16.to_le_bytes());
            }
        }
    }
}

/// Records the numeric-looking values (dates, times, UIDs, numeric IDs) of an element
/// about to be removed or replaced, descending into sequences.
fn note_values(e: &dicom_object::mem::InMemElement, removed: &mut HashSet<Vec<u8>>, depth: usize) {
    if let Some(items) = e.items() {
        if depth < MAX_DEPTH {
            for item in items {
                for inner in item.iter() {
                    note_values(inner, removed, depth + 1);
                }
            }
        }
        return;
    }
    let Ok(values) = e.value().to_multi_str() else {
        return;
    };
    for v in values.iter() {
        let v = v.trim_matches(['\0', ' ']);
        if v.len() >= MIN_NOTED_LEN && v.bytes().all(is_numeric_byte) {
            removed.insert(v.as_bytes().to_vec());
        }
    }
}

/// Shorter numbers (a bare time like 090013) collide with acquisition parameters.
const MIN_NOTED_LEN: usize = 8;

fn is_numeric_byte(b: u8) -> bool {
    b.is_ascii_digit() || b == b'.'
}

/// Blanks, in place and keeping every length, each run of digits and dots in kept
/// private data that is a UID (three or more dots: Siemens ASCCONV repeats reference
/// image UIDs, which embed the scanner serial and the date) or equals a value removed
/// from the file (its dates and IDs). Digits become `0`, dots stay.
fn scrub_numeric_tokens(bytes: &mut [u8], removed: &HashSet<Vec<u8>>) {
    let mut i = 0;
    while i < bytes.len() {
        if !is_numeric_byte(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_numeric_byte(bytes[i]) {
            i += 1;
        }
        let token = &bytes[start..i];
        let dots = token.iter().filter(|&&b| b == b'.').count();
        let uid_like = dots >= 3 && token.len() >= 10;
        if uid_like || (token.len() >= MIN_NOTED_LEN && removed.contains(token)) {
            for b in &mut bytes[start..i] {
                if b.is_ascii_digit() {
                    *b = b'0';
                }
            }
        }
    }
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
