//! The session's disk writer: one thread that writes files in the order asked, so that
//! the calls on the TR's critical path (set_result, logs) never wait for the disk.
//! Whole files are replaced atomically; logs are appended a line at a time.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc;

enum Job {
    Replace { path: PathBuf, bytes: Vec<u8> },
    Append { path: PathBuf, line: String },
    Flush(mpsc::Sender<()>),
}

/// Sends writes to the writer thread; dropping the last one ends the thread after it
/// has written everything queued.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Replace { path, .. } => write!(f, "replace {}", path.display()),
            Job::Append { path, .. } => write!(f, "append to {}", path.display()),
            Job::Flush(_) => f.write_str("flush"),
        }
    }
}

impl Writer {
    pub(crate) fn start() -> std::io::Result<Writer> {
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("session-writer".into())
            .spawn(move || write_loop(queue))?;
        Ok(Writer { jobs })
    }

    pub(crate) fn replace(&self, path: PathBuf, bytes: Vec<u8>) {
        self.send(Job::Replace { path, bytes });
    }

    pub(crate) fn append(&self, path: PathBuf, line: String) {
        self.send(Job::Append { path, line });
    }

    /// Returns once everything queued before is on disk.
    pub(crate) fn flush(&self) {
        let (done, wait) = mpsc::channel();
        self.send(Job::Flush(done));
        let _ = wait.recv();
    }

    fn send(&self, job: Job) {
        if let Err(e) = self.jobs.send(job) {
            // Only when the thread died (it never panics on IO errors): say what is lost.
            tracing::error!(job = ?e.0, "session writer is gone; this write is lost");
        }
    }
}

fn write_loop(queue: mpsc::Receiver<Job>) {
    let mut open: HashMap<PathBuf, File> = HashMap::new();
    for job in queue {
        match job {
            Job::Replace { path, bytes } => {
                if let Err(e) = filestore::write_atomic(&path, &bytes) {
                    tracing::error!(path = %path.display(), error = %e, "cannot write session file");
                }
            }
            Job::Append { path, line } => {
                let file = match open.entry(path.clone()) {
                    std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                    std::collections::hash_map::Entry::Vacant(v) => {
                        match OpenOptions::new().create(true).append(true).open(&path) {
                            Ok(f) => v.insert(f),
                            Err(e) => {
                                tracing::error!(path = %path.display(), error = %e, "cannot open session log");
                                continue;
                            }
                        }
                    }
                };
                if let Err(e) = file.write_all(line.as_bytes()) {
                    tracing::error!(path = %path.display(), error = %e, "cannot append to session log");
                }
            }
            Job::Flush(done) => {
                for file in open.values() {
                    let _ = file.sync_data();
                }
                let _ = done.send(());
            }
        }
    }
}
