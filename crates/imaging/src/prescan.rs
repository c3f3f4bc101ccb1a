//! A cheap structural walk over a DICOM file's element stream, run before dicom-object
//! sees the bytes.
//!
//! It checks that every declared length fits in the bytes actually present, so a file
//! still being written (or cut short) is reported as [`ImagingError::Incomplete`] and a
//! forged length can never make the full parser allocate more than the file's size.
//! It allocates nothing and reads each header once.

use crate::error::{ImagingError, Result};

/// Deeper nesting than this is treated as hostile input.
const MAX_DEPTH: usize = 16;
const UNDEFINED: u32 = 0xFFFF_FFFF;
const ITEM: u32 = 0xFFFE_E000;
const ITEM_END: u32 = 0xFFFE_E00D;
const SEQ_END: u32 = 0xFFFE_E0DD;
const PIXEL_DATA: u32 = 0x7FE0_0010;

const TS_IMPLICIT_LE: &str = "1.2.840.10008.1.2";
const TS_EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";
const TS_DEFLATED: &str = "1.2.840.10008.1.2.1.99";

/// Where the file meta group starts and which encoding the data set uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Encoding {
    explicit: bool,
    big_endian: bool,
}

/// The image attributes needed to check native pixel data against its declared size.
#[derive(Debug, Default)]
struct ImageShape {
    rows: Option<u64>,
    columns: Option<u64>,
    frames: Option<u64>,
    bits: Option<u64>,
    samples: Option<u64>,
    pixel_data: bool,
}

/// How a file's DICOM stream is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// A Part 10 file: the file meta group ("DICM" magic included) starts at this
    /// offset, 128 with the standard preamble and 0 without.
    Part10 { meta_start: usize },
    /// No preamble, no "DICM" and no file meta group: an implicit VR little endian data
    /// set from the first byte (the PS3.5 default transfer syntax), as some scanners and
    /// tools write (dcm2niix reads these too).
    Headerless,
}

/// Checks the structure of a whole DICOM file (Part 10, or a headerless data set, see
/// [`Layout`]) and says how it is laid out.
pub fn prescan(bytes: &[u8]) -> Result<Layout> {
    let Some(start) = magic_offset(bytes)? else {
        let mut shape = ImageShape::default();
        let mut walker = Walker {
            bytes,
            encoding: Encoding {
                explicit: false,
                big_endian: false,
            },
        };
        walker.walk(0, bytes.len(), 0, Some(&mut shape))?;
        if shape.rows.is_some() && shape.columns.is_some() && !shape.pixel_data {
            return Err(incomplete(format!(
                "an image without PixelData (7FE0,0010): the file ends at {} bytes, \
                 apparently before its pixel data",
                bytes.len()
            )));
        }
        return Ok(Layout::Headerless);
    };
    let meta = scan_meta(bytes, start + 4)?;
    let (data_start, ts) = (meta.data_start, meta.transfer_syntax);
    if ts == TS_DEFLATED {
        // The data set is zlib-compressed: dicom-object inflates it with bounded reads.
        return Ok(Layout::Part10 { meta_start: start });
    }
    let encoding = Encoding {
        explicit: ts != TS_IMPLICIT_LE,
        big_endian: ts == TS_EXPLICIT_BE,
    };
    if data_start >= bytes.len() {
        return Err(incomplete(format!(
            "the file ends after the file meta group ({} bytes), before the data set",
            bytes.len()
        )));
    }
    let mut shape = ImageShape::default();
    let mut walker = Walker { bytes, encoding };
    walker.walk(data_start, bytes.len(), 0, Some(&mut shape))?;
    let image = (shape.rows.is_some() && shape.columns.is_some())
        || meta.sop_class.is_some_and(is_image_storage);
    if image && !shape.pixel_data {
        // A file cut exactly between two elements looks complete but for this.
        return Err(incomplete(format!(
            "an image (SOP class {}) without PixelData (7FE0,0010): the file ends at {} \
             bytes, apparently before its pixel data",
            meta.sop_class.unwrap_or("unknown"),
            bytes.len()
        )));
    }
    Ok(Layout::Part10 { meta_start: start })
}

