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
    let rules = AccessRules::new([root.join("scans")], [".dcm", "TXT"])
        .and_then(|r| r.with_writable_dirs([root.join("scans")]))
        .expect("rules");
    Setup {
        _tmp: tmp,
        root,
        rules,
    }
}

fn assert_outside(result: Result<impl std::fmt::Debug, FilestoreError>, path: &Path) {
    match result {
        Err(e @ FilestoreError::OutsideAllowedDirs { .. }) => {
            // Nothing but the path asked for: not where it resolves to, nor whether
            // anything exists there.
            let msg = e.to_string();
            assert_eq!(
                msg,
                format!("{} is outside the allowed folders", path.display())
            );
        }
        other => panic!(
            "{} should be outside the allowed folders: {other:?}",
            path.display()
        ),
    }
}

fn assert_not_writable(result: Result<impl std::fmt::Debug, FilestoreError>) {
    assert!(
        matches!(result, Err(FilestoreError::NotWritable { .. })),
        "{result:?}"
    );
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
    assert_not_writable(s.rules.write_file_atomic(&p, b"x", false));
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
    assert_not_writable(s.rules.write_file_atomic(&p, b"x", false));
    assert!(!s.root.join("secret/planted.dcm").exists());
    // A dangling symlink to a folder that does not exist yet is not created through.
    let dangling = s.root.join("scans/later");
    symlink(s.root.join("secret/later"), &dangling).expect("symlink");
    let p = dangling.join("planted.dcm");
    assert!(s.rules.write_file_atomic(&p, b"x", false).is_err());
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
        s.rules
            .write_file_atomic(&s.root.join("scans/x.sh"), b"x", false),
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

#[test]
fn refusals_say_only_outside_the_allowed_folders() {
    let s = setup();
    // A symlink to an existing file outside, one to a missing file outside (dangling),
    // and a folder link out with a missing file below it: the same answer for each,
    // naming neither the target nor whether it exists.
    let to_existing = s.root.join("scans/existing.dcm");
    symlink(s.root.join("secret/key.dcm"), &to_existing).expect("symlink");
    let to_missing = s.root.join("scans/missing.dcm");
    symlink(s.root.join("secret/nothing.dcm"), &to_missing).expect("symlink");
    let dir_link = s.root.join("scans/out");
    symlink(s.root.join("secret"), &dir_link).expect("symlink");
    for p in [
        to_existing.clone(),
        to_missing.clone(),
        dir_link.join("nothing.dcm"),
        s.root.join("secret/key.dcm"),
        s.root.join("secret/nothing.dcm"),
    ] {
        assert_outside(s.rules.resolve_read(&p), &p);
        assert_outside(s.rules.read_file(&p), &p);
    }
    // A missing file inside is simply not found.
    let inside = s.root.join("scans/later.dcm");
    match s.rules.resolve_read(&inside) {
        Err(FilestoreError::Io { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound)
        }
        other => panic!("expected not found: {other:?}"),
    }
}

#[test]
fn hard_links_are_refused_unless_allowed() {
    let s = setup();
    // A hard link in the allowed folder names a file from outside it.
    let linked = s.root.join("scans/linked.dcm");
    std::fs::hard_link(s.root.join("secret/key.dcm"), &linked).expect("hard link");
    let err = s.rules.read_file(&linked).expect_err("two links");
    assert!(matches!(err, FilestoreError::Refused { .. }), "{err}");
    assert!(err.to_string().contains("--allow-hard-links"), "{err}");
    let listed = s
        .rules
        .list_files(&format!("{}/scans/*.dcm", s.root.display()))
        .expect("list");
    assert_eq!(listed, [s.root.join("scans/a.dcm")], "not listed either");
    let allowed = s.rules.clone().with_hard_links_allowed(true);
    assert_eq!(allowed.read_file(&linked).expect("allowed"), b"k");
}

#[test]
fn files_over_the_size_cap_are_refused_before_reading() {
    let s = setup();
    let p = s.root.join("scans/big.dcm");
    std::fs::write(&p, vec![0u8; 4096]).expect("write");
    let capped = s.rules.clone().with_max_file_size(4095);
    match capped.read_file(&p) {
        Err(e @ FilestoreError::TooLarge { .. }) => {
            assert!(e.to_string().contains("4096 bytes"), "{e}")
        }
        other => panic!("expected a size refusal: {other:?}"),
    }
    assert_eq!(
        s.rules
            .with_max_file_size(4096)
            .read_file(&p)
            .expect("fits")
            .len(),
        4096
    );
}

#[test]
fn put_file_writes_only_into_writable_folders_and_replaces_only_when_asked() {
    let s = setup();
    let read_only = AccessRules::new([s.root.join("scans")], ["*"]).expect("rules");
    let p = s.root.join("scans/new.dcm");
    assert_not_writable(read_only.write_file_atomic(&p, b"x", true));
    // The scanner's own file is not replaced without overwrite.
    let a = s.root.join("scans/a.dcm");
    let err = s
        .rules
        .write_file_atomic(&a, b"x", false)
        .expect_err("exists");
    assert!(matches!(err, FilestoreError::Exists { .. }), "{err}");
    assert_eq!(std::fs::read(&a).expect("read"), b"a");
    // A writable folder apart from the scanner's.
    let out = s.root.join("out");
    std::fs::create_dir(&out).expect("mkdir");
    let rules = AccessRules::new([s.root.join("scans")], ["*"])
        .and_then(|r| r.with_writable_dirs([&out]))
        .expect("rules");
    assert_not_writable(rules.write_file_atomic(&a, b"x", true));
    assert_eq!(std::fs::read(&a).expect("read"), b"a");
    rules
        .write_file_atomic(&out.join("run1/feedback.txt"), b"1", false)
        .expect("written");
    rules
        .write_file_atomic(Path::new("out/run1/feedback.txt"), b"2", true)
        .expect("replaced when asked, named relative to the writable folder");
    assert_eq!(
        std::fs::read(out.join("run1/feedback.txt")).expect("read"),
        b"2"
    );
}

#[test]
fn paths_are_shown_relative_to_the_allowed_folder_and_named_back() {
    let s = setup();
    std::fs::create_dir(s.root.join("scans/DOE_JOHN")).expect("mkdir");
    std::fs::write(s.root.join("scans/DOE_JOHN/1.dcm"), b"1").expect("write");
    let real = s.root.join("scans/DOE_JOHN/1.dcm");
    let shown = s.rules.shown(&real);
    assert_eq!(shown, "scans/DOE_JOHN/1.dcm");
    assert!(!shown.contains(&s.root.display().to_string()));
    assert_eq!(
        s.rules.resolve_read(Path::new(&shown)).expect("named back"),
        real
    );
    assert_eq!(
        s.rules.list_files("scans/DOE_JOHN/*.dcm").expect("list"),
        [real]
    );
}
