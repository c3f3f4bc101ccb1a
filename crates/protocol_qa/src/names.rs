//! Which series a scanner file belongs to, from its path alone (no parse).
//!
//! The Siemens console's real-time export names each file `AAA_SSSSSS_IIIIII.dcm`
//! (AAA: the export's session counter, SSSSSS: series number, IIIIII: instance) inside a
//! folder per session; other exports (e.g. `IM-0001-0001.dcm`) are a folder per series.
//! So a series is the folder plus, for Siemens names, the session counter and series
//! number, and a new folder or session counter is a new session.

use std::path::Path;

/// A Siemens real-time export name, `AAA_SSSSSS_IIIIII.dcm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiemensName {
    pub session: u32,
    pub series: u32,
    pub instance: u32,
}

/// Parses `AAA_SSSSSS_IIIIII.dcm` (digits only, `.dcm` in any case); `None` otherwise.
pub fn siemens_name(file_name: &str) -> Option<SiemensName> {
    let len = file_name.len();
    let cut = len.checked_sub(4)?;
    // `get`, not indexing: a name ending in a multi-byte character has no boundary there.
    let stem = file_name.get(..cut).filter(|_| {
        file_name
            .get(cut..)
            .is_some_and(|e| e.eq_ignore_ascii_case(".dcm"))
    })?;
    let mut parts = stem.split('_');
    let mut number = |digits: usize| {
        let part = parts.next()?;
        (part.len() == digits && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse().ok())?
    };
    let name = SiemensName {
        session: number(3)?,
        series: number(6)?,
        instance: number(6)?,
    };
    parts.next().is_none().then_some(name)
}

/// The series of a file: `folder` for a folder-per-series export, `folder/AAA_SSSSSS` for
/// Siemens names. Files of one series give the same text; the order within a series is
/// the instance number (Siemens) or the file name.
pub fn series_id(path: &Path) -> String {
    folder_and(path, |s| format!("/{:03}_{:06}", s.session, s.series))
}

/// The session a file belongs to: its folder plus, for Siemens names, the session counter.
pub fn session_id(path: &Path) -> String {
    folder_and(path, |s| format!("/{:03}", s.session))
}

/// The file's folder, followed by `siemens` of its name when it is a Siemens one.
fn folder_and(path: &Path, siemens: impl Fn(SiemensName) -> String) -> String {
    let folder = path
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match siemens_name(&name) {
        Some(s) => folder + &siemens(s),
        None => folder,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siemens_names_give_series_and_instance() {
        let n = siemens_name("001_000013_000005.dcm").expect("siemens name");
        assert_eq!((n.session, n.series, n.instance), (1, 13, 5));
        assert!(siemens_name("001_000013_000005.DCM").is_some());
        for bad in [
            "IM-0001-0001.dcm",
            "001_13_5.dcm",
            "001_000013_000005.nii",
            "01_000013_000005.dcm",
            "001_000013_000005_1.dcm",
            "é.dcm",
            ".dcm",
            "€€",
            "x€",
        ] {
            assert_eq!(siemens_name(bad), None, "{bad}");
        }
        let a = series_id(Path::new("/s/20261201/001_000013_000005.dcm"));
        assert_eq!(a, series_id(Path::new("/s/20261201/001_000013_000001.dcm")));
        assert_ne!(a, series_id(Path::new("/s/20261201/001_000014_000001.dcm")));
        assert_eq!(series_id(Path::new("/d/run1/IM-0001-0002.dcm")), "/d/run1");
        assert_ne!(
            session_id(Path::new("/s/a/001_000001_000001.dcm")),
            session_id(Path::new("/s/a/002_000001_000001.dcm"))
        );
    }
}
