//! Writing a whole file so that no reader (and no crash) ever sees it half written:
//! a temporary file in the same folder, fsync, then rename over the target. Used for
//! every file the services write (received files, results, settings, NIfTI output).

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `bytes` to `path` atomically, creating missing parent folders. No access
/// rules apply here: callers that take paths from the network use
/// [`crate::AccessRules::write_file_atomic`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    replace(path, bytes, Durable::BeforeRename)
}

/// Like [`write_atomic`], but never replaces an existing file: the complete temporary
/// file is renamed to `path` with `renameat2(RENAME_NOREPLACE)`, which fails with
/// `AlreadyExists` if `path` exists (atomically, so two writers cannot both win). Where
/// the filesystem lacks that flag, a hard link then removal of the temporary name does
/// the same, with two names for a moment.
pub fn create_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    replace(path, bytes, Durable::NoReplace)
}

/// Like [`write_atomic`], but makes the file visible before it is durable: the rename
/// comes first (no reader ever sees it half written), the fsyncs right after. For files
/// someone is waiting for (a result the stimulus PC polls), when a power cut may lose
/// the newest file but a disk stall must not delay it; the caller records its progress
/// only after this returns.
pub fn publish(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    publish_unsynced(path, bytes)?.sync()
}

/// The first half of [`publish`]: the file is complete and in place (renamed) when
/// this returns, not yet durable. Lets a caller tell a waiting reader before the
/// fsyncs, which can take milliseconds on a busy disk.
pub fn publish_unsynced(path: &Path, bytes: &[u8]) -> std::io::Result<Unsynced> {
    let (file, dir) = place(path, bytes, Durable::AfterRename)?;
    Ok(Unsynced { file, dir })
}

/// A file made visible by [`publish_unsynced`] whose content and name are not yet
/// synced to disk.
#[derive(Debug)]
#[must_use = "call sync() to make the file durable"]
pub struct Unsynced {
    file: fs::File,
    dir: PathBuf,
}

impl Unsynced {
    /// Syncs the file, then its folder (best effort: not every filesystem allows it).
    pub fn sync(self) -> std::io::Result<()> {
        self.file.sync_all()?;
        sync_dir(&self.dir);
        Ok(())
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// When the new content is synced relative to the rename that makes it visible.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Durable {
    BeforeRename,
    AfterRename,
    /// Synced, then linked to the target only if no file is there.
    NoReplace,
}

/// A temporary file in the target's folder, then a rename over the target; both files
/// and the folder are synced (the folder best effort: not every filesystem allows it).
fn replace(path: &Path, bytes: &[u8], durable: Durable) -> std::io::Result<()> {
    // The file is synced inside `place` before its rename; the folder is left.
    let (_, dir) = place(path, bytes, durable)?;
    sync_dir(&dir);
    Ok(())
}

/// Writes the temporary file and renames (or links) it into place; returns the open
/// file and its folder for the syncs still to do.
fn place(path: &Path, bytes: &[u8], durable: Durable) -> std::io::Result<(fs::File, PathBuf)> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Some(name) = path.file_name() else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} has no file name", path.display()),
        ));
    };
    fs::create_dir_all(&dir)?;
    // Unique per process and call, so concurrent writers of one file never share a temp.
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut tmp_name = OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(
        ".tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = dir.join(tmp_name);
    let written = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        if durable != Durable::AfterRename {
            file.sync_all()?;
        }
        if durable == Durable::NoReplace {
            rename_no_replace(&tmp, path)?;
        } else {
            fs::rename(&tmp, path)?;
        }
        Ok::<_, std::io::Error>(file)
    })();
    match written {
        Ok(file) => Ok((file, dir)),
        Err(e) => {
            // Best effort: the temp file is ours and useless now.
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Renames `from` to `to` unless `to` exists (`AlreadyExists` then), in one step where
/// the kernel and filesystem support it, so the file never has two names: the streamer
/// refuses multiply-linked files unless told otherwise.
fn rename_no_replace(from: &Path, to: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use nix::errno::Errno;
        use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
        match renameat2(AT_FDCWD, from, AT_FDCWD, to, RenameFlags::RENAME_NOREPLACE) {
            Ok(()) => return Ok(()),
            // Filesystems without the flag (some network mounts): the link fallback.
            Err(Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP) => {}
            Err(e) => return Err(e.into()),
        }
    }
    fs::hard_link(from, to)?;
    // Best effort: the target is complete and in place already.
    let _ = fs::remove_file(from);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_whole_file_and_leaves_no_temp_behind() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("sub/results.tsv");
        write_atomic(&path, b"first version, longer").expect("write");
        write_atomic(&path, b"second").expect("rewrite");
        assert_eq!(fs::read(&path).expect("read"), b"second");
        let names: Vec<_> = fs::read_dir(dir.path().join("sub"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["results.tsv"]);
    }

    #[test]
    fn publish_replaces_the_file_and_leaves_no_temp_behind() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tr-0001.json");
        publish(&path, b"{\"value\": 1}").expect("publish");
        publish(&path, b"{\"value\": 2}").expect("again");
        assert_eq!(fs::read(&path).expect("read"), b"{\"value\": 2}");
        assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 1);
    }

    #[test]
    fn create_never_replaces_and_leaves_no_temp_behind() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("scan.dcm");
        create_atomic(&path, b"first").expect("create");
        let err = create_atomic(&path, b"second").expect_err("exists");
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists, "{err}");
        assert_eq!(fs::read(&path).expect("read"), b"first");
        assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 1);
        // One name only: a streamer refusing multiply-linked files can read it at once.
        let links = std::os::unix::fs::MetadataExt::nlink(&fs::metadata(&path).expect("stat"));
        assert_eq!(links, 1);
    }

    #[test]
    fn a_path_without_a_file_name_is_refused() {
        let err = write_atomic(Path::new("/"), b"x").expect_err("no file name");
        assert!(err.to_string().contains("no file name"), "{err}");
    }
}
