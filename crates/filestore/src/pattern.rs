//! RT-Cloud style file-name patterns with one volume-index field, e.g.
//! `001_000013_{TR:06d}.dcm` or `vol_{TR}.nii`.
//!
//! Other fields (`{SUBJ}`, `{RUN}` ...) must already be substituted by the caller: a
//! pattern with any other field left is an error. A pattern is a file name, never a
//! path, so it cannot point outside the folder it is used in.

use crate::error::{FilestoreError, Result};

/// A file name with one `{TR}` field (optionally `{TR:0Nd}` or `{TR:d}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePattern {
    text: String,
    prefix: String,
    suffix: String,
    /// Zero-padded width, 0 for none.
    width: usize,
}

impl FilePattern {
    /// Parses a pattern; the field name is `TR` (case-insensitive).
    pub fn new(pattern: &str) -> Result<Self> {
        let bad = |reason: &str| FilestoreError::BadPattern {
            pattern: pattern.to_string(),
            reason: reason.to_string(),
        };
        if pattern.contains(['/', '\\']) || pattern == "." || pattern == ".." {
            return Err(bad(
                "it must be a file name without folders; pass the folder separately",
            ));
        }
        let open = pattern
            .find('{')
            .ok_or_else(|| bad("it has no {TR} field for the volume index"))?;
        let close = pattern[open..]
            .find('}')
            .map(|i| open + i)
            .ok_or_else(|| bad("a '{' is not closed"))?;
        let (prefix, field, suffix) = (
            &pattern[..open],
            &pattern[open + 1..close],
            &pattern[close + 1..],
        );
        if suffix.contains(['{', '}']) || prefix.contains('}') {
            return Err(bad(
                "only one field, {TR}, may be left; substitute the others (subject, run ...) first",
            ));
        }
        let (name, spec) = field.split_once(':').unwrap_or((field, ""));
        if !name.eq_ignore_ascii_case("TR") {
            return Err(bad(&format!(
                "field {{{name}}} is not substituted; only {{TR}} may be left"
            )));
        }
        let width = parse_spec(spec).ok_or_else(|| {
            bad(&format!(
                "format {spec:?} is not supported; use {{TR}}, {{TR:d}} or {{TR:06d}}"
            ))
        })?;
        if prefix.is_empty() && suffix.is_empty() && width == 0 {
            // Still valid (names "0", "1", ...), but almost certainly a mistake worth a hint.
            tracing::warn!(pattern, "file pattern is only the index");
        }
        Ok(Self {
            text: pattern.to_string(),
            prefix: prefix.to_string(),
            suffix: suffix.to_string(),
            width,
        })
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The file name of volume `index`.
    pub fn name_for(&self, index: u32) -> String {
        format!(
            "{}{:0width$}{}",
            self.prefix,
            index,
            self.suffix,
            width = self.width
        )
    }

    /// The index a file name stands for, if it matches the pattern exactly (in the
    /// canonical spelling: `name_for(index_of(n)) == n`).
    pub fn index_of(&self, name: &str) -> Option<u32> {
        let digits = name
            .strip_prefix(self.prefix.as_str())?
            .strip_suffix(self.suffix.as_str())?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let index: u32 = digits.parse().ok()?;
        (self.name_for(index) == name).then_some(index)
    }
}

impl std::fmt::Display for FilePattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// "" or "d" -> 0; "06d" / "6d" with a zero flag -> 6. Space padding is refused.
fn parse_spec(spec: &str) -> Option<usize> {
    if spec.is_empty() || spec == "d" {
        return Some(0);
    }
    let digits = spec.strip_suffix('d')?.strip_prefix('0')?;
    if digits.is_empty() {
        return Some(0);
    }
    let width: usize = digits.parse().ok()?;
    (width <= 20).then_some(width)
}
