//! Reading one DICOM file from memory: typed attribute access and pixel decoding.
//!
//! Everything else in the crate reads DICOM through [`DicomFile`], so robustness rules
//! (incomplete input, bounded allocation) are enforced in one place.

use std::borrow::Cow;
use std::path::Path;

use dicom_core::{DataDictionary, Tag};
use dicom_dictionary_std::StandardDataDictionary;
use dicom_object::file::ReadPreamble;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};
use dicom_transfer_syntax_registry::entries::IMPLICIT_VR_LITTLE_ENDIAN;

use crate::error::{ImagingError, Result};
use crate::prescan::Layout;

/// One parsed DICOM file (file meta group and data set).
#[derive(Debug, Clone)]
pub struct DicomFile {
    obj: DefaultDicomObject,
}

/// Parses a DICOM file from memory: Part 10 (with or without the 128-byte preamble),
/// or a headerless implicit VR little endian data set (see [`Layout::Headerless`]),
/// which gets a file meta group built from its SOPClassUID and SOPInstanceUID.
///
/// A structural pre-scan runs first: a file cut short is [`ImagingError::Incomplete`]
/// (naming the element and the missing byte count), and no declared length can make
/// the parser allocate more than `bytes.len()`.
pub fn parse(bytes: &[u8]) -> Result<DicomFile> {
    let obj = match crate::prescan::prescan(bytes)? {
        Layout::Part10 { meta_start } => OpenFileOptions::new()
            .read_preamble(ReadPreamble::Never)
            .from_reader(&bytes[meta_start..])
            .map_err(|e| classify_read_error(&error_chain(&e)))?,
        Layout::Headerless => {
            let ts = IMPLICIT_VR_LITTLE_ENDIAN.erased();
            InMemDicomObject::read_dataset_with_ts(bytes, &ts)
                .map_err(|e| classify_read_error(&error_chain(&e)))?
                .with_meta(FileMetaTableBuilder::new().transfer_syntax(ts.uid()))
                .map_err(|e| {
                    ImagingError::Invalid(format!(
                        "a headerless DICOM data set needs SOPClassUID and SOPInstanceUID: {e}"
                    ))
                })?
        }
    };
    Ok(DicomFile { obj })
}

/// Whether a file must be treated as DICOM: by its name (`.dcm`, `.ima`, `.dicom`, any
/// case) or by its content ([`crate::prescan::is_dicom_content`]: "DICM" at byte 128 or
/// 0, or a headerless data set). The one test every part of rtcloud-rs applies before
/// a file leaves the console; a file it names DICOM that cannot be parsed is refused,
/// never sent as stored.
pub fn is_dicom(name: &Path, bytes: &[u8]) -> bool {
    let by_name = name.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        ["dcm", "ima", "dicom"]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
    });
    by_name || crate::prescan::is_dicom_content(bytes)
}

/// Maps a dicom-object read error to Incomplete (ran out of bytes) or Invalid.
fn classify_read_error(message: &str) -> ImagingError {
    let lower = message.to_ascii_lowercase();
    if lower.contains("unexpected end")
        || lower.contains("eof")
        || lower.contains("fill whole buffer")
    {
        ImagingError::Incomplete(message.to_string())
    } else {
        ImagingError::Invalid(message.to_string())
    }
}

/// An error with all its sources, so that an end of input deep in the parser (the
/// truncated-file case) is visible to `classify_read_error`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// The dictionary name of a tag, for error messages.
pub fn tag_name(tag: Tag) -> &'static str {
    StandardDataDictionary
        .by_tag(tag)
        .map(|entry| entry.alias)
        .unwrap_or("(private or unknown)")
}

impl DicomFile {
    /// The underlying dicom-object value, for code that needs the whole data set.
    pub fn object(&self) -> &DefaultDicomObject {
        &self.obj
    }

    /// The underlying dicom-object value, owned (de-identification edits it in place).
    pub fn into_object(self) -> DefaultDicomObject {
        self.obj
    }

    /// The root data set.
    pub fn dataset(&self) -> &InMemDicomObject {
        &self.obj
    }

    pub fn transfer_syntax(&self) -> &str {
        self.obj.meta().transfer_syntax()
    }

    /// A string attribute, trimmed of DICOM padding; `None` when absent or empty.
    pub fn str(&self, tag: Tag) -> Option<Cow<'_, str>> {
        dataset_str(&self.obj, tag)
    }

    /// The first value of a numeric (or numeric-string) attribute.
    pub fn f64(&self, tag: Tag) -> Option<f64> {
        dataset_f64(&self.obj, tag)
    }

    /// All values of a numeric (or numeric-string) attribute.
    pub fn f64s(&self, tag: Tag) -> Option<Vec<f64>> {
        dataset_f64s(&self.obj, tag)
    }

    /// The first value of an integer (or integer-string) attribute.
    pub fn i64(&self, tag: Tag) -> Option<i64> {
        dataset_i64(&self.obj, tag)
    }

    /// The raw bytes of an attribute (e.g. a private OB header).
    pub fn bytes(&self, tag: Tag) -> Option<Cow<'_, [u8]>> {
        let element = self.obj.element_opt(tag).ok().flatten()?;
        element.to_bytes().ok()
    }

    /// Like [`DicomFile::f64s`] but an error naming the attribute when it is absent.
    pub fn require_f64s(&self, tag: Tag) -> Result<Vec<f64>> {
        self.f64s(tag).ok_or(ImagingError::MissingTag {
            tag,
            name: tag_name(tag),
        })
    }

    /// Like [`DicomFile::i64`] but an error naming the attribute when it is absent.
    pub fn require_i64(&self, tag: Tag) -> Result<i64> {
        self.i64(tag).ok_or(ImagingError::MissingTag {
            tag,
            name: tag_name(tag),
        })
    }
}

/// String access on any data set (root or a sequence item).
pub fn dataset_str(ds: &InMemDicomObject, tag: Tag) -> Option<Cow<'_, str>> {
    let element = ds.element_opt(tag).ok().flatten()?;
    let text = element.to_str().ok()?;
    let trimmed = text.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    if trimmed.is_empty() {
        None
    } else if trimmed.len() == text.len() {
        Some(text)
    } else {
        Some(Cow::Owned(trimmed.to_string()))
    }
}

/// First numeric value on any data set.
pub fn dataset_f64(ds: &InMemDicomObject, tag: Tag) -> Option<f64> {
    dataset_f64s(ds, tag)?.first().copied()
}

/// All numeric values on any data set.
pub fn dataset_f64s(ds: &InMemDicomObject, tag: Tag) -> Option<Vec<f64>> {
    let element = ds.element_opt(tag).ok().flatten()?;
    let values = element.to_multi_float64().ok()?;
    if values.is_empty() {
        None
    } else {
        Some(values)
    }
}

/// First integer value on any data set.
pub fn dataset_i64(ds: &InMemDicomObject, tag: Tag) -> Option<i64> {
    let element = ds.element_opt(tag).ok().flatten()?;
    element.to_int::<i64>().ok()
}
