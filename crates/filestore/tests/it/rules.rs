//! The access rules: every kind of escape is refused with a message naming the path.

use std::os::unix::fs::symlink;
use std::path::Path;

use filestore::{AccessRules, FilestoreError};

struct Setup {
    _tmp: tempfile::TempDir,
    root: std::path::PathBuf,
    rules: AccessRules,
}

/// root/scans (allowed, with a.dcm and notes.txt), root/scans2 (sibling prefix, with
/// b.dcm), root/secret (with key.dcm and id.key).
fn setup() -> Setup {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().canonicalize().expect("canonical");
    for d in ["scans", "scans2", "secret"] {
        std::fs::create_dir(root.join(d)).expect("mkdir");
    }
    std::fs::write(root.join("scans/a.dcm"), b"a").expect("write");
    std::fs::write(root.join("scans/notes.txt"), b"n").expect("write");
    std::fs::write(root.join("scans2/b.dcm"), b"b").expect("write");
    std::fs::write(root.join("secret/key.dcm"), b"k").expect("write");
    std::fs::write(root.join("secret/id.key"), b"k").expect("write");
    let rules = AccessRules::new([root.join("scans")], [".dcm", "TXT"]).expect("rules");
    Setup {
        _tmp: tmp,
        root,
        rules,
    }
}

fn assert_outside(result: Result<impl std::fmt::Debug, FilestoreError>, path: &Path) {
    match result {
        Err(e @ FilestoreError::OutsideAllowedDirs { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(&path.display().to_string()), "{msg}");
            assert!(msg.contains("--allowed-dirs"), "names the fix: {msg}");
        }
        other => panic!(
            "{} should be outside the allowed folders: {other:?}",
            path.display()
        ),
    }
}

#[test]
fn allowed_file_reads() {
    let s = setup();
    let p = s.root.join("scans/a.dcm");
    assert_eq!(s.rules.resolve_read(&p).expect("allowed"), p);
    assert_eq!(s.rules.read_file(&p).expect("read"), b"a");
    assert_eq!(s.rules.allowed_types(), [".dcm", ".txt"]);
    assert!(s
        .rules
        .resolve_read(&s.root.join("scans/notes.txt"))
        .is_ok());
}

#[test]
fn dot_dot_escape_is_refused() {
    let s = setup();
    let p = s.root.join("scans/../secret/key.dcm");
    assert_outside(s.rules.resolve_read(&p), &p);
    // Also when the target does not exist: no hint about what is there.
    let p = s.root.join("scans/../secret/nothing.dcm");
    assert_outside(s.rules.resolve_read(&p), &p);
    let p = s.root.join("scans/../secret/new.dcm");
    assert_outside(s.rules.write_file_atomic(&p, b"x"), &p);
    assert!(!s.root.join("secret/new.dcm").exists());
}

#[test]
fn symlink_escape_is_refused() {
    let s = setup();
    let link = s.root.join("scans/link.dcm");
    symlink(s.root.join("secret/key.dcm"), &link).expect("symlink");
    assert_outside(s.rules.resolve_read(&link), &link);
    let dir_link = s.root.join("scans/out");
    symlink(s.root.join("secret"), &dir_link).expect("symlink");
    let p = dir_link.join("key.dcm");
    assert_outside(s.rules.resolve_read(&p), &p);
    assert_outside(s.rules.resolve_dir(&dir_link), &dir_link);
    let p = dir_link.join("planted.dcm");
    assert_outside(s.rules.write_file_atomic(&p, b"x"), &p);
    assert!(!s.root.join("secret/planted.dcm").exists());
    // A dangling symlink to a folder that does not exist yet is not created through.
    let dangling = s.root.join("scans/later");
    symlink(s.root.join("secret/later"), &dangling).expect("symlink");
    let p = dangling.join("planted.dcm");
    assert!(s.rules.write_file_atomic(&p, b"x").is_err());
    assert!(!s.root.join("secret/later").exists());
    // Listing drops the link instead of following it.
    let listed = s
        .rules
        .list_files(&format!("{}/scans/*.dcm", s.root.display()))
        .expect("list");
    assert_eq!(listed, [s.root.join("scans/a.dcm")]);
}

#[test]
fn sibling_prefix_folder_is_refused() {
    let s = setup();
    let p = s.root.join("scans2/b.dcm");
    assert_outside(s.rules.resolve_read(&p), &p);
    let d = s.root.join("scans2");
    assert_outside(s.rules.resolve_dir(&d), &d);
    assert_outside(
        s.rules.list_files(&format!("{}/*.dcm", d.display())),
        Path::new(&format!("{}", d.display())),
    );
}

#[test]
fn disallowed_type_is_refused() {
    let s = setup();
    std::fs::write(s.root.join("scans/run.sh"), b"#!").expect("write");
    let p = s.root.join("scans/run.sh");
    match s.rules.resolve_read(&p) {
        Err(e @ FilestoreError::TypeNotAllowed { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("run.sh") && msg.contains(".dcm, .txt"),
                "{msg}"
            );
            assert!(msg.contains("--allowed-types"), "{msg}");
        }
        other => panic!("expected a type refusal: {other:?}"),
    }
    // A .dcm name that points at a .key file inside the allowed folder is refused too.
    std::fs::write(s.root.join("scans/id.key"), b"k").expect("write");
    symlink(s.root.join("scans/id.key"), s.root.join("scans/id.dcm")).expect("symlink");
    assert!(matches!(
        s.rules.resolve_read(&s.root.join("scans/id.dcm")),
        Err(FilestoreError::TypeNotAllowed { .. })
    ));
    assert!(matches!(
        s.rules.write_file_atomic(&s.root.join("scans/x.sh"), b"x"),
        Err(FilestoreError::TypeNotAllowed { .. })
    ));
    // Listing never returns a disallowed type.
    let all = s
        .rules
        .list_files(&format!("{}/scans/*", s.root.display()))
        .expect("list");
    assert_eq!(
        all,
        [s.root.join("scans/a.dcm"), s.root.join("scans/notes.txt")]
    );
}

#[test]
fn relative_and_missing_roots() {
    assert!(matches!(
        AccessRules::new(Vec::<&str>::new(), [".dcm"]),
        Err(FilestoreError::NoAllowedDirs)
    ));
    let err = AccessRules::new(["/definitely/not/here"], [".dcm"]).expect_err("missing root");
    assert!(err.to_string().contains("/definitely/not/here"), "{err}");
}

#[test]
fn star_allows_every_type() {
    let s = setup();
    let rules = AccessRules::new([s.root.join("secret")], ["*"]).expect("rules");
    assert!(rules.resolve_read(&s.root.join("secret/id.key")).is_ok());
}