/// The two header values a volume's timeline needs (issue 14), read without parsing
/// the file: `AcquisitionTime` (0008,0032) as seconds since midnight on the scanner's
/// clock and `RepetitionTime` (0018,0080) in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HeaderTimes {
    pub acquisition_time_s: Option<f64>,
    pub repetition_time_s: Option<f64>,
}

/// Reads [`HeaderTimes`] from the top-level elements before (0018,0081): a walk over a
/// few dozen element headers at the start of the file, cheap enough for every TR. Any
/// structural problem (or a deflated data set) gives `None` values rather than an
/// error: the timeline then lacks the acquisition time, the volume is unaffected.
pub fn header_times(bytes: &[u8]) -> HeaderTimes {
    const ACQUISITION_TIME: u32 = 0x0008_0032;
    const REPETITION_TIME: u32 = 0x0018_0080;
    let mut times = HeaderTimes::default();
    let (start, encoding) = match magic_offset(bytes) {
        Ok(None) => (
            0,
            Encoding {
                explicit: false,
                big_endian: false,
            },
        ),
        Ok(Some(magic)) => match scan_meta(bytes, magic + 4) {
            Ok(meta) if meta.transfer_syntax != TS_DEFLATED => (
                meta.data_start,
                Encoding {
                    explicit: meta.transfer_syntax != TS_IMPLICIT_LE,
                    big_endian: meta.transfer_syntax == TS_EXPLICIT_BE,
                },
            ),
            _ => return times,
        },
        Err(_) => return times,
    };
    let mut walker = Walker { bytes, encoding };
    let mut pos = start;
    while pos < bytes.len() {
        let Ok(header) = walker.header(pos, bytes.len()) else {
            break;
        };
        let value_start = pos + header.size;
        if header.tag > REPETITION_TIME {
            break;
        }
        let next = if header.length == UNDEFINED {
            walker.undefined_value(&header, value_start, bytes.len(), 0)
        } else {
            walker.value_end(&header, value_start, bytes.len())
        };
        let Ok(value_end) = next else {
            break;
        };
        let text = || {
            std::str::from_utf8(&bytes[value_start..value_end])
                .ok()
                .map(|t| t.trim_matches(['\0', ' ']))
        };
        match header.tag {
            ACQUISITION_TIME => {
                times.acquisition_time_s = text().and_then(crate::mosaic::seconds_since_midnight)
            }
            REPETITION_TIME => {
                times.repetition_time_s = text()
                    .and_then(|t| t.parse::<f64>().ok())
                    .filter(|ms| ms.is_finite() && *ms > 0.0)
                    .map(|ms| ms / 1000.0)
            }
            _ => {}
        }
        pos = value_end;
    }
    times
}

/// True when the bytes are DICOM by content: "DICM" at byte 128 or 0, or a headerless
/// data set (see [`starts_headerless`]). Cheap (a few bytes looked at); a file that
/// passes is DICOM to every caller, whether or not it then parses.
pub fn is_dicom_content(bytes: &[u8]) -> bool {
    bytes.get(128..132) == Some(b"DICM") || bytes.starts_with(b"DICM") || starts_headerless(bytes)
}

/// A headerless data set starts with an element of the identifying group 0008 in
/// implicit VR little endian (its group length, SpecificCharacterSet or ImageType:
/// every image has group 0008 and it sorts first), whose length fits in the file. This
/// is the test dcm2niix applies to files without "DICM".
pub fn starts_headerless(bytes: &[u8]) -> bool {
    let Some(head) = bytes.get(..8) else {
        return false;
    };
    let group = u16::from_le_bytes([head[0], head[1]]);
    let element = u16::from_le_bytes([head[2], head[3]]);
    let length = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    group == 0x0008 && element < 0x0100 && (length as usize) <= bytes.len() - 8
}

