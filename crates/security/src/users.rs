//! The password file (`certs/passwd`): one `user:$argon2id$... [roles=..] [stations=..]`
//! line per user, written by `data_analyser add-user`, read by the analyser's login
//! service.
//!
//! What a user may be ([`Grants`]): `roles=streamer,listener,experimenter` (what the
//! user may log in as: a data_streamer, an analysis_listener, the web page) and
//! `stations=scanner,...` (which station names that user's streamers may claim). A line
//! without them (every file written before these fields existed) may do everything, as
//! before, and the analyser says so once in its log.
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

/// What a client logs in as (the `client_kind` of a login, or the web page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// data_streamer on the scanner console (client kind "streamer").
    Streamer,
    /// analysis_listener on the stimulus PC (client kind "listener").
    Listener,
    /// A person at the web page (and any other client kind).
    Experimenter,
}

impl Role {
    /// Every role, in the order the file lists them.
    pub const ALL: [Role; 3] = [Role::Streamer, Role::Listener, Role::Experimenter];

    /// The name used in the password file and by clients at login.
    pub fn name(self) -> &'static str {
        match self {
            Role::Streamer => "streamer",
            Role::Listener => "listener",
            Role::Experimenter => "experimenter",
        }
    }

    /// The role a login's `client_kind` asks for.
    pub fn of_client_kind(kind: &str) -> Role {
        match kind {
            "streamer" => Role::Streamer,
            "listener" => Role::Listener,
            _ => Role::Experimenter,
        }
    }

    fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// What one user may do: its roles and the stations its streamers may claim. `None`
/// means "not restricted" (the line did not say).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub roles: Option<Vec<Role>>,
    pub stations: Option<Vec<String>>,
}

impl Grants {
    /// True when the line says nothing: the user may do everything (old files).
    pub fn unrestricted(&self) -> bool {
        self.roles.is_none() && self.stations.is_none()
    }

    /// Why `role` with `station` is not allowed for this user, if it is not.
    pub fn refuse(&self, role: Role, station: &str) -> Option<String> {
        if let Some(roles) = &self.roles {
            if !roles.contains(&role) {
                return Some(format!("this user may not log in as a {}", role.name()));
            }
        }
        if role == Role::Streamer {
            if let Some(stations) = &self.stations {
                if !stations.iter().any(|s| s == station) {
                    return Some(format!("this user may not be station {station:?}"));
                }
            }
        }
        None
    }

    /// The ` roles=.. stations=..` suffix of a password-file line ("" if unrestricted).
    fn to_fields(&self) -> String {
        let mut out = String::new();
        if let Some(roles) = &self.roles {
            let names: Vec<&str> = roles.iter().map(|r| r.name()).collect();
            out.push_str(&format!(" roles={}", names.join(",")));
        }
        if let Some(stations) = &self.stations {
            out.push_str(&format!(" stations={}", stations.join(",")));
        }
        out
    }

    /// Parses `roles=a,b stations=c` (whitespace separated, any order).
    pub fn parse(fields: &str) -> Result<Grants, String> {
        let mut grants = Grants::default();
        for field in fields.split_whitespace() {
            let (key, value) = field
                .split_once('=')
                .ok_or_else(|| format!("expected key=value, not {field:?}"))?;
            let items: Vec<&str> = value.split(',').filter(|v| !v.is_empty()).collect();
            match key {
                "roles" => {
                    let roles = items
                        .iter()
                        .map(|r| {
                            Role::parse(r).ok_or_else(|| {
                                format!("unknown role {r:?} (streamer, listener or experimenter)")
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    grants.roles = Some(roles);
                }
                "stations" => {
                    for s in &items {
                        check_station_name(s)?;
                    }
                    grants.stations = Some(items.iter().map(|s| s.to_string()).collect());
                }
                other => return Err(format!("unknown field {other:?} (roles= or stations=)")),
            }
        }
        Ok(grants)
    }
}

/// Longest station name (it is shown in logs and the web page).
pub const MAX_STATION_BYTES: usize = 64;

/// Station names and client kinds end up in logs and the UI: letters, digits, '.',
/// '_' and '-' only (so no newline can forge a log line), 1 to [`MAX_STATION_BYTES`].
pub fn check_station_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_STATION_BYTES
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "station names are 1-{MAX_STATION_BYTES} letters, digits, '.', '_' or '-' (not {name:?})"
        ))
    }
}

/// Adds `name` to the password file at `path` (created with mode 0600 if missing), or
/// replaces its password. Returns true if the user existed before. `grants`: `None`
/// keeps what an existing user had (new users: unrestricted).
pub fn add_user(path: &Path, name: &str, password: &str) -> Result<bool, SecurityError> {
    add_user_with(path, name, password, None)
}

/// [`add_user`] that also sets what the user may do.
pub fn add_user_with(
    path: &Path,
    name: &str,
    password: &str,
    grants: Option<Grants>,
) -> Result<bool, SecurityError> {
    check_user_name(name)?;
    let hash = hash_password(password)?;
    let mut file = if path.exists() {
        PasswordFile::load(path)?
    } else {
        PasswordFile::default()
    };
    let existed = file.users.insert(name.to_owned(), hash).is_some();
    if let Some(grants) = grants {
        file.grants.insert(name.to_owned(), grants);
    }
    let mut text = String::from(
        "# rtcloud-rs users: name:argon2id hash [roles=streamer,listener,experimenter] [stations=NAME,...].\n\
         # Edit with `data_analyser add-user`; a line without roles/stations may do everything.\n",
    );
    for (user, hash) in &file.users {
        let fields = file
            .grants
            .get(user)
            .map(Grants::to_fields)
            .unwrap_or_default();
        text.push_str(&format!("{user}:{hash}{fields}\n"));
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
    grants: BTreeMap<String, Grants>,
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
        let mut grants = BTreeMap::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (user, rest) = line
                .split_once(':')
                .ok_or_else(|| bad(index + 1, "expected user:hash".into()))?;
            // A PHC hash holds no whitespace: what follows it are the grants.
            let (hash, fields) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            check_user_name(user).map_err(|e| bad(index + 1, e.to_string()))?;
            check_hash(hash).map_err(|detail| bad(index + 1, detail))?;
            let granted = Grants::parse(fields).map_err(|detail| bad(index + 1, detail))?;
            users.insert(user.to_owned(), hash.to_owned());
            grants.insert(user.to_owned(), granted);
        }
        Ok(Self { users, grants })
    }

    /// A password file with the single user test/test, for `--test` mode.
    pub fn test_only() -> Result<Self, SecurityError> {
        let mut users = BTreeMap::new();
        users.insert("test".to_owned(), hash_password("test")?);
        Ok(Self {
            users,
            grants: BTreeMap::new(),
        })
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

    /// What `name` may do (unrestricted when its line does not say).
    pub fn grants(&self, name: &str) -> Grants {
        self.grants.get(name).cloned().unwrap_or_default()
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
