//! Pixel data of one DICOM file as stored integers (no rescale applied).
//!
//! Only the BitsStored bits ending at HighBit are pixel data (DICOM PS3.5 section 8.1.1):
//! the bits above are masked off and signed samples sign-extended from BitsStored.
//! Unsigned samples narrower than 16 bits come back as I16, the type dcm2niix writes
//! for them (every such value fits).
//!
//! Native (uncompressed) pixel data is taken straight from the parsed element, so the
//! real-time path (one mosaic per TR) pays for one conversion pass at most. Encapsulated
//! transfer syntaxes (RLE, JPEG lossless, JPEG 2000) go through dicom-pixeldata; JPEG-LS
//! goes through the pure-Rust `jpegls` crate (pure_jpegls, ITU-T T.87), so building needs
//! no cmake or C++ compiler for CharLS.

use dicom_core::value::DicomValueType;
use dicom_core::value::{PrimitiveValue, Value};
use dicom_dictionary_std::tags;
use dicom_pixeldata::PixelDecoder;

use crate::dicom::DicomFile;
use crate::error::{ImagingError, Result};

/// Stored sample values of all frames, frame after frame, each row-major.
#[derive(Debug, Clone, PartialEq)]
pub enum FrameData {
    /// PixelRepresentation 1 (two's complement), or unsigned with BitsStored < 16.
    I16(Vec<i16>),
    /// PixelRepresentation 0 with all 16 bits stored; 8-bit data is widened to this.
    U16(Vec<u16>),
}

