//! Siemens CSA headers: the private image and series headers of Siemens MR DICOM.
//!
//! Both headers are a list of named elements with string items. Two layouts exist: "SV10"
//! (magic, then the element list) and the older one without magic. The series header's
//! `MrPhoenixProtocol` (or `MrProtocol`) element carries the ASCCONV protocol text.
//! Every count and length is checked against the bytes present, so a damaged header
//! gives an error or fewer elements, never a panic or a huge allocation.

use std::collections::BTreeMap;

use dicom_core::Tag;
use memchr::memmem;

use crate::dicom::DicomFile;
use crate::error::{ImagingError, Result};

/// More elements than any real CSA header holds (real ones have about 100).
const MAX_ELEMENTS: usize = 4096;
/// More items per element than any real header holds (MosaicRefAcqTimes: one per slice).
const MAX_ITEMS: usize = 8192;

/// A parsed CSA header: element name to its non-empty item strings, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CsaHeader {
    pub elements: BTreeMap<String, Vec<String>>,
}

impl CsaHeader {
    pub fn strings(&self, name: &str) -> Option<&[String]> {
        self.elements.get(name).map(Vec::as_slice)
    }

    /// Every item of `name` that parses as a number (non-numbers are skipped).
    pub fn f64s(&self, name: &str) -> Option<Vec<f64>> {
        let values: Vec<f64> = self
            .elements
            .get(name)?
            .iter()
            .filter_map(|s| s.trim().parse::<f64>().ok())
            .collect();
        (!values.is_empty()).then_some(values)
    }

    pub fn f64(&self, name: &str) -> Option<f64> {
        self.f64s(name)?.first().copied()
    }

    pub fn i64(&self, name: &str) -> Option<i64> {
        let v = self.f64(name)?;
        (v.fract() == 0.0 && v.abs() < 1e15).then_some(v as i64)
    }
}

/// The CSA image header of `file` ((0029,xx10) in the "SIEMENS CSA HEADER" block), if any.
pub fn image_header(file: &DicomFile) -> Option<Result<CsaHeader>> {
    private_element(file, 0x10).map(|bytes| parse(&bytes))
}

/// The CSA series header ((0029,xx20)), if any.
pub fn series_header(file: &DicomFile) -> Option<Result<CsaHeader>> {
    private_element(file, 0x20).map(|bytes| parse(&bytes))
}

/// The ASCCONV protocol of the series header as key -> value (quotes removed).
pub fn protocol(series: &CsaHeader) -> BTreeMap<String, String> {
    let text = series
        .strings("MrPhoenixProtocol")
        .or_else(|| series.strings("MrProtocol"))
        .and_then(|items| items.first());
    text.map(|t| parse_ascconv(t)).unwrap_or_default()
}

/// Whether the ASCCONV protocol of `file`'s series header contains `key` (a substring
/// search, as dcm2niix does). Much cheaper than [`protocol`]: no parse of either header,
/// which matters on the per-TR path.
pub fn protocol_mentions(file: &DicomFile, key: &str) -> bool {
    let Some(bytes) = private_element_bytes(file, 0x20) else {
        return false;
    };
    // Searched as bytes: the protocol is ~100 KB and a text copy of it cost more than
    // the rest of the volume's conversion.
    let Some(start) = memmem::find(&bytes, b"### ASCCONV BEGIN") else {
        return false;
    };
    let body = &bytes[start..];
    let body = memmem::find(body, b"### ASCCONV END").map_or(body, |end| &body[..end]);
    memmem::find(body, key.as_bytes()).is_some()
}

/// Raw bytes of (0029, block<<8 | offset) where `block` is reserved by the private
/// creator "SIEMENS CSA HEADER" (falling back to the usual block 0x10).
fn private_element(file: &DicomFile, offset: u16) -> Option<Vec<u8>> {
    private_element_bytes(file, offset).map(|b| b.into_owned())
}

fn private_element_bytes(file: &DicomFile, offset: u16) -> Option<std::borrow::Cow<'_, [u8]>> {
    let block = (0x10u16..=0xFF)
        .find(|&b| {
            file.str(Tag(0x0029, b))
                .is_some_and(|s| s.trim() == "SIEMENS CSA HEADER")
        })
        .unwrap_or(0x10);
    file.bytes(Tag(0x0029, (block << 8) | offset))
}

