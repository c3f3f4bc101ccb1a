//! Processes started by tests: each in its own process group, ended with its whole group
//! and waited for when its guard is dropped, on success, failure and panic alike. A
//! wrapper script's children (`scripts/data_streamer.sh` runs the binary as a child to
//! delete its temporary password file afterwards) go with it.

use std::io::{BufRead, BufReader};
use std::ops::{Deref, DerefMut};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// How long a process group has to stop on SIGTERM (wrappers clean up) before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(3);

/// A child process in its own process group; dropping it stops the group and waits.
#[derive(Debug)]
pub struct ChildGuard {
    child: Child,
    stopped: bool,
}

impl ChildGuard {
    /// Spawns `cmd` as the leader of a new process group.
    pub fn spawn(cmd: &mut Command) -> std::io::Result<ChildGuard> {
        let child = cmd.process_group(0).spawn()?;
        Ok(ChildGuard {
            child,
            stopped: false,
        })
    }

    /// [`ChildGuard::spawn`] with stdout piped; its lines arrive on the receiver (read
    /// by a thread that ends with the pipe).
    pub fn spawn_lines(cmd: &mut Command) -> std::io::Result<(ChildGuard, Receiver<String>)> {
        let mut guard = Self::spawn(cmd.stdout(Stdio::piped()))?;
        let stdout = guard
            .child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("stdout was not piped"))?;
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok((guard, lines))
    }

    /// Stops the whole group (SIGTERM, then SIGKILL after [`TERM_GRACE`]) and waits
    /// for the leader. Idempotent.
    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let group = Pid::from_raw(self.child.id() as i32);
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = killpg(group, Signal::SIGTERM);
            let deadline = Instant::now() + TERM_GRACE;
            while Instant::now() < deadline && self.child.try_wait().ok().flatten().is_none() {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // Whatever is left of the group (a child the wrapper started), and the leader.
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Deref for ChildGuard {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.child
    }
}

impl DerefMut for ChildGuard {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stop();
    }
}
