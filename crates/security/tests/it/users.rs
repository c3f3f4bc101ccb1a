//! The password file: argon2id with the required strength, verify, replace, refuse.

use argon2::password_hash::PasswordHash;
use security::users::{add_user, PasswordFile, ITERATIONS, MEMORY_KIB};

#[test]
fn hashes_are_argon2id_with_the_required_parameters() {
    let dir = tempfile::tempdir().expect("temp dir");
    let passwd = dir.path().join("certs/passwd");
    assert!(!add_user(&passwd, "alice", "s3cret").expect("add"));
    let file = PasswordFile::load(&passwd).expect("load");
    let hash = PasswordHash::new(file.hash_of("alice").expect("alice")).expect("PHC");
    assert_eq!(hash.algorithm.as_str(), "argon2id");
    let params = argon2::Params::try_from(&hash).expect("params");
    assert!(
        params.m_cost() >= 19_456 && params.m_cost() >= MEMORY_KIB,
        "m={}",
        params.m_cost()
    );
    assert!(
        params.t_cost() >= 2 && params.t_cost() >= ITERATIONS,
        "t={}",
        params.t_cost()
    );
    assert_eq!(params.p_cost(), 1);
    let text = std::fs::read_to_string(&passwd).expect("read");
    assert!(
        !text.contains("s3cret"),
        "the password itself is never stored"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&passwd)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "passwd is readable by others: {mode:o}");
    }
}

#[test]
fn verify_accepts_only_the_right_password() {
    let dir = tempfile::tempdir().expect("temp dir");
    let passwd = dir.path().join("passwd");
    add_user(&passwd, "alice", "s3cret").expect("add");
    add_user(&passwd, "bob", "hunter2").expect("add");
    let file = PasswordFile::load(&passwd).expect("load");
    assert!(file.verify("alice", "s3cret"));
    assert!(!file.verify("alice", "hunter2"));
    assert!(!file.verify("alice", ""));
    assert!(!file.verify("carol", "s3cret"), "unknown user");
    assert_eq!(file.users().collect::<Vec<_>>(), ["alice", "bob"]);
}

#[test]
fn adding_again_changes_the_password() {
    let dir = tempfile::tempdir().expect("temp dir");
    let passwd = dir.path().join("passwd");
    add_user(&passwd, "alice", "old").expect("add");
    assert!(
        add_user(&passwd, "alice", "new").expect("change"),
        "reported as existing"
    );
    let file = PasswordFile::load(&passwd).expect("load");
    assert!(file.verify("alice", "new") && !file.verify("alice", "old"));
    assert_eq!(file.users().count(), 1);
}

#[test]
fn bad_names_empty_passwords_and_weak_lines_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let passwd = dir.path().join("passwd");
    for name in ["", "a:b", "with space", "new\nline"] {
        assert!(add_user(&passwd, name, "pw").is_err(), "{name:?} accepted");
    }
    assert!(add_user(&passwd, "alice", "").is_err());
    // argon2i, and argon2id with too little memory: both refused at load with the line.
    let weak = "# comment\n\nold:$argon2id$v=19$m=4096,t=3,p=1$c2FsdHNhbHRzYWx0$W5gj0cr1vZ0Zy8Qc5wGk2HLM1xDZx0ZwYlqU3aMPLMk\n";
    std::fs::write(&passwd, weak).expect("write");
    let err = PasswordFile::load(&passwd).expect_err("weak");
    let text = err.to_string();
    assert!(
        text.contains("line 3") && text.contains("weaker") && text.contains("add-user"),
        "{text}"
    );
    std::fs::write(&passwd, "nocolon\n").expect("write");
    assert!(PasswordFile::load(&passwd)
        .expect_err("no colon")
        .to_string()
        .contains("line 1"));
}

#[test]
fn test_mode_knows_only_test() {
    let file = PasswordFile::test_only().expect("test users");
    assert!(file.verify("test", "test"));
    assert!(!file.verify("test", "nope"));
    assert!(!file.verify("alice", "test"));
}

#[test]
fn roles_and_stations_are_kept_and_old_lines_may_do_everything() {
    use security::users::{add_user_with, Grants, Role};
    let dir = tempfile::tempdir().expect("temp dir");
    let passwd = dir.path().join("passwd");
    add_user(&passwd, "old", "pw").expect("old-style user");
    let streamer = Grants::parse("roles=streamer stations=scanner,skyra").expect("parse");
    add_user_with(&passwd, "scanner", "pw", Some(streamer.clone())).expect("streamer");
    add_user_with(
        &passwd,
        "stimulus",
        "pw",
        Some(Grants::parse("roles=listener").expect("parse")),
    )
    .expect("listener");
    // A password change without new grants keeps the old ones.
    add_user(&passwd, "scanner", "new pw").expect("change password");
    let file = PasswordFile::load(&passwd).expect("load");
    assert_eq!(file.grants("scanner"), streamer);
    assert!(file.grants("old").unrestricted());
    assert_eq!(file.grants("old").refuse(Role::Streamer, "anything"), None);
    assert_eq!(file.grants("scanner").refuse(Role::Streamer, "skyra"), None);
    let refusals = [
        file.grants("scanner").refuse(Role::Streamer, "prisma"),
        file.grants("scanner").refuse(Role::Experimenter, ""),
        file.grants("stimulus").refuse(Role::Streamer, "scanner"),
    ];
    for refusal in refusals {
        assert!(refusal.is_some_and(|why| why.contains("may not")));
    }
    assert_eq!(
        file.grants("stimulus").refuse(Role::Listener, "stimulus"),
        None
    );
    let text = std::fs::read_to_string(&passwd).expect("read");
    assert!(
        text.contains(" roles=streamer stations=scanner,skyra\n"),
        "{text}"
    );
    // Nonsense fields are refused at load, naming the line.
    std::fs::write(&passwd, text.replace("roles=listener", "roles=admin")).expect("write");
    let err = PasswordFile::load(&passwd).expect_err("unknown role");
    assert!(err.to_string().contains("unknown role \"admin\""), "{err}");
}

#[test]
fn station_names_are_plain_and_short() {
    use security::users::check_station_name;
    assert!(check_station_name("scanner-1.skyra_b").is_ok());
    for bad in ["", "two words", "line\nforged: entry", &"x".repeat(65), "ü"] {
        assert!(check_station_name(bad).is_err(), "{bad:?}");
    }
}