impl FrameData {
    pub fn len(&self) -> usize {
        match self {
            FrameData::I16(v) => v.len(),
            FrameData::U16(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The decoded frames of one file and the rescale that turns them into real values.
#[derive(Debug, Clone, PartialEq)]
pub struct Frames {
    pub rows: usize,
    pub cols: usize,
    /// NumberOfFrames (1 when absent).
    pub frames: usize,
    /// Exactly `rows * cols * frames` samples.
    pub data: FrameData,
    pub rescale_slope: Option<f64>,
    pub rescale_intercept: Option<f64>,
}

impl Frames {
    /// Samples in one frame.
    pub fn frame_len(&self) -> usize {
        self.rows * self.cols
    }
}

/// Decodes every frame of `file` to stored values; grey-scale (one sample per pixel),
/// 8 or 16 bits allocated.
pub fn decode_frames(file: &DicomFile) -> Result<Frames> {
    let rows = dim(file, tags::ROWS, "Rows")?;
    let cols = dim(file, tags::COLUMNS, "Columns")?;
    let frames = match file.i64(tags::NUMBER_OF_FRAMES) {
        None => 1,
        Some(n) if n >= 1 => n as usize,
        Some(n) => {
            return Err(ImagingError::Invalid(format!("NumberOfFrames is {n}")));
        }
    };
    let samples = file.i64(tags::SAMPLES_PER_PIXEL).unwrap_or(1);
    if samples != 1 {
        return Err(ImagingError::Unsupported(format!(
            "SamplesPerPixel {samples} (only grey-scale images are converted)"
        )));
    }
    let bits = file.require_i64(tags::BITS_ALLOCATED)?;
    if bits != 8 && bits != 16 {
        return Err(ImagingError::Unsupported(format!(
            "BitsAllocated {bits} (only 8 and 16 are converted)"
        )));
    }
    let signed = file.i64(tags::PIXEL_REPRESENTATION) == Some(1);
    let expected = rows
        .checked_mul(cols)
        .and_then(|n| n.checked_mul(frames))
        .ok_or_else(|| ImagingError::Invalid(format!("{rows}x{cols}x{frames} pixels overflow")))?;

    let element = file
        .dataset()
        .element_opt(tags::PIXEL_DATA)
        .ok()
        .flatten()
        .ok_or(ImagingError::MissingTag {
            tag: tags::PIXEL_DATA,
            name: "PixelData",
        })?;
    let cell = StoredBits::of(file, bits)?;
    let data = match element.value() {
        Value::Primitive(p) => native(p, bits, signed, expected)?,
        Value::PixelSequence(seq) if is_jpeg_ls(file.transfer_syntax()) => {
            jpeg_ls(seq.fragments(), rows, cols, frames, bits, signed)?
        }
        Value::PixelSequence(_) => encapsulated(file, bits, signed, expected)?,
        Value::Sequence(_) => {
            return Err(ImagingError::Invalid(
                "PixelData is a sequence of items".into(),
            ))
        }
    };
    let data = match cell {
        Some(cell) => cell.extract(data),
        None => data,
    };
    Ok(Frames {
        rows,
        cols,
        frames,
        data,
        rescale_slope: file.f64(tags::RESCALE_SLOPE),
        rescale_intercept: file.f64(tags::RESCALE_INTERCEPT),
    })
}

/// Where the sample sits in a 16-bit pixel cell when it does not fill it (PS3.5 8.1.1):
/// `bits` bits (BitsStored) ending at HighBit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StoredBits {
    /// HighBit + 1 - BitsStored: bits below the sample.
    shift: u32,
    /// BitsStored, 1..=15.
    bits: u32,
}

impl StoredBits {
    /// `None` when the sample fills the cell (or for 8-bit cells, which are widened
    /// whole); an error naming the attributes when they contradict each other.
    fn of(file: &DicomFile, allocated: i64) -> Result<Option<StoredBits>> {
        let stored = file.i64(tags::BITS_STORED).unwrap_or(allocated);
        let high = file.i64(tags::HIGH_BIT).unwrap_or(stored - 1);
        if allocated != 16 || stored == allocated && high == allocated - 1 {
            return Ok(None);
        }
        if !(1..allocated).contains(&stored) || high < stored - 1 || high >= allocated {
            return Err(ImagingError::Invalid(format!(
                "BitsStored {stored} and HighBit {high} do not fit BitsAllocated {allocated}"
            )));
        }
        Ok(Some(StoredBits {
            shift: (high + 1 - stored) as u32,
            bits: stored as u32,
        }))
    }

    /// The samples of every cell: masked, and sign-extended when they were signed.
    fn extract(self, data: FrameData) -> FrameData {
        let (shift, mask) = (self.shift, (1u16 << self.bits) - 1);
        let pad = 16 - self.bits;
        match data {
            FrameData::I16(v) => FrameData::I16(
                v.into_iter()
                    .map(|x| ((((x as u16 >> shift) & mask) << pad) as i16) >> pad)
                    .collect(),
            ),
            // Fewer than 16 bits: every sample fits an i16.
            FrameData::U16(v) => FrameData::I16(
                v.into_iter()
                    .map(|x| ((x >> shift) & mask) as i16)
                    .collect(),
            ),
        }
    }
}

fn dim(file: &DicomFile, tag: dicom_core::Tag, name: &str) -> Result<usize> {
    match file.require_i64(tag)? {
        n if (1..=65535).contains(&n) => Ok(n as usize),
        n => Err(ImagingError::Invalid(format!("{name} is {n}"))),
    }
}

fn short(got: usize, expected: usize) -> ImagingError {
    ImagingError::Incomplete(format!(
        "PixelData holds {got} samples, the header announces {expected}"
    ))
}

/// Uncompressed pixel data as parsed: OW arrives as host-order u16, OB as bytes.
fn native(p: &PrimitiveValue, bits: i64, signed: bool, expected: usize) -> Result<FrameData> {
    match (p, bits) {
        (PrimitiveValue::U16(v), 16) => {
            let v = v.get(..expected).ok_or_else(|| short(v.len(), expected))?;
            Ok(if signed {
                FrameData::I16(v.iter().map(|&x| x as i16).collect())
            } else {
                FrameData::U16(v.to_vec())
            })
        }
        (PrimitiveValue::I16(v), 16) => {
            let v = v.get(..expected).ok_or_else(|| short(v.len(), expected))?;
            Ok(if signed {
                FrameData::I16(v.to_vec())
            } else {
                FrameData::U16(v.iter().map(|&x| x as u16).collect())
            })
        }
        (PrimitiveValue::U8(v), 16) => from_le_bytes(v, signed, expected),
        (PrimitiveValue::U8(v), 8) => from_bytes8(v, signed, expected),
        (PrimitiveValue::U16(v), 8) => {
            // 8-bit samples read with an OW VR: two samples per word, little-endian.
            let bytes: Vec<u8> = v.iter().flat_map(|w| w.to_le_bytes()).collect();
            from_bytes8(&bytes, signed, expected)
        }
        (other, _) => Err(ImagingError::Unsupported(format!(
            "PixelData of value type {:?} with {bits} bits allocated",
            other.value_type()
        ))),
    }
}

fn from_le_bytes(bytes: &[u8], signed: bool, expected: usize) -> Result<FrameData> {
    let bytes = bytes
        .get(..expected * 2)
        .ok_or_else(|| short(bytes.len() / 2, expected))?;
    let words = bytes.chunks_exact(2).map(|b| [b[0], b[1]]);
    Ok(if signed {
        FrameData::I16(words.map(i16::from_le_bytes).collect())
    } else {
        FrameData::U16(words.map(u16::from_le_bytes).collect())
    })
}

/// 8-bit samples widened; signed bytes keep their sign as I16.
fn from_bytes8(bytes: &[u8], signed: bool, expected: usize) -> Result<FrameData> {
    let bytes = bytes
        .get(..expected)
        .ok_or_else(|| short(bytes.len(), expected))?;
    Ok(if signed {
        FrameData::I16(bytes.iter().map(|&b| i16::from(b as i8)).collect())
    } else {
        FrameData::U16(bytes.iter().map(|&b| u16::from(b)).collect())
    })
}

/// JPEG-LS Lossless (1.2.840.10008.1.2.4.80) and Near-Lossless (.81), PS3.5 A.4.3.
fn is_jpeg_ls(uid: &str) -> bool {
    matches!(
        uid.trim_end_matches(['\0', ' ']),
        "1.2.840.10008.1.2.4.80" | "1.2.840.10008.1.2.4.81"
    )
}

/// JPEG-LS frames, one codestream per frame (PS3.5 A.4: a frame's fragments concatenated;
/// with a single frame every fragment belongs to it). Samples come back as the stored
/// bit patterns, like native data, so signed data is reinterpreted, not sign-extended.
fn jpeg_ls(
    fragments: &[Vec<u8>],
    rows: usize,
    cols: usize,
    frames: usize,
    bits: i64,
    signed: bool,
) -> Result<FrameData> {
    let streams: Vec<std::borrow::Cow<'_, [u8]>> = if frames == 1 {
        vec![fragments.concat().into()]
    } else if fragments.len() == frames {
        fragments.iter().map(|f| f.as_slice().into()).collect()
    } else {
        return Err(ImagingError::Unsupported(format!(
            "JPEG-LS pixel data with {} fragments for {frames} frames",
            fragments.len()
        )));
    };
    let mut samples = Vec::with_capacity(rows * cols * frames);
    for (i, stream) in streams.iter().enumerate() {
        // pure_jpegls trusts some header fields, and its sample arithmetic overflows
        // (a panic with overflow checks on) on streams that break them (found by
        // fuzzing): a panic in the decoder is this file's error, never the caller's.
        let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            jpegls::decode(stream, cols as u32, rows as u32)
        }))
        .map_err(|_| {
            ImagingError::Invalid(format!(
                "JPEG-LS frame {i} does not decode: the decoder failed on malformed data"
            ))
        })?;
        let (frame, _, _) = decoded.map_err(|e| {
            ImagingError::Invalid(format!("JPEG-LS frame {i} does not decode: {e}"))
        })?;
        if frame.len() != rows * cols {
            return Err(short(frame.len(), rows * cols));
        }
        samples.extend_from_slice(&frame);
    }
    Ok(match (signed, bits) {
        // 8-bit signed samples keep their sign when widened, as in `from_bytes8`.
        (true, 8) => FrameData::I16(
            samples
                .into_iter()
                .map(|x| i16::from(x as u8 as i8))
                .collect(),
        ),
        (true, _) => FrameData::I16(samples.into_iter().map(|x| x as i16).collect()),
        (false, _) => FrameData::U16(samples),
    })
}