fn incomplete(message: String) -> ImagingError {
    ImagingError::Incomplete(message)
}

fn invalid(message: String) -> ImagingError {
    ImagingError::Invalid(message)
}

fn tag_text(tag: u32) -> String {
    format!("({:04X},{:04X})", tag >> 16, tag & 0xFFFF)
}

/// Finds "DICM" at 128 (standard preamble) or at 0 (preamble stripped); `None` for a
/// headerless data set.
fn magic_offset(bytes: &[u8]) -> Result<Option<usize>> {
    if bytes.get(128..132) == Some(b"DICM") {
        return Ok(Some(128));
    }
    if bytes.starts_with(b"DICM") {
        return Ok(Some(0));
    }
    if starts_headerless(bytes) {
        return Ok(None);
    }
    if bytes.len() < 132 {
        return Err(incomplete(format!(
            "the file is {} bytes long, shorter than the 128-byte preamble and \"DICM\" magic",
            bytes.len()
        )));
    }
    Err(invalid(
        "no \"DICM\" magic at byte 128 (nor at 0) and no headerless data set (group 0008 \
         first): not a DICOM file"
            .to_string(),
    ))
}

/// Storage SOP classes whose instances always carry pixel data (MR, enhanced MR, CT,
/// PET, secondary capture ...); spectroscopy, reports and the like are not listed.
fn is_image_storage(sop_class: &str) -> bool {
    const IMAGE_CLASSES: &[&str] = &[
        "1.2.840.10008.5.1.4.1.1.1",
        "1.2.840.10008.5.1.4.1.1.2",
        "1.2.840.10008.5.1.4.1.1.2.1",
        "1.2.840.10008.5.1.4.1.1.4",
        "1.2.840.10008.5.1.4.1.1.4.1",
        "1.2.840.10008.5.1.4.1.1.4.4",
        "1.2.840.10008.5.1.4.1.1.7",
        "1.2.840.10008.5.1.4.1.1.20",
        "1.2.840.10008.5.1.4.1.1.128",
        "1.2.840.10008.5.1.4.1.1.130",
    ];
    IMAGE_CLASSES.contains(&sop_class)
}

/// What the file meta group tells the walk.
struct Meta<'a> {
    data_start: usize,
    transfer_syntax: &'a str,
    sop_class: Option<&'a str>,
}

fn uid_value<'a>(raw: &'a [u8], what: &str) -> Result<&'a str> {
    std::str::from_utf8(raw)
        .map(|text| text.trim_end_matches(['\0', ' ']))
        .map_err(|_| invalid(format!("{what} is not ASCII")))
}

/// Walks the file meta group (always explicit VR little endian).
fn scan_meta(bytes: &[u8], mut pos: usize) -> Result<Meta<'_>> {
    let enc = Encoding {
        explicit: true,
        big_endian: false,
    };
    let walker = Walker {
        bytes,
        encoding: enc,
    };
    let mut ts: Option<&str> = None;
    let mut sop_class: Option<&str> = None;
    loop {
        // The meta group ends at the first element of another group (or at the end).
        match bytes.get(pos..pos + 2) {
            Some(group) if group == [0x02, 0x00] => {}
            Some(_) => break,
            None if pos >= bytes.len() => break,
            None => {
                return Err(incomplete(
                    "the file ends inside the file meta group".into(),
                ))
            }
        }
        let header = walker.header(pos, bytes.len())?;
        let value_start = pos + header.size;
        let value_end = walker.value_end(&header, value_start, bytes.len())?;
        let raw = &bytes[value_start..value_end];
        match header.tag {
            0x0002_0002 => sop_class = Some(uid_value(raw, "MediaStorageSOPClassUID")?),
            0x0002_0010 => ts = Some(uid_value(raw, "TransferSyntaxUID (0002,0010)")?),
            _ => {}
        }
        pos = value_end;
    }
    match ts {
        Some(transfer_syntax) => Ok(Meta {
            data_start: pos,
            transfer_syntax,
            sop_class,
        }),
        None if pos >= bytes.len() => Err(incomplete(
            "the file ends inside the file meta group, before TransferSyntaxUID (0002,0010)".into(),
        )),
        None => Err(invalid(
            "the file meta group has no TransferSyntaxUID (0002,0010)".into(),
        )),
    }
}

