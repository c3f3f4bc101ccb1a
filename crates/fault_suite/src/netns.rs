//! Three hosts of the test's own: network namespaces joined by veth pairs, made with
//! iproute2 and removed when dropped (also after a panic). Nothing is created in the
//! host's own namespace: each veth is born with its ends already in two of ours.
//!
//! ```text
//!  scan (data_streamer)        cloud (data_analyser + proxies)       stim (listener)
//!  198.18.1.2 ── veth ── 198.18.1.1            198.18.2.1 ── veth ── 198.18.2.2
//! ```
//!
//! 198.18.0.0/15 is the range reserved for network benchmarks (RFC 2544); inside our
//! own namespaces it can never clash with the host's networks. Names carry the test
//! process's id, so runs of several people never collide, and a run killed before its
//! drop (SIGKILL, a crashed CI job) is cleaned up by the next one: namespaces whose
//! owning process is gone are emptied (their processes killed) and deleted.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Every namespace of the suite starts with this.
pub const PREFIX: &str = "rtfault-";

/// The analyser host's address on the scanner link.
pub const CLOUD_SCAN_IP: &str = "198.18.1.1";
/// The analyser host's address on the stimulus link.
pub const CLOUD_STIM_IP: &str = "198.18.2.1";

static NEXT: AtomicU32 = AtomicU32::new(0);

/// One network namespace.
#[derive(Debug, Clone)]
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// The file a thread can `setns` into (test_support's proxy does).
    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// `ip netns exec NAME program`: the program replaces `ip`, so its pid is the
    /// child's.
    pub fn command(&self, program: &std::path::Path) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }
}

/// The three hosts of one scenario.
#[derive(Debug)]
pub struct Hosts {
    pub scan: Netns,
    pub cloud: Netns,
    pub stim: Netns,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {args:?}: {e} (iproute2 needed)"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Hosts {
    /// Makes the three namespaces and their links (root needed); removes leftovers of
    /// dead runs first.
    pub fn new() -> Result<Hosts, String> {
        remove_leftovers();
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let name = |role: &str| Netns {
            name: format!("{PREFIX}{}-{n}-{role}", std::process::id()),
        };
        let hosts = Hosts {
            scan: name("scan"),
            cloud: name("cloud"),
            stim: name("stim"),
        };
        // From here on, a failure drops `hosts`, which deletes what was made.
        for ns in [&hosts.scan, &hosts.cloud, &hosts.stim] {
            ip(&["netns", "add", &ns.name])?;
            ip(&["-n", &ns.name, "link", "set", "lo", "up"])?;
        }
        for (far, here, far_ip, here_ip, far_if, here_if) in [
            (
                &hosts.scan,
                &hosts.cloud,
                "198.18.1.2/30",
                "198.18.1.1/30",
                "to-cloud",
                "to-scan",
            ),
            (
                &hosts.stim,
                &hosts.cloud,
                "198.18.2.2/30",
                "198.18.2.1/30",
                "to-cloud",
                "to-stim",
            ),
        ] {
            ip(&[
                "link", "add", far_if, "netns", &far.name, "type", "veth", "peer", "name", here_if,
                "netns", &here.name,
            ])?;
            for (ns, dev, addr) in [(far, far_if, far_ip), (here, here_if, here_ip)] {
                ip(&["-n", &ns.name, "addr", "add", addr, "dev", dev])?;
                ip(&["-n", &ns.name, "link", "set", dev, "up"])?;
            }
        }
        Ok(hosts)
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for ns in [&self.scan, &self.cloud, &self.stim] {
            delete(&ns.name);
        }
    }
}

/// Kills what still runs in the namespace, then deletes it (its veth ends go with it).
fn delete(name: &str) {
    if let Ok(out) = Command::new("ip").args(["netns", "pids", name]).output() {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if let Ok(pid) = pid.parse::<i32>() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
    let _ = ip(&["netns", "del", name]);
}

/// Deletes the suite's namespaces whose test process is no longer alive.
pub fn remove_leftovers() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
        if !alive {
            delete(name);
        }
    }
}
