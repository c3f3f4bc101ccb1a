//! Private attributes: which survive de-identification, and cleaning what they repeat
//! of the removed public ones (see the parent module's docs for what was found in them).

use std::collections::HashSet;

use dicom_core::Tag;
use dicom_object::InMemDicomObject;

use crate::deid::MAX_DEPTH;
use crate::deid_profile::KEPT_PRIVATE;

/// Private blocks `(group, block byte)` whose creator is one we keep data from.
pub(super) fn kept_private_blocks(ds: &InMemDicomObject) -> Vec<(u16, u8, &'static str)> {
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

pub(super) fn keep_element(tag: Tag, kept_blocks: &[(u16, u8, &'static str)]) -> bool {
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

pub(super) fn is_ge_protocol_block(tag: Tag, kept_blocks: &[(u16, u8, &'static str)]) -> bool {
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
pub(super) fn scrub_gzip_header(gz: &mut [u8]) {
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
pub(super) fn note_values(
    e: &dicom_object::mem::InMemElement,
    removed: &mut HashSet<Vec<u8>>,
    depth: usize,
) {
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
pub(super) fn scrub_numeric_tokens(bytes: &mut [u8], removed: &HashSet<Vec<u8>>) {
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

/// The Siemens CSA image or series header element ((0029,xx10), (0029,xx20)) of a
/// block whose creator says "SIEMENS CSA HEADER".
pub(super) fn is_csa_element(tag: Tag, kept_blocks: &[(u16, u8, &'static str)]) -> bool {
    let Tag(group, element) = tag;
    group == 0x0029
        && matches!(element & 0xFF, 0x10 | 0x20)
        && kept_blocks.iter().any(|&(g, b, creator)| {
            g == group && u16::from(b) == element >> 8 && creator == "SIEMENS CSA HEADER"
        })
}

/// Whether an element's content is a CSA header: it parses (`crate::csa::parse`), holds
/// at least one element, and carries the layout's constant 77 after the element count.
/// A block whose creator only claims to be the CSA header is removed.
pub(super) fn is_csa_header(e: &dicom_object::mem::InMemElement) -> bool {
    let Ok(bytes) = e.to_bytes() else {
        return false;
    };
    let body = bytes
        .strip_prefix(b"SV10\x04\x03\x02\x01")
        .unwrap_or(&bytes);
    let marker = body
        .get(4..8)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    marker == Some(77) && crate::csa::parse(&bytes).is_ok_and(|h| !h.elements.is_empty())
}