/// One element header as read from the stream.
#[derive(Debug)]
struct Header {
    tag: u32,
    vr: [u8; 2],
    length: u32,
    /// Header size in bytes (8 or 12).
    size: usize,
}

struct Walker<'a> {
    bytes: &'a [u8],
    encoding: Encoding,
}

impl Walker<'_> {
    fn u16_at(&self, pos: usize) -> Option<u16> {
        let b: [u8; 2] = self.bytes.get(pos..pos + 2)?.try_into().ok()?;
        Some(if self.encoding.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn u32_at(&self, pos: usize) -> Option<u32> {
        let b: [u8; 4] = self.bytes.get(pos..pos + 4)?.try_into().ok()?;
        Some(if self.encoding.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    /// Reads the header at `pos`; `end` bounds the enclosing container.
    fn header(&self, pos: usize, end: usize) -> Result<Header> {
        let short = |what: &str| {
            let missing = (pos + 8).saturating_sub(end);
            let message =
                format!("the element header at byte {pos} ({what}) needs {missing} more byte(s)");
            if end == self.bytes.len() {
                incomplete(message)
            } else {
                invalid(format!("{message} inside its enclosing item"))
            }
        };
        if pos + 8 > end {
            return Err(short("tag and length"));
        }
        let group = self.u16_at(pos).ok_or_else(|| short("group"))?;
        let element = self.u16_at(pos + 2).ok_or_else(|| short("element"))?;
        let tag = (u32::from(group) << 16) | u32::from(element);
        // Item and delimiter headers have no VR in every transfer syntax.
        if group == 0xFFFE || !self.encoding.explicit {
            let length = self.u32_at(pos + 4).ok_or_else(|| short("length"))?;
            return Ok(Header {
                tag,
                vr: *b"  ",
                length,
                size: 8,
            });
        }
        let vr = [self.bytes[pos + 4], self.bytes[pos + 5]];
        if !vr.iter().all(u8::is_ascii_uppercase) {
            return Err(invalid(format!(
                "element {} at byte {pos} has no valid VR (bytes {:02X} {:02X})",
                tag_text(tag),
                vr[0],
                vr[1]
            )));
        }
        // A VR outside PS3.5 Table 6.2-1 has no agreed header form (the parser reads it
        // with a 4-byte length, this walk would not), so its length cannot be checked.
        if !has_long_length(vr) && !has_short_length(vr) {
            return Err(invalid(format!(
                "element {} at byte {pos} has an unknown VR {}{}",
                tag_text(tag),
                char::from(vr[0]),
                char::from(vr[1])
            )));
        }
        if has_long_length(vr) {
            if pos + 12 > end {
                let message = format!(
                    "the header of element {} at byte {pos} needs {} more byte(s)",
                    tag_text(tag),
                    pos + 12 - end
                );
                return Err(if end == self.bytes.len() {
                    incomplete(message)
                } else {
                    invalid(message)
                });
            }
            let length = self.u32_at(pos + 8).ok_or_else(|| short("length"))?;
            Ok(Header {
                tag,
                vr,
                length,
                size: 12,
            })
        } else {
            let length = self.u16_at(pos + 6).ok_or_else(|| short("length"))?;
            Ok(Header {
                tag,
                vr,
                length: u32::from(length),
                size: 8,
            })
        }
    }

    /// The end of a defined-length value, checked against the container end.
    fn value_end(&self, header: &Header, value_start: usize, end: usize) -> Result<usize> {
        let value_end = value_start.saturating_add(header.length as usize);
        if value_end <= end {
            return Ok(value_end);
        }
        let missing = value_end - end;
        let message = format!(
            "element {} declares {} byte(s) at byte {value_start} but {missing} byte(s) are missing",
            tag_text(header.tag),
            header.length
        );
        if end == self.bytes.len() {
            Err(incomplete(message))
        } else {
            Err(invalid(format!("{message} from its enclosing item")))
        }
    }

    /// Walks elements in `pos..end` until `end` or a delimiter; returns the offset after
    /// the last byte consumed (after the delimiter, if one ended the walk).
    fn walk(
        &mut self,
        mut pos: usize,
        end: usize,
        depth: usize,
        mut shape: Option<&mut ImageShape>,
    ) -> Result<usize> {
        if depth > MAX_DEPTH {
            return Err(invalid(format!(
                "sequences nested deeper than {MAX_DEPTH} levels at byte {pos}"
            )));
        }
        while pos < end {
            let header = self.header(pos, end)?;
            let value_start = pos + header.size;
            if header.tag == ITEM_END || header.tag == SEQ_END {
                // The end of an undefined-length item or sequence: the caller resumes.
                return Ok(value_start);
            }
            if header.length == UNDEFINED {
                // An undefined-length UN holds an implicit VR little endian sequence.
                let saved = self.encoding;
                if header.vr == *b"UN" {
                    self.encoding = Encoding {
                        explicit: false,
                        big_endian: false,
                    };
                }
                let walked = self.undefined_value(&header, value_start, end, depth);
                self.encoding = saved;
                pos = walked?;
                if let Some(s) = shape.as_deref_mut() {
                    s.pixel_data |= header.tag == PIXEL_DATA;
                }
                continue;
            }
            let value_end = self.value_end(&header, value_start, end)?;
            if header.vr == *b"SQ" || self.looks_like_sequence(&header, value_start) {
                self.items(value_start, value_end, depth + 1)?;
            }
            if let Some(s) = shape.as_deref_mut() {
                self.record_shape(s, &header, value_start)?;
            }
            pos = value_end;
        }
        Ok(pos)
    }

    /// In implicit VR a sequence has no VR; a value that starts with an item tag is one.
    fn looks_like_sequence(&self, header: &Header, value_start: usize) -> bool {
        !self.encoding.explicit
            && header.length >= 8
            && header.tag != PIXEL_DATA
            && self.u32_at(value_start).map(|t| t.rotate_left(16)) == Some(ITEM)
    }

    /// Walks an undefined-length value: a sequence of items, or encapsulated pixel data
    /// (fragments); returns the offset after its sequence delimiter.
    fn undefined_value(
        &mut self,
        header: &Header,
        value_start: usize,
        end: usize,
        depth: usize,
    ) -> Result<usize> {
        let known = header.vr == *b"SQ" || header.vr == *b"UN" || header.vr == *b"  ";
        let is_pixels = header.tag == PIXEL_DATA;
        if !known && !is_pixels {
            return Err(invalid(format!(
                "element {} has an undefined length but VR {}",
                tag_text(header.tag),
                String::from_utf8_lossy(&header.vr)
            )));
        }
        let mut pos = value_start;
        loop {
            if pos >= end {
                return Err(self.missing_delimiter(header.tag, end));
            }
            let item = self.header(pos, end)?;
            let item_start = pos + item.size;
            match item.tag {
                SEQ_END => return Ok(item_start),
                ITEM if item.length == UNDEFINED && !is_pixels => {
                    pos = self.walk(item_start, end, depth + 1, None)?;
                }
                ITEM => {
                    let item_end = self.value_end(&item, item_start, end)?;
                    if !is_pixels {
                        self.walk(item_start, item_end, depth + 1, None)?;
                    }
                    pos = item_end;
                }
                other => {
                    return Err(invalid(format!(
                        "expected an item (FFFE,E000) in {} at byte {pos}, found {}",
                        tag_text(header.tag),
                        tag_text(other)
                    )))
                }
            }
        }
    }

    fn missing_delimiter(&self, tag: u32, end: usize) -> ImagingError {
        let message = format!(
            "undefined-length element {} has no sequence delimiter before byte {end} \
             (at least 8 more bytes needed)",
            tag_text(tag)
        );
        if end == self.bytes.len() {
            incomplete(message)
        } else {
            invalid(message)
        }
    }

    /// Walks the items of a defined-length sequence in `pos..end`.
    fn items(&mut self, mut pos: usize, end: usize, depth: usize) -> Result<()> {
        while pos < end {
            let item = self.header(pos, end)?;
            let item_start = pos + item.size;
            match item.tag {
                ITEM if item.length == UNDEFINED => {
                    pos = self.walk(item_start, end, depth + 1, None)?;
                }
                ITEM => {
                    let item_end = self.value_end(&item, item_start, end)?;
                    self.walk(item_start, item_end, depth + 1, None)?;
                    pos = item_end;
                }
                SEQ_END => pos = item_start,
                other => {
                    return Err(invalid(format!(
                        "expected an item (FFFE,E000) in a sequence at byte {pos}, found {}",
                        tag_text(other)
                    )))
                }
            }
        }
        Ok(())
    }

    /// Records image attributes and checks native pixel data against them.
    fn record_shape(&self, s: &mut ImageShape, header: &Header, value_start: usize) -> Result<()> {
        let us = || {
            self.u16_at(value_start)
                .map(u64::from)
                .filter(|_| header.length >= 2)
        };
        match header.tag {
            // Float and double float pixel data have no size rule here; they count as present.
            0x7FE0_0008 | 0x7FE0_0009 => s.pixel_data = true,
            0x0028_0002 => s.samples = us(),
            0x0028_0010 => s.rows = us(),
            0x0028_0011 => s.columns = us(),
            0x0028_0100 => s.bits = us(),
            0x0028_0008 => {
                let raw = &self.bytes[value_start..value_start + header.length as usize];
                s.frames = std::str::from_utf8(raw)
                    .ok()
                    .and_then(|t| t.trim_matches(['\0', ' ']).parse::<u64>().ok());
            }
            PIXEL_DATA => {
                s.pixel_data = true;
                let (Some(rows), Some(cols), Some(bits)) = (s.rows, s.columns, s.bits) else {
                    return Ok(());
                };
                let frames = s.frames.unwrap_or(1).max(1);
                let samples = s.samples.unwrap_or(1).max(1);
                let expected = rows
                    .saturating_mul(cols)
                    .saturating_mul(frames)
                    .saturating_mul(samples)
                    .saturating_mul(bits)
                    .div_ceil(8);
                let present = u64::from(header.length);
                if present < expected {
                    return Err(incomplete(format!(
                        "PixelData (7FE0,0010) holds {present} bytes but {rows}x{cols}x{frames} \
                         pixels of {bits} bits need {expected} ({} missing)",
                        expected - present
                    )));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// VRs whose explicit-VR header has a 2-byte length (PS3.5 Table 7.1-2).
fn has_short_length(vr: [u8; 2]) -> bool {
    matches!(
        &vr,
        b"AE"
            | b"AS"
            | b"AT"
            | b"CS"
            | b"DA"
            | b"DS"
            | b"DT"
            | b"FD"
            | b"FL"
            | b"IS"
            | b"LO"
            | b"LT"
            | b"PN"
            | b"SH"
            | b"SL"
            | b"SS"
            | b"ST"
            | b"TM"
            | b"UI"
            | b"UL"
            | b"US"
    )
}

/// VRs whose explicit-VR header has 2 reserved bytes and a 4-byte length.
fn has_long_length(vr: [u8; 2]) -> bool {
    matches!(
        &vr,
        b"OB"
            | b"OD"
            | b"OF"
            | b"OL"
            | b"OV"
            | b"OW"
            | b"SQ"
            | b"SV"
            | b"UC"
            | b"UN"
            | b"UR"
            | b"UT"
            | b"UV"
    )
}
