//! The password file (`certs/passwd`): one `user:$argon2id$...` line per user, written
//! by `data_analyser add-user`, read by the analyser's login service.
//!
//! Hashes are argon2id with at least [`MEMORY_KIB`] KiB of memory and [`ITERATIONS`]
//! passes (the OWASP minimum), so a stolen passwd file is slow to attack. A line with
//! weaker parameters is refused at load rather than silently accepted. Plain passwords
//! are never stored or logged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::fsutil::write_atomic;
use crate::SecurityError;

/// Argon2 memory cost in KiB (19 MiB).
pub const MEMORY_KIB: u32 = 19_456;
/// Argon2 passes over the memory.
pub const ITERATIONS: u32 = 2;
/// Argon2 lanes: 1, so that a login never takes more than one core of the analyser.
pub const PARALLELISM: u32 = 1;

fn argon2() -> Argon2<'static> {
    // The parameters are constants inside argon2's documented limits.
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password with a fresh random salt, as a PHC string (`$argon2id$v=19$...`).
pub fn hash_password(password: &str) -> Result<String, SecurityError> {
    if password.is_empty() {
        return Err(SecurityError::EmptyPassword);
    }
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| SecurityError::Hash(e.to_string()))
}

/// User names go into a `name:hash` line, so they must not hold ':' or whitespace.
pub fn check_user_name(name: &str) -> Result<(), SecurityError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(SecurityError::BadUserName {
            name: name.to_owned(),
        })
    }
}

/// Adds `name` to the password file at `path` (created with mode 0600 if missing), or
/// replaces its password. Returns true if the user existed before.
pub fn add_user(path: &Path, name: &str, password: &str) -> Result<bool, SecurityError> {
    check_user_name(name)?;
    let hash = hash_password(password)?;
    let mut file = if path.exists() {
        PasswordFile::load(path)?
    } else {
        PasswordFile::default()
    };
    let existed = file.users.insert(name.to_owned(), hash).is_some();
    let mut text = String::from(
        "# rtcloud-rs users: name:argon2id hash. Edit with `data_analyser add-user`.\n",
    );
    for (user, hash) in &file.users {
        text.push_str(&format!("{user}:{hash}\n"));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| SecurityError::io("create folder", dir, e))?;
    }
    write_atomic(path, text.as_bytes(), true)?;
    Ok(existed)
}

/// The users of a password file, loaded and checked.
#[derive(Debug, Default, Clone)]
pub struct PasswordFile {
    users: BTreeMap<String, String>,
}

impl PasswordFile {
    /// Reads and checks every line; blank lines and `#` comments are skipped.
    pub fn load(path: &Path) -> Result<Self, SecurityError> {
        let text = std::fs::read_to_string(path).map_err(|e| SecurityError::io("read", path, e))?;
        crate::fsutil::warn_if_readable_by_others(path);
        let bad = |line: usize, detail: String| SecurityError::PasswdLine {
            path: PathBuf::from(path),
            line,
            detail,
        };
        let mut users = BTreeMap::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (user, hash) = line
                .split_once(':')
                .ok_or_else(|| bad(index + 1, "expected user:hash".into()))?;
            check_user_name(user).map_err(|e| bad(index + 1, e.to_string()))?;
            check_hash(hash).map_err(|detail| bad(index + 1, detail))?;
            users.insert(user.to_owned(), hash.to_owned());
        }
        Ok(Self { users })
    }

    /// A password file with the single user test/test, for `--test` mode.
    pub fn test_only() -> Result<Self, SecurityError> {
        let mut users = BTreeMap::new();
        users.insert("test".to_owned(), hash_password("test")?);
        Ok(Self { users })
    }

    /// True if `name` exists and `password` is right. Slow on purpose (argon2, tens of
    /// milliseconds): call it from a blocking thread. An unknown user costs the same
    /// time as a known one, so timing does not reveal which user names exist.
    pub fn verify(&self, name: &str, password: &str) -> bool {
        let (hash, known) = match self.users.get(name) {
            Some(hash) => (hash.as_str(), true),
            None => (dummy_hash(), false),
        };
        let Ok(parsed) = PasswordHash::new(hash) else {
            return false;
        };
        let matches = argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        matches && known
    }

    /// The user names, sorted.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.users.keys().map(String::as_str)
    }

    /// The stored PHC hash of a user.
    pub fn hash_of(&self, name: &str) -> Option<&str> {
        self.users.get(name).map(String::as_str)
    }
}

/// Checks that a stored hash is argon2id with at least our parameters.
fn check_hash(hash: &str) -> Result<(), String> {
    let parsed = PasswordHash::new(hash).map_err(|e| format!("not a PHC hash string ({e})"))?;
    if parsed.algorithm.as_str() != "argon2id" {
        return Err(format!(
            "hash algorithm {} is not argon2id",
            parsed.algorithm
        ));
    }
    let params = Params::try_from(&parsed).map_err(|e| format!("bad argon2 parameters ({e})"))?;
    if params.m_cost() < MEMORY_KIB || params.t_cost() < ITERATIONS {
        return Err(format!(
            "argon2 parameters m={} t={} are weaker than m={MEMORY_KIB} t={ITERATIONS}",
            params.m_cost(),
            params.t_cost()
        ));
    }
    Ok(())
}

/// A hash of a random password, made once, to verify unknown users against.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(salt.as_str().as_bytes(), &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}