/// Little-endian cursor that reports running out of bytes as an error.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| {
            ImagingError::Invalid(format!(
                "CSA header ends at byte {} inside an element (needs {n} more)",
                self.bytes.len()
            ))
        })?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// Parses a CSA header (either layout).
pub fn parse(bytes: &[u8]) -> Result<CsaHeader> {
    let mut r = Reader { bytes, pos: 0 };
    if bytes.starts_with(b"SV10") {
        r.take(8)?; // "SV10" and the \4\3\2\1 marker
    }
    let count = r.u32()? as usize;
    r.u32()?; // always 77
    if count > MAX_ELEMENTS {
        return Err(ImagingError::Invalid(format!(
            "CSA header announces {count} elements (at most {MAX_ELEMENTS} expected)"
        )));
    }
    let mut header = CsaHeader::default();
    for _ in 0..count {
        let name = c_string(r.take(64)?);
        let _vm = r.u32()?;
        let _vr = r.take(4)?;
        let _syngo_dt = r.u32()?;
        let n_items = r.u32()? as usize;
        r.u32()?; // 77 or 205
        if n_items > MAX_ITEMS {
            return Err(ImagingError::Invalid(format!(
                "CSA element {name} announces {n_items} items"
            )));
        }
        let mut items = Vec::new();
        for _ in 0..n_items {
            let head = r.take(16)?;
            let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
            // Items are padded to a multiple of four bytes.
            let padded = len.checked_add(3).map(|l| l & !3).unwrap_or(usize::MAX);
            let data = r.take(padded)?;
            let text = c_string(&data[..len.min(data.len())]);
            if !text.is_empty() {
                items.push(text);
            }
        }
        header.elements.insert(name, items);
    }
    Ok(header)
}

/// Text up to the first NUL, trimmed; non-UTF-8 bytes replaced.
fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).trim().to_string()
}

/// `key = value` lines between "### ASCCONV BEGIN" and "### ASCCONV END".
pub fn parse_ascconv(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(start) = text.find("### ASCCONV BEGIN") else {
        return out;
    };
    let body = &text[start..];
    let body = body
        .find("### ASCCONV END")
        .map_or(body, |end| &body[..end]);
    for line in body.lines().skip(1) {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        // Strings are quoted, in Siemens' own exports doubly (`""ep2d_bold""`).
        let value = if value.starts_with('"') {
            value
                .trim_start_matches('"')
                .split('"')
                .next()
                .unwrap_or("")
        } else {
            value.split('#').next().unwrap_or("").trim()
        };
        out.insert(key.trim().to_string(), value.to_string());
    }
    out
}

/// An ASCCONV integer (decimal or 0x hex).
pub fn ascconv_int(protocol: &BTreeMap<String, String>, key: &str) -> Option<i64> {
    let v = protocol.get(key)?.trim();
    match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascconv_lines_become_key_values() {
        let text = "junk\n### ASCCONV BEGIN object=MrProtDataImpl@MrProtocolData version=1 ###\n\
            sSliceArray.ucMode\t = \t0x4\n\
            tProtocolName\t = \t\"\"rest\"\"  # comment\n\
            sPat.lAccelFactPE\t = \t2\t# factor\n\
            ### ASCCONV END ###\nafter = 1\n";
        let p = parse_ascconv(text);
        assert_eq!(ascconv_int(&p, "sSliceArray.ucMode"), Some(4));
        assert_eq!(ascconv_int(&p, "sPat.lAccelFactPE"), Some(2));
        assert_eq!(p.get("tProtocolName").map(String::as_str), Some("rest"));
        assert!(!p.contains_key("after"));
    }

    #[test]
    fn empty_and_tiny_headers_are_errors() {
        assert!(parse(b"").is_err());
        assert!(parse(b"SV10\x04\x03\x02\x01").is_err());
        // Zero elements is a valid, empty header.
        assert_eq!(parse(&[0u8; 8]).map(|h| h.elements.len()).ok(), Some(0));
    }
}
