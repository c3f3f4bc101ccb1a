//! A site for end-to-end tests: certificates and a user made by the real binary, and
//! the real binaries (analyser, streamer, replay) started with their output captured.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use test_support::ChildGuard;

/// The Skyra run's file names.
pub const PATTERN: &str = "001_000013_{TR:06d}.dcm";
/// A failure guard only: on a loaded 2-core machine a debug build is slow.
pub const WAIT: Duration = Duration::from_secs(90);

/// A running binary (or wrapper script) whose stdout lines arrive on a channel; it and
/// everything it started are stopped when dropped (test_support::ChildGuard).
pub struct Running {
    pub child: ChildGuard,
    lines: Receiver<String>,
    stderr: PathBuf,
}

impl Running {
    pub fn start(bin: &Path, args: &[&str], stderr: PathBuf) -> Running {
        let (child, lines) = ChildGuard::spawn_lines(
            Command::new(bin)
                .args(args)
                .env("RUST_LOG", "info")
                .stdin(Stdio::null())
                .stderr(std::fs::File::create(&stderr).expect("stderr file")),
        )
        .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        Running {
            child,
            lines,
            stderr,
        }
    }

    /// The next stdout line satisfying `pred`.
    pub fn wait_line(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.wait_line_or(what, pred, String::new)
    }

    /// [`Running::wait_line`] whose failure also shows `context()` (e.g. the logs of
    /// the other programs).
    pub fn wait_line_or(
        &self,
        what: &str,
        pred: impl Fn(&str) -> bool,
        context: impl Fn() -> String,
    ) -> String {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if pred(&line) => return line,
                Ok(_) => {}
                Err(_) => panic!(
                    "no {what} on stdout; stderr:\n{}\n{}",
                    self.stderr_text(),
                    context()
                ),
            }
        }
    }

    /// The port of the `Listening on: https://ADDR:PORT` line.
    pub fn port(&self) -> u16 {
        let line = self.wait_line("Listening line", |l| l.starts_with("Listening on: "));
        line.rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port")
    }

    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits for the process to end by itself and returns whether it succeeded.
    pub fn wait_exit(&mut self) -> bool {
        let deadline = std::time::Instant::now() + WAIT;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("still running; stderr:\n{}", self.stderr_text());
    }
}

/// A temp folder with certs/ (CA, server cert for 127.0.0.1) and a user `scanner`.
pub struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    pub fn new() -> Site {
        let dir = tempfile::tempdir().expect("temp dir");
        let certs = dir.path().join("certs");
        let certs = certs.to_str().expect("utf-8 path");
        crate::support::run_ok(&[
            "make-certs",
            "--host",
            "localhost",
            "--ip",
            "127.0.0.1",
            "--dir",
            certs,
        ]);
        let site = Site { dir };
        site.add_user("scanner", "correct horse", &[]);
        std::fs::write(site.path("password"), "correct horse\n").expect("password file");
        std::fs::create_dir(site.path("scanner")).expect("scanner folder");
        site
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn arg(&self, rel: &str) -> String {
        self.path(rel).to_string_lossy().into_owned()
    }

    /// `data_analyser record` of `count` Skyra volumes from the scanner folder into out/.
    pub fn record(&self, port: u16, dir: &str, pattern: &str, count: u32, log: &str) -> Running {
        self.record_with(port, dir, pattern, count, &[], log)
    }

    /// [`Site::record`] with more arguments (e.g. `--no-anonymize`).
    pub fn record_with(
        &self,
        port: u16,
        dir: &str,
        pattern: &str,
        count: u32,
        extra: &[&str],
        log: &str,
    ) -> Running {
        let port = port.to_string();
        let certs = self.arg("certs");
        let out = self.arg("out");
        let count = count.to_string();
        Running::start(
            Path::new(env!("CARGO_BIN_EXE_data_analyser")),
            &[
                "record",
                "--host",
                "127.0.0.1",
                "--port",
                &port,
                "--certs-dir",
                &certs,
                "--dir",
                dir,
                "--pattern",
                pattern,
                "--count",
                &count,
                "--out",
                &out,
                "--timeout",
                "120",
            ]
            .into_iter()
            .chain(extra.iter().copied())
            .collect::<Vec<_>>(),
            self.path(log),
        )
    }

    /// `data_streamer` serving the scanner folder (.dcm only) to 127.0.0.1:`port`.
    pub fn streamer(&self, port: u16, password_file: &str, log: &str) -> Running {
        self.streamer_as(port, "scanner", password_file, log)
    }

    /// [`Site::streamer`] logged in as `user` (station "scanner", the default).
    pub fn streamer_as(&self, port: u16, user: &str, password_file: &str, log: &str) -> Running {
        self.streamer_with(port, user, password_file, &[], log)
    }

    /// [`Site::streamer_as`] with more arguments (e.g. `--send-identified`).
    pub fn streamer_with(
        &self,
        port: u16,
        user: &str,
        password_file: &str,
        extra: &[&str],
        log: &str,
    ) -> Running {
        let server = format!("127.0.0.1:{port}");
        let (ca, password, scanner) = (
            self.arg("certs/ca.crt"),
            self.arg(password_file),
            self.arg("scanner"),
        );
        Running::start(
            &sibling_bin("data_streamer"),
            &[
                "--server",
                &server,
                "--ca",
                &ca,
                "--user",
                user,
                "--password-file",
                &password,
                "--allowed-dirs",
                &scanner,
                "--allowed-types",
                ".dcm",
            ]
            .into_iter()
            .chain(extra.iter().copied())
            .collect::<Vec<_>>(),
            self.path(log),
        )
    }

    /// Adds `user` with `password` and the `add-user` flags `extra` (e.g. --roles).
    pub fn add_user(&self, user: &str, password: &str, extra: &[&str]) {
        let mut add = ChildGuard::spawn(
            Command::new(env!("CARGO_BIN_EXE_data_analyser"))
                .args(["add-user", "-u", user, "--password-stdin", "--passwd"])
                .arg(self.path("certs/passwd"))
                .args(extra)
                .stdin(Stdio::piped())
                .stdout(Stdio::null()),
        )
        .expect("add-user starts");
        add.stdin
            .take()
            .expect("stdin")
            .write_all(format!("{password}\n").as_bytes())
            .expect("password written");
        assert!(add.wait().expect("add-user ends").success());
    }

    /// `data_streamer replay` of the first `limit` Skyra files (after the duplicate
    /// _000000) into the scanner folder, one every `tr` seconds.
    pub fn replay(&self, skyra: &Path, limit: usize, tr: &str) -> Running {
        let (source, into) = (skyra.to_string_lossy(), self.arg("scanner"));
        let limit = limit.to_string();
        Running::start(
            &sibling_bin("data_streamer"),
            &[
                "replay",
                "--source",
                &source,
                "--into",
                &into,
                "--tr",
                tr,
                "--rename",
                PATTERN,
                "--start-index",
                "1",
                "--limit",
                &limit,
            ],
            self.path("replay.log"),
        )
    }
}