/// Compressed pixel data through the registered codecs (output in host byte order).
fn encapsulated(file: &DicomFile, bits: i64, signed: bool, expected: usize) -> Result<FrameData> {
    // The codecs are third-party and some index out of bounds on corrupt data (found by
    // fuzzing: RLE segments that decode short), so a panic there becomes Invalid.
    let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        file.object().decode_pixel_data()
    }))
    .map_err(|_| {
        ImagingError::Invalid(format!(
            "pixel data of transfer syntax {} is corrupt (the decoder failed)",
            file.transfer_syntax()
        ))
    })?;
    let decoded = attempt.map_err(|e| {
        let text = e.to_string();
        tracing::debug!(error = %text, "pixel data decoding failed");
        if text.to_ascii_lowercase().contains("unsupported") {
            ImagingError::Unsupported(format!(
                "pixel data of transfer syntax {}: {text}",
                file.transfer_syntax()
            ))
        } else {
            ImagingError::Invalid(format!(
                "pixel data of transfer syntax {} does not decode: {text}",
                file.transfer_syntax()
            ))
        }
    })?;
    let bytes = decoded.data();
    if bits == 8 {
        return from_bytes8(bytes, signed, expected);
    }
    let bytes = bytes
        .get(..expected * 2)
        .ok_or_else(|| short(bytes.len() / 2, expected))?;
    let words = bytes.chunks_exact(2).map(|b| [b[0], b[1]]);
    Ok(if signed {
        FrameData::I16(words.map(i16::from_ne_bytes).collect())
    } else {
        FrameData::U16(words.map(u16::from_ne_bytes).collect())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_above_high_bit_are_masked_and_signed_samples_sign_extended() {
        let twelve = StoredBits { shift: 0, bits: 12 };
        // 0x0F0F pattern garbage above bit 11: 0xF123 holds sample 0x123.
        assert_eq!(
            twelve.extract(FrameData::U16(vec![0xF123, 0x0FFF, 0x1000])),
            FrameData::I16(vec![0x123, 0xFFF, 0])
        );
        // Signed 12-bit: 0x800 is -2048, 0xFFF is -1, whatever lies above bit 11.
        assert_eq!(
            twelve.extract(FrameData::I16(vec![
                0x0800,
                0x0FFF,
                0x07FF,
                0x5001u16 as i16
            ])),
            FrameData::I16(vec![-2048, -1, 2047, 1])
        );
        // HighBit 13 with 12 bits stored: the sample is bits 2..=13.
        let shifted = StoredBits { shift: 2, bits: 12 };
        assert_eq!(
            shifted.extract(FrameData::U16(vec![0b1100_0000_0000_0111])),
            FrameData::I16(vec![0b0000_0000_0001])
        );
    }
}
