//! RT-Cloud style file patterns.

use filestore::{FilePattern, FilestoreError};

#[test]
fn zero_padded_field() {
    let p = FilePattern::new("001_000013_{TR:06d}.dcm").expect("pattern");
    assert_eq!(p.name_for(5), "001_000013_000005.dcm");
    assert_eq!(p.name_for(1_234_567), "001_000013_1234567.dcm");
    assert_eq!(p.index_of("001_000013_000005.dcm"), Some(5));
    assert_eq!(p.index_of("001_000013_1234567.dcm"), Some(1_234_567));
    // Not the canonical spelling, other series, other extension.
    assert_eq!(p.index_of("001_000013_0000005.dcm"), None);
    assert_eq!(p.index_of("001_000013_00005.dcm"), None);
    assert_eq!(p.index_of("001_000014_000005.dcm"), None);
    assert_eq!(p.index_of("001_000013_000005.dcm.tmp"), None);
    assert_eq!(p.index_of("001_000013_00000x.dcm"), None);
    assert_eq!(p.to_string(), "001_000013_{TR:06d}.dcm");
}

#[test]
fn plain_field() {
    for text in ["vol_{TR}.nii", "vol_{TR:d}.nii", "vol_{tr}.nii"] {
        let p = FilePattern::new(text).expect(text);
        assert_eq!(p.name_for(7), "vol_7.nii");
        assert_eq!(p.index_of("vol_42.nii"), Some(42));
        assert_eq!(p.index_of("vol_042.nii"), None);
    }
}

#[test]
fn bad_patterns_are_refused() {
    for (text, hint) in [
        ("{SUBJ}_{TR:06d}.dcm", "{SUBJ}"),
        ("vol_{TR:06d}_{RUN}.dcm", "only one field"),
        ("vol.dcm", "no {TR}"),
        ("../x_{TR}.dcm", "without folders"),
        ("sub/x_{TR}.dcm", "without folders"),
        ("x_{TR:6d}.dcm", "not supported"),
        ("x_{TR:06x}.dcm", "not supported"),
        ("x_{TR.dcm", "not closed"),
    ] {
        match FilePattern::new(text) {
            Err(e @ FilestoreError::BadPattern { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(hint), "{text}: {msg}");
            }
            other => panic!("{text} should be refused: {other:?}"),
        }
    }
}