/// The Skyra run without its duplicate first file, as a folder of 10 volumes.
pub fn skyra_run(td: &Path, site: &Site) -> PathBuf {
    let dir = site.path("skyra");
    std::fs::create_dir(&dir).expect("skyra folder");
    for k in 1..=10 {
        let name = format!("001_000013_{k:06}.dcm");
        std::fs::copy(
            td.join("siemens-mosaic-skyra-e11").join(&name),
            dir.join(&name),
        )
        .expect("copy a Skyra file");
    }
    dir
}

/// A binary built beside data_analyser by `cargo test --workspace`.
pub fn sibling_bin(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_data_analyser"))
        .parent()
        .expect("target dir");
    let bin = dir.join(name);
    assert!(
        bin.exists(),
        "{} is missing: build it first (`cargo build -p {name}`; `cargo test --workspace` does)",
        bin.display()
    );
    bin
}

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

impl Site {
    /// `analysis_listener` logged in as the site's user, writing into `out`, its
    /// results server on a free port.
    pub fn listener(&self, port: u16, out: &str, log: &str) -> Running {
        let server = format!("127.0.0.1:{port}");
        let (ca, password, out) = (
            self.arg("certs/ca.crt"),
            self.arg("password"),
            self.arg(out),
        );
        Running::start(
            &sibling_bin("analysis_listener"),
            &[
                "--server",
                &server,
                "--ca",
                &ca,
                "--user",
                "scanner",
                "--password-file",
                &password,
                "--out-dir",
                &out,
                "--results-port",
                "0",
            ],
            self.path(log),
        )
    }

    /// `data_analyser` in project mode with this site's certificates on 127.0.0.1:0,
    /// sessions under sessions/, plus `args`.
    pub fn analyser(&self, args: &[&str], log: &str) -> Running {
        let (certs, sessions) = (self.arg("certs"), self.arg("sessions"));
        let mut all = vec![
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--certs-dir",
            &certs,
            "--sessions-dir",
            &sessions,
        ];
        all.extend_from_slice(args);
        Running::start(
            Path::new(env!("CARGO_BIN_EXE_data_analyser")),
            &all,
            self.path(log),
        )
    }
}

/// The arguments of one run of the built-in sample project on `settings`: fed by a
/// streamer, delivering to listeners, the analyser exiting when the run ends.
pub fn sample_run_args(settings: &str) -> [&str; 8] {
    [
        "--data-remote",
        "--subject-remote",
        "--project",
        "sample",
        "--config",
        settings,
        "--run-on-start",
        "--exit-after-run",
    ]
}
