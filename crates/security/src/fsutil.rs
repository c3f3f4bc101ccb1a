//! Writing secrets to disk: a temp file in the same folder, then rename, so a crash
//! never leaves half a key or half a password file behind.

use std::io::Write;
use std::path::Path;

use crate::SecurityError;

/// Writes `bytes` to `path` atomically; `private` files get mode 0600 (owner only)
/// from the moment they exist, so a key is never readable by others, not even briefly.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> Result<(), SecurityError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        SecurityError::io("write", path, e)
    })
}

/// Logs a warning when a secret file (key, password file) can be read by other users:
/// the file still works, but whoever can read it can impersonate the analyser or
/// attack the password hashes offline.
pub fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(
                    "{} is readable by other users (mode {:o}); run `chmod 600 {}`",
                    path.display(),
                    mode & 0o777,
                    path.display()
                );
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}
