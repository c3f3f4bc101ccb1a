//! Reading, listing and atomic writing through the rules.

use std::time::{Duration, SystemTime};

use filestore::{AccessRules, FilestoreError};

fn rules_for(dir: &std::path::Path) -> AccessRules {
    AccessRules::new([dir], [".dcm", ".txt"])
        .and_then(|r| r.with_writable_dirs([dir]))
        .expect("rules")
}

#[test]
fn atomic_write_creates_folders_and_leaves_no_temp() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().canonicalize().expect("canonical");
    let rules = rules_for(&root);
    let written = rules
        .write_file_atomic(&root.join("sub/deeper/out.txt"), b"hello", false)
        .expect("write");
    assert_eq!(written, root.join("sub/deeper/out.txt"));
    assert_eq!(std::fs::read(&written).expect("read"), b"hello");
    // Never replaced unless asked; then in place.
    assert!(matches!(
        rules.write_file_atomic(&written, b"again", false),
        Err(FilestoreError::Exists { .. })
    ));
    assert_eq!(std::fs::read(&written).expect("read"), b"hello");
    rules
        .write_file_atomic(&written, b"again", true)
        .expect("overwrite");
    assert_eq!(rules.read_file(&written).expect("read"), b"again");
    let leftovers: Vec<_> = std::fs::read_dir(root.join("sub/deeper"))
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(leftovers, ["out.txt"]);
    // `..` inside a folder that does not exist yet is refused.
    assert!(matches!(
        rules.write_file_atomic(&root.join("new/../../x.txt"), b"x", false),
        Err(FilestoreError::Refused { .. } | FilestoreError::NotWritable { .. })
    ));
    assert!(matches!(
        rules.write_file_atomic(&root.join("sub"), b"x", true),
        Err(FilestoreError::TypeNotAllowed { .. } | FilestoreError::WrongKind { .. })
    ));
}

#[test]
fn list_files_dirs_and_newest() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().canonicalize().expect("canonical");
    let rules = rules_for(&root);
    for d in ["run1", "run2", "other"] {
        std::fs::create_dir(root.join(d)).expect("mkdir");
    }
    let base = SystemTime::now() - Duration::from_secs(100);
    for (i, name) in [
        "run1/a.dcm",
        "run1/b.dcm",
        "run2/c.dcm",
        "run2/d.txt",
        "other/e.dcm",
    ]
    .iter()
    .enumerate()
    {
        let p = root.join(name);
        std::fs::write(&p, name.as_bytes()).expect("write");
        let f = std::fs::File::options().write(true).open(&p).expect("open");
        f.set_modified(base + Duration::from_secs(i as u64 * 10))
            .expect("set mtime");
    }
    let r = root.display();
    assert_eq!(
        rules.list_files(&format!("{r}/run*/*.dcm")).expect("list"),
        [
            root.join("run1/a.dcm"),
            root.join("run1/b.dcm"),
            root.join("run2/c.dcm")
        ]
    );
    assert_eq!(
        rules.list_files(&format!("{r}/**/*.txt")).expect("list"),
        [root.join("run2/d.txt")]
    );
    assert_eq!(
        rules.list_dirs(&format!("{r}/run*")).expect("list"),
        [root.join("run1"), root.join("run2")]
    );
    assert_eq!(
        rules.newest_file(&format!("{r}/run*/*")).expect("newest"),
        Some(root.join("run2/d.txt"))
    );
    assert_eq!(
        rules
            .newest_file(&format!("{r}/run1/*.dcm"))
            .expect("newest"),
        Some(root.join("run1/b.dcm"))
    );
    assert_eq!(
        rules
            .newest_file(&format!("{r}/run1/*.nii"))
            .expect("newest"),
        None
    );
    // A literal path lists itself if allowed.
    assert_eq!(
        rules.list_files(&format!("{r}/run1/a.dcm")).expect("list"),
        [root.join("run1/a.dcm")]
    );
    // A wildcard may not be followed by `..`.
    assert!(matches!(
        rules.list_files(&format!("{r}/run*/../../*")),
        Err(FilestoreError::Refused { .. })
    ));
    // The literal part may hold `..` but is then checked where it resolves to.
    assert!(matches!(
        rules.list_files(&format!("{r}/run1/../../*")),
        Err(FilestoreError::OutsideAllowedDirs { .. })
    ));
}
