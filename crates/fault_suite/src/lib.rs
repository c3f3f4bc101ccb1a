//! The fault, load and WAN suite's harness (issue 13; how to run it: docs/faults.md).
//!
//! A [`Session`] is one scenario's site: three network namespaces of its own
//! ([`netns::Hosts`]), the release binaries each in its host (data_streamer on `scan`,
//! data_analyser on `cloud`, analysis_listener on `stim`), test_support's impairment
//! proxy on each link (inside `cloud`, in front of the analyser's one port), real TLS
//! (a CA made by `data_analyser make-certs`), the built-in sample project, and a
//! scanner written by this process: Skyra mosaics from ../shared/testdata (or 1.4 MB
//! synthetic ones, [`Source`]), one every TR, in chunks, under a temporary name or
//! not, with a corrupt file when asked; optionally a web client (curl, logged in) on
//! the stimulus host, and the analyser's memory sampled over the run.
//!
//! Clocks: the suite reads `Instant::now()` when a volume's file is complete in the
//! scanner folder (after its close, or its rename) and when that TR's JSON appears in
//! the listener's folder (polled every [`POLL`]); the difference is the end-to-end
//! latency. Every process runs under test_support's `ChildGuard` (ended with its group
//! when dropped, on failure too); the namespaces go with `Hosts`' drop.

pub mod netns;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use test_support::{ChildGuard, Impairment, Proxy, ProxyConfig};

use netns::{Hosts, Netns, CLOUD_SCAN_IP, CLOUD_STIM_IP};

/// How often the listener's folder is looked at for a new TR.
pub const POLL: Duration = Duration::from_millis(5);
/// The Skyra run's names (the sample project's `dicomNamePattern` with scan 13).
const PATTERN: &str = "001_000013_{TR:06d}.dcm";
const USER: &str = "faults";
const PASSWORD: &str = "fault suite password";

/// The three release binaries, from `RTCLOUD_BIN_DIR` (scripts/test.sh points it at
/// docker/build.sh's output). The suite's tests are `#[ignore]`d so a plain
/// `cargo test --workspace` lists them as skipped; asked for, a missing binary fails.
#[derive(Debug, Clone)]
pub struct Bins {
    pub analyser: PathBuf,
    pub streamer: PathBuf,
    pub listener: PathBuf,
}

impl Bins {
    pub fn from_env() -> Bins {
        let dir = std::env::var_os("RTCLOUD_BIN_DIR")
            .map(PathBuf::from)
            .expect(
                "RTCLOUD_BIN_DIR must name a folder with the release binaries \
             (docker/build.sh target/docker-out; see docs/faults.md)",
            );
        let dir = std::fs::canonicalize(&dir)
            .unwrap_or_else(|e| panic!("RTCLOUD_BIN_DIR {}: {e}", dir.display()));
        let bin = |name: &str| {
            let p = dir.join(name);
            assert!(p.is_file(), "{} is missing", p.display());
            p
        };
        Bins {
            analyser: bin("data_analyser"),
            streamer: bin("data_streamer"),
            listener: bin("analysis_listener"),
        }
    }
}

/// One of the three programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Streamer,
    Analyser,
    Listener,
}

/// A running program: its guard, its stdout lines, its stderr log.
struct Proc {
    child: ChildGuard,
    lines: Receiver<String>,
    log: PathBuf,
    rss_start_kb: Option<u64>,
}

impl Proc {
    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    fn line_after(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return line,
                Ok(_) => {}
                Err(_) => panic!(
                    "no `{prefix}` line; {}:\n{}",
                    self.log.display(),
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                ),
            }
        }
    }
}

/// Resident memory of a process in kB (/proc/PID/status VmRSS).
fn rss_kb(pid: Pid) -> Option<u64> {
    status_kb(pid, "VmRSS:")
}

/// One kB field of /proc/PID/status (`VmRSS:`, `RssAnon:`).
fn status_kb(pid: Pid, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// How often the analyser's memory is sampled for the memory table.
pub const MEMORY_EVERY: Duration = Duration::from_secs(30);

/// How the scanner writes each volume's file.
#[derive(Debug, Clone)]
pub struct Scanner {
    /// Time between the starts of two files.
    pub tr: Duration,
    pub volumes: u32,
    /// Chunks per file: drawn from this range (inclusive).
    pub chunks: (u32, u32),
    /// Pause between two chunks: drawn from 0 to this.
    pub max_pause: Duration,
    /// Odd TRs written as `.NAME.part` then renamed (the pattern does not match the
    /// temporary name); even ones in place.
    pub temp_then_rename: bool,
    /// Every this many TRs (0: never) one pause inside the file lasts 2 s.
    pub long_pause_every: u32,
    /// The scanner folder is created only this long after the run started.
    pub folder_late: Duration,
    /// These TRs get a corrupt file (random bytes of a mosaic's size).
    pub corrupt: Vec<u32>,
    /// What the files hold; TR t gets the source's file (t - 1) % 10.
    pub source: Source,
}

/// Where the scanner's ten distinct files come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The Skyra mosaics of ../shared/testdata (457 KB).
    Skyra,
    /// `imaging::synth` mosaics of this matrix and slice count (96 and 72: 1.4 MB,
    /// a multiband EPI's size).
    Synth { matrix: usize, slices: usize },
}

impl Source {
    /// The ten files, in memory.
    fn files(self, skyra: &Path) -> Vec<Vec<u8>> {
        match self {
            Source::Skyra => (1..=10)
                .map(|i| {
                    std::fs::read(skyra.join(format!("001_000013_{i:06}.dcm")))
                        .expect("a Skyra file")
                })
                .collect(),
            Source::Synth { matrix, slices } => {
                let synth = imaging::synth::Synth::new(imaging::synth::SynthSpec {
                    volumes: 10,
                    tr_s: 0.5,
                    matrix,
                    slices,
                    series_number: 13,
                    ..Default::default()
                })
                .expect("a synthetic run");
                (0..10)
                    .map(|i| synth.file(i).expect("a synthetic volume").bytes)
                    .collect()
            }
        }
    }
}

impl Scanner {
    /// `volumes` files, one every `tr`, each in one write.
    pub fn plain(volumes: u32, tr: Duration) -> Scanner {
        Scanner {
            tr,
            volumes,
            chunks: (1, 1),
            max_pause: Duration::ZERO,
            temp_then_rename: false,
            long_pause_every: 0,
            folder_late: Duration::ZERO,
            corrupt: Vec::new(),
            source: Source::Skyra,
        }
    }
}

/// One scenario's setup.
#[derive(Debug, Clone)]
pub struct Setup {
    pub name: String,
    pub scanner: Scanner,
    /// `--no-compression` on the streamer when false.
    pub compression: bool,
    /// Streamer to analyser, analyser to streamer.
    pub scan_link: (Impairment, Impairment),
    /// Listener to analyser, analyser to listener.
    pub stim_link: (Impairment, Impairment),
    /// More data_streamer options.
    pub streamer_args: Vec<String>,
    /// More environment for data_analyser (the allocator experiments of
    /// docs/faults.md, e.g. `MALLOC_ARENA_MAX`).
    pub analyser_env: Vec<(String, String)>,
    /// A web client on the stimulus host: logs in to the analyser's web page (TLS,
    /// through the stimulus link) and asks for `/api/state` this often.
    pub web_poll: Option<Duration>,
}

impl Setup {
    pub fn new(name: &str, scanner: Scanner) -> Setup {
        Setup {
            name: name.into(),
            scanner,
            compression: true,
            scan_link: Default::default(),
            stim_link: Default::default(),
            streamer_args: Vec::new(),
            analyser_env: Vec::new(),
            web_poll: None,
        }
    }
}

/// A small deterministic generator for chunk counts, pauses and corrupt bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

type Times = Arc<Mutex<BTreeMap<u32, Instant>>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One scenario's running site. Dropping it ends every process (ChildGuard) and then
/// deletes the namespaces.
pub struct Session {
    pub setup: Setup,
    bins: Bins,
    skyra: PathBuf,
    /// The scanner's ten files (see [`Source`]).
    files: Vec<Vec<u8>>,
    // Field order is drop order: processes first, then proxies, then the hosts.
    procs: BTreeMap<Role, Proc>,
    starts: BTreeMap<Role, u32>,
    proxies: Option<(Proxy, Proxy)>,
    hosts: Hosts,
    dir: tempfile::TempDir,
    analyser_port: u16,
    /// When each TR's file was complete in the scanner folder.
    pub closed: Times,
    /// When each TR's JSON appeared in the listener's folder.
    pub seen: Times,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    started: Instant,
    load_start: String,
    /// The analyser's pid (0 while it is down), for the memory sampler.
    analyser_pid: Arc<std::sync::atomic::AtomicI32>,
    /// The analyser's memory every [`MEMORY_EVERY`]: (seconds into the run, VmRSS kB,
    /// RssAnon kB).
    pub memory: Arc<Mutex<Vec<(u64, u64, u64)>>>,
    /// The web client's polls: (HTTP status, seconds curl took).
    web: Arc<Mutex<Vec<(u16, f64)>>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("setup", &self.setup)
            .field("hosts", &self.hosts)
            .finish()
    }
}

impl Session {
    /// Sets up the hosts and starts the three programs; the run starts when both
    /// clients are connected. `None` (a skip) only when ../shared/testdata is missing
    /// outside CI.
    pub fn start(setup: Setup) -> Option<Session> {
        let testdata = test_support::shared_testdata()?;
        let bins = Bins::from_env();
        let hosts = Hosts::new().unwrap_or_else(|e| panic!("network namespaces: {e}"));
        let dir = tempfile::tempdir().expect("temp dir");
        let at = |rel: &str| dir.path().join(rel);
        let arg = |rel: &str| at(rel).display().to_string();
        tool(
            &bins.analyser,
            &[
                "make-certs",
                "--host",
                "localhost",
                "--ip",
                CLOUD_SCAN_IP,
                "--ip",
                CLOUD_STIM_IP,
                "--dir",
                &arg("certs"),
            ],
            None,
        );
        tool(
            &bins.analyser,
            &[
                "add-user",
                "-u",
                USER,
                "--password-stdin",
                "--passwd",
                &arg("certs/passwd"),
            ],
            Some(&format!("{PASSWORD}\n")),
        );
        std::fs::write(at("password"), format!("{PASSWORD}\n")).expect("password file");
        std::fs::set_permissions(
            at("password"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .expect("password file mode");
        // The streamer serves scans/; the scanner makes scans/run (late, if asked).
        std::fs::create_dir_all(at("scans")).expect("scans folder");
        std::fs::create_dir_all(at("feedback")).expect("feedback folder");
        let settings = format!(
            "subjectName = \"faults\"\nrunNum = [1]\nscanNum = [13]\nimgDir = {:?}\n\
             dicomNamePattern = \"001_{{SCAN:06d}}_{{TR:06d}}.dcm\"\n\
             minExpectedDicomSize = 200000\nnumTRs = {}\nfeedbackMin = 0.0\n\
             feedbackMax = 1500.0\n",
            arg("scans/run"),
            setup.scanner.volumes
        );
        std::fs::write(at("sample.toml"), settings).expect("settings");

        let mut session = Session {
            skyra: testdata.join("siemens-mosaic-skyra-e11"),
            files: Vec::new(),
            bins,
            procs: BTreeMap::new(),
            starts: BTreeMap::new(),
            proxies: None,
            hosts,
            dir,
            analyser_port: 0,
            closed: Times::default(),
            seen: Times::default(),
            stop: Arc::default(),
            threads: Vec::new(),
            started: Instant::now(),
            load_start: load(),
            analyser_pid: Arc::default(),
            memory: Arc::default(),
            web: Arc::default(),
            setup,
        };
        session.start_role(Role::Analyser);
        let target = ([127, 0, 0, 1], session.analyser_port).into();
        let proxy = |listen: &str, (to_target, to_client): (Impairment, Impairment)| {
            Proxy::with(ProxyConfig {
                listen: (listen.parse::<std::net::IpAddr>().expect("ip"), 0).into(),
                target,
                to_target,
                to_client,
                netns: Some(session.hosts.cloud.path()),
            })
            .expect("proxy in the cloud namespace")
        };
        session.proxies = Some((
            proxy(CLOUD_SCAN_IP, session.setup.scan_link),
            proxy(CLOUD_STIM_IP, session.setup.stim_link),
        ));
        session.start_role(Role::Streamer);
        session.start_role(Role::Listener);
        session.wait_for_launch();
        for proc in session.procs.values_mut() {
            proc.rss_start_kb = rss_kb(proc.pid());
        }
        // Made before the clock starts: the first synthetic volumes are not late.
        session.files = session.setup.scanner.source.files(&session.skyra);
        session.started = Instant::now();
        session.spawn_scanner();
        session.spawn_watcher();
        session.spawn_memory_sampler();
        if let Some(every) = session.setup.web_poll {
            session.spawn_web_client(every);
        }
        Some(session)
    }

    /// The proxy between the streamer and the analyser.
    pub fn scan_proxy(&self) -> &Proxy {
        &self.proxies.as_ref().expect("started").0
    }

    /// The proxy between the listener and the analyser.
    pub fn stim_proxy(&self) -> &Proxy {
        &self.proxies.as_ref().expect("started").1
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn arg(&self, rel: &str) -> String {
        self.path(rel).display().to_string()
    }

    /// Starts (or restarts) one program in its host.
    pub fn start_role(&mut self, role: Role) {
        let starts = {
            let n = self.starts.entry(role).or_default();
            *n += 1;
            *n
        };
        let (ns, bin, args, log): (&Netns, &Path, Vec<String>, &str) = match role {
            Role::Analyser => (
                &self.hosts.cloud,
                &self.bins.analyser,
                [
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--certs-dir",
                    &self.arg("certs"),
                    "--sessions-dir",
                    &self.arg("sessions"),
                    "--project",
                    "sample",
                    "--config",
                    &self.arg("sample.toml"),
                    "--data-remote",
                    "--subject-remote",
                    "--run-on-start",
                ]
                .map(String::from)
                .to_vec(),
                "analyser",
            ),
            Role::Streamer => {
                let mut a = self.login(CLOUD_SCAN_IP, self.scan_proxy().port());
                a.extend(
                    [
                        "--allowed-dirs",
                        &self.arg("scans"),
                        "--allowed-types",
                        ".dcm",
                    ]
                    .map(String::from),
                );
                if !self.setup.compression {
                    a.push("--no-compression".into());
                }
                a.extend(self.setup.streamer_args.iter().cloned());
                (&self.hosts.scan, &self.bins.streamer, a, "streamer")
            }
            Role::Listener => {
                let mut a = self.login(CLOUD_STIM_IP, self.stim_proxy().port());
                a.extend(
                    ["--out-dir", &self.arg("feedback"), "--results-port", "0"].map(String::from),
                );
                (&self.hosts.stim, &self.bins.listener, a, "listener")
            }
        };
        let log = self.path(&format!("{log}-{starts}.log"));
        let env = match role {
            Role::Analyser => self.setup.analyser_env.clone(),
            _ => Vec::new(),
        };
        let (child, lines) = ChildGuard::spawn_lines(
            ns.command(bin)
                .args(&args)
                .envs(env)
                .env("RUST_LOG", "info")
                .stdin(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("log file")),
        )
        .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let mut proc = Proc {
            child,
            lines,
            log,
            rss_start_kb: None,
        };
        match role {
            Role::Analyser => {
                self.analyser_pid
                    .store(proc.pid().as_raw(), Ordering::SeqCst);
                let line = proc.line_after("Listening on: ");
                self.analyser_port = line
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .expect("a port");
                // A restarted analyser has a new port behind the same addresses.
                if let Some((scan, stim)) = &self.proxies {
                    let to = ([127, 0, 0, 1], self.analyser_port).into();
                    scan.retarget(to);
                    stim.retarget(to);
                }
            }
            Role::Listener => {
                proc.line_after("Results server: ");
            }
            Role::Streamer => {}
        }
        if !self.threads.is_empty() {
            // A restart: its memory from now (the first start's is read when the
            // scanner starts, once everything is connected).
            proc.rss_start_kb = rss_kb(proc.pid());
        }
        self.procs.insert(role, proc);
    }

    fn login(&self, ip: &str, port: u16) -> Vec<String> {
        [
            "--server",
            &format!("{ip}:{port}"),
            "--ca",
            &self.arg("certs/ca.crt"),
            "--user",
            USER,
            "--password-file",
            &self.arg("password"),
        ]
        .map(String::from)
        .to_vec()
    }

    /// Sends `signal` to a program (SIGKILL: it is reaped and forgotten; restart it
    /// with [`Session::start_role`]).
    pub fn signal(&mut self, role: Role, signal: Signal) {
        let proc = self.procs.get_mut(&role).expect("running");
        kill(proc.pid(), signal).expect("signal");
        if signal == Signal::SIGKILL {
            if role == Role::Analyser {
                self.analyser_pid.store(0, Ordering::SeqCst);
            }
            let _ = proc.child.wait();
            self.procs.remove(&role);
        }
    }

    /// The analyser's largest RssAnon (kB) until its session log says the run's BIDS
    /// dataset is written (at most 120 s), sampled every 100 ms.
    fn end_of_run_peak(&self) -> Option<u64> {
        let pid = Pid::from_raw(self.analyser_pid.load(Ordering::SeqCst));
        let log = self.launch_dir()?.join("../../session.log");
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut peak = None;
        while Instant::now() < deadline {
            peak = peak.max(status_kb(pid, "RssAnon:"));
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains("BIDS dataset:") {
                return peak;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        peak
    }

    /// The launch folder of the analyser's newest session (a restarted analyser starts
    /// a new one).
    fn launch_dir(&self) -> Option<PathBuf> {
        let sessions = self.path("sessions/sample");
        let mut stamps: Vec<PathBuf> = std::fs::read_dir(sessions)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        stamps.sort();
        Some(stamps.last()?.join("launches/001-main"))
    }

    fn wait_for_launch(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self
            .launch_dir()
            .is_some_and(|d| d.join("config.toml").exists())
        {
            assert!(
                Instant::now() < deadline,
                "the run did not start:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // The project opens its scanner stream right after its launch.
        std::thread::sleep(Duration::from_millis(500));
    }

    /// Every program's stderr, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        if let Ok(dir) = std::fs::read_dir(self.dir.path()) {
            let mut logs: Vec<PathBuf> = dir
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "log"))
                .collect();
            logs.sort();
            for log in logs {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                out += &format!("--- {} (last lines)\n", log.display());
                for l in tail.iter().rev() {
                    out += l;
                    out.push('\n');
                }
            }
        }
        out
    }

    fn spawn_scanner(&mut self) {
        let scanner = self.setup.scanner.clone();
        let (folder, closed, stop) = (
            self.path("scans/run"),
            self.closed.clone(),
            self.stop.clone(),
        );
        let start = self.started;
        let files = std::mem::take(&mut self.files);
        self.threads.push(std::thread::spawn(move || {
            let mut rng = Rng(0x5eed_f00d_u64);
            std::thread::sleep(scanner.folder_late);
            std::fs::create_dir_all(&folder).expect("scanner folder");
            let mut writers = Vec::new();
            for tr in 1..=scanner.volumes {
                let due = start + scanner.tr * (tr - 1);
                while Instant::now() < due {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    std::thread::sleep((due - Instant::now()).min(Duration::from_millis(50)));
                }
                let mut bytes = files[((tr - 1) % 10) as usize].clone();
                if scanner.corrupt.contains(&tr) {
                    for b in bytes.iter_mut() {
                        *b = rng.next() as u8;
                    }
                }
                let (lo, hi) = scanner.chunks;
                let chunks = lo + rng.below(u64::from(hi - lo + 1)) as u32;
                let mut pauses: Vec<Duration> = (1..chunks)
                    .map(|_| scanner.max_pause.mul_f64(rng.below(1001) as f64 / 1000.0))
                    .collect();
                if scanner.long_pause_every > 0 && tr % scanner.long_pause_every == 0 {
                    if let Some(p) = pauses.first_mut() {
                        *p = Duration::from_secs(2);
                    }
                }
                let name = PATTERN.replace("{TR:06d}", &format!("{tr:06}"));
                let (folder, closed, rename) = (
                    folder.clone(),
                    closed.clone(),
                    scanner.temp_then_rename && tr % 2 == 1,
                );
                // A writer per file: a slow file does not hold back the next TR's.
                writers.push(std::thread::spawn(move || {
                    write_volume(&folder, &name, &bytes, &pauses, rename);
                    lock(&closed).insert(tr, Instant::now());
                }));
            }
            for w in writers {
                let _ = w.join();
            }
        }));
    }

    /// Samples the analyser's VmRSS and RssAnon every [`MEMORY_EVERY`] (and once at
    /// the end, in `finish`).
    fn spawn_memory_sampler(&mut self) {
        let (pid, memory, stop, start) = (
            self.analyser_pid.clone(),
            self.memory.clone(),
            self.stop.clone(),
            self.started,
        );
        self.threads.push(std::thread::spawn(move || {
            let mut next = start;
            while !stop.load(Ordering::SeqCst) {
                if Instant::now() >= next {
                    sample_memory(&pid, &memory, start);
                    next += MEMORY_EVERY;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }));
    }

    /// The web client: `curl` in the stimulus host logs in (cookie jar) and then
    /// asks for `/api/state` every `every`, recording each answer's status and time.
    fn spawn_web_client(&mut self, every: Duration) {
        let base = format!("https://{CLOUD_STIM_IP}:{}", self.stim_proxy().port());
        let ns = self.hosts.stim.clone();
        let (ca, jar) = (self.arg("certs/ca.crt"), self.arg("web-cookies"));
        let curl = move |args: &[&str]| -> Option<(u16, f64)> {
            let out = ns
                .command(Path::new("curl"))
                .args(["-s", "-o", "/dev/null", "--max-time", "10", "--cacert", &ca])
                .args(["-b", &jar, "-c", &jar, "-w", "%{http_code} %{time_total}"])
                .args(args)
                .stdin(Stdio::null())
                .output()
                .ok()?;
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            let (code, secs) = text.split_once(' ')?;
            Some((code.parse().ok()?, secs.trim().parse().ok()?))
        };
        let (web, stop) = (self.web.clone(), self.stop.clone());
        let login = format!("{{\"user\":\"{USER}\",\"password\":\"{PASSWORD}\"}}");
        self.threads.push(std::thread::spawn(move || {
            let signed_in = curl(&[
                "-H",
                "Content-Type: application/json",
                "--data",
                &login,
                &format!("{base}/api/login"),
            ]);
            lock(&web).push(signed_in.unwrap_or((0, 0.0)));
            let state = format!("{base}/api/state");
            let mut next = Instant::now();
            while !stop.load(Ordering::SeqCst) {
                if Instant::now() >= next {
                    lock(&web).push(curl(&[&state]).unwrap_or((0, 0.0)));
                    next += every;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }));
    }

    fn spawn_watcher(&mut self) {
        let (run, seen, stop) = (
            self.path("feedback/run-1"),
            self.seen.clone(),
            self.stop.clone(),
        );
        let last = self.setup.scanner.volumes;
        self.threads.push(std::thread::spawn(move || {
            let mut next = 1u32;
            while !stop.load(Ordering::SeqCst) && next <= last {
                // A failed TR has no result, so look a little ahead; results come in
                // order (results.tsv is checked for it), so once a later TR is there
                // an earlier one missing never comes.
                for tr in next..=(next + 8).min(last) {
                    if !lock(&seen).contains_key(&tr)
                        && run.join(format!("tr-{tr:04}.json")).exists()
                    {
                        lock(&seen).insert(tr, Instant::now());
                    }
                }
                if let Some(newest) = lock(&seen).keys().next_back() {
                    next = next.max(newest + 1);
                }
                std::thread::sleep(POLL);
            }
        }));
    }

    /// Blocks until TR `tr`'s result is in the listener's folder.
    pub fn wait_result(&self, tr: u32, guard: Duration) -> Instant {
        let deadline = Instant::now() + guard;
        loop {
            if let Some(t) = lock(&self.seen).get(&tr) {
                return *t;
            }
            assert!(
                Instant::now() < deadline,
                "{}: no result for TR {tr}\n{}",
                self.setup.name,
                self.logs()
            );
            std::thread::sleep(POLL);
        }
    }

    /// Time since the scanner started writing.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Waits for the run's end (every TR's result, or its failure reported), checks
    /// the invariants, ends everything and returns the figures.
    pub fn finish(mut self, recover_ms: Option<f64>) -> Figures {
        let volumes = self.setup.scanner.volumes;
        let corrupt = self.setup.scanner.corrupt.clone();
        let guard = Duration::from_secs(120);
        let last_good = (1..=volumes)
            .rev()
            .find(|t| !corrupt.contains(t))
            .unwrap_or(1);
        let end_at = self.started + self.setup.scanner.tr * volumes;
        let wait = end_at.saturating_duration_since(Instant::now()) + guard;
        let run_end = self.wait_result(last_good, wait);
        let run_end_s = run_end.saturating_duration_since(self.started).as_secs();
        // Anything that would come twice or late has a moment to show itself.
        std::thread::sleep(Duration::from_secs(2));
        sample_memory(&self.analyser_pid, &self.memory, self.started);
        // The session's end-of-run work: the run becomes a BIDS run (issue 11), built
        // in memory from every volume. Its peak, sampled every 100 ms until the
        // session log says it is written, and the memory 3 s after.
        let dataset_peak_kb = self.end_of_run_peak();
        std::thread::sleep(Duration::from_secs(3));
        sample_memory(&self.analyser_pid, &self.memory, self.started);
        let rss_end: BTreeMap<Role, Option<u64>> = self
            .procs
            .iter()
            .map(|(r, p)| (*r, rss_kb(p.pid())))
            .collect();
        let rss_start: BTreeMap<Role, Option<u64>> = self
            .procs
            .iter()
            .map(|(r, p)| (*r, p.rss_start_kb))
            .collect();
        // No program ended by itself, none panicked.
        for (role, proc) in self.procs.iter_mut() {
            let status = proc.child.try_wait().expect("try_wait");
            assert!(
                status.is_none(),
                "{}: {role:?} exited ({status:?})\n{}",
                self.setup.name,
                std::fs::read_to_string(&proc.log).unwrap_or_default()
            );
        }
        let name = self.setup.name.clone();
        let logs = self.logs();
        for entry in std::fs::read_dir(self.dir.path()).expect("site").flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            assert!(
                !text.contains("panicked"),
                "{name}: a panic in {}",
                entry.path().display()
            );
        }
        self.stop.store(true, Ordering::SeqCst);
        for t in std::mem::take(&mut self.threads) {
            let _ = t.join();
        }

        // Every volume once and in order to the project: the launch's volumes.tsv.
        let launch = self.launch_dir().expect("launch folder");
        let volumes_tsv = std::fs::read_to_string(launch.join("volumes.tsv")).unwrap_or_default();
        let served: Vec<u32> = volumes_tsv
            .lines()
            .filter_map(|l| l.split('\t').next()?.parse().ok())
            .collect();
        let expected: Vec<u32> = (1..=volumes).filter(|t| !corrupt.contains(t)).collect();
        assert_eq!(
            served, expected,
            "{name}: volumes handed to the project\n{logs}"
        );
        // A failed volume is reported with its file named.
        let session_log =
            std::fs::read_to_string(launch.join("../../session.log")).unwrap_or_default();
        for tr in &corrupt {
            let file = PATTERN.replace("{TR:06d}", &format!("{tr:06}"));
            assert!(
                session_log.contains(&file),
                "{name}: the failed TR {tr} is not reported by its file {file}\n{session_log}"
            );
        }
        // Every result once and in order at the listener, and each the same as every
        // other result of the same scanner file (no half-written file read).
        let results =
            std::fs::read_to_string(self.path("feedback/run-1/results.tsv")).unwrap_or_default();
        let mut trs = Vec::new();
        let mut by_source: BTreeMap<u32, String> = BTreeMap::new();
        for line in results.lines().skip(1) {
            let f: Vec<&str> = line.split('\t').collect();
            let tr: u32 = f[2].parse().expect("a TR");
            trs.push(tr);
            let value = f[3].to_string();
            let source = (tr - 1) % 10;
            let first = by_source.entry(source).or_insert_with(|| value.clone());
            assert_eq!(
                *first, value,
                "{name}: TR {tr}'s result differs from its file's other results"
            );
        }
        assert_eq!(trs, expected, "{name}: results at the listener\n{logs}");

        // Figures.
        let closed = lock(&self.closed).clone();
        let seen = lock(&self.seen).clone();
        let mut ms: Vec<f64> = expected
            .iter()
            .filter_map(|tr| {
                let (c, s) = (closed.get(tr)?, seen.get(tr)?);
                Some(s.saturating_duration_since(*c).as_secs_f64() * 1000.0)
            })
            .collect();
        ms.sort_by(f64::total_cmp);
        // Latency by minute of the run (by when the volume's file was complete).
        let mut minutes: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
        for tr in &expected {
            if let (Some(c), Some(s)) = (closed.get(tr), seen.get(tr)) {
                let minute = c.saturating_duration_since(self.started).as_secs() / 60;
                minutes
                    .entry(minute)
                    .or_default()
                    .push(s.saturating_duration_since(*c).as_secs_f64() * 1000.0);
            }
        }
        let per_minute = minutes
            .into_values()
            .map(|mut v| {
                v.sort_by(f64::total_cmp);
                (
                    v.len(),
                    test_support::percentile(&v, 0.5),
                    test_support::percentile(&v, 0.99),
                )
            })
            .collect();
        // The web client: signed in, and every poll answered.
        let web = lock(&self.web).clone();
        if self.setup.web_poll.is_some() {
            assert!(
                web.len() > 1 && web.iter().all(|(code, _)| *code == 200),
                "{name}: web polls not all answered 200: {:?}",
                web.iter()
                    .filter(|(c, _)| *c != 200)
                    .take(10)
                    .collect::<Vec<_>>()
            );
        }
        let mut web_ms: Vec<f64> = web.iter().skip(1).map(|(_, s)| s * 1000.0).collect();
        web_ms.sort_by(f64::total_cmp);
        let rss = |m: &BTreeMap<Role, Option<u64>>| {
            m.iter()
                .map(|(r, kb)| {
                    format!(
                        "{} {}",
                        match r {
                            Role::Streamer => "S",
                            Role::Analyser => "A",
                            Role::Listener => "L",
                        },
                        kb.map_or("?".into(), |k| format!("{:.0}", k as f64 / 1024.0))
                    )
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        let figures = Figures {
            name,
            volumes,
            delivered: trs.len(),
            p50_ms: test_support::percentile(&ms, 0.5),
            p99_ms: test_support::percentile(&ms, 0.99),
            max_ms: ms.last().copied().unwrap_or(f64::NAN),
            recover_ms,
            scan_bytes: self.scan_proxy().bytes(),
            stim_bytes: self.stim_proxy().bytes(),
            rss: format!("{} -> {}", rss(&rss_start), rss(&rss_end)),
            load: format!("{} -> {}", self.load_start, load()),
            per_minute,
            web_polls: (!web_ms.is_empty()).then(|| {
                (
                    web_ms.len(),
                    test_support::percentile(&web_ms, 0.5),
                    test_support::percentile(&web_ms, 0.99),
                )
            }),
            rss_kb: rss_start
                .iter()
                .map(|(r, kb)| (*r, (kb.unwrap_or(0), rss_end[r].unwrap_or(0))))
                .collect(),
            analyser_memory: lock(&self.memory).clone(),
            run_end_s,
            dataset_peak_kb,
        };
        figures.append();
        figures
    }
}

/// One sample of the analyser's memory, if it is running.
fn sample_memory(
    pid: &std::sync::atomic::AtomicI32,
    memory: &Mutex<Vec<(u64, u64, u64)>>,
    start: Instant,
) {
    let pid = Pid::from_raw(pid.load(Ordering::SeqCst));
    if pid.as_raw() == 0 {
        return;
    }
    if let (Some(rss), Some(anon)) = (status_kb(pid, "VmRSS:"), status_kb(pid, "RssAnon:")) {
        lock(memory).push((start.elapsed().as_secs(), rss, anon));
    }
}

/// Appends `text` to `name` beside the results table, and prints it.
fn append_to(name: &str, text: &str) {
    let path = results_path().with_file_name(name);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("results folder");
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .expect("results file");
    file.write_all(text.as_bytes()).expect("results written");
    print!("{text}");
    let _ = std::io::stdout().lock().flush();
}

/// The results table: `FAULTS_RESULTS`, default target/fault-suite/results.md.
fn results_path() -> PathBuf {
    std::env::var_os("FAULTS_RESULTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fault-suite/results.md")
        })
}

/// Writes one volume's file as a scanner does: in chunks with pauses, under a
/// temporary name (renamed into place at the end) or its own.
fn write_volume(folder: &Path, name: &str, bytes: &[u8], pauses: &[Duration], rename: bool) {
    let target = folder.join(name);
    let path = if rename {
        folder.join(format!(".{name}.part"))
    } else {
        target.clone()
    };
    let mut file = std::fs::File::create(&path).expect("scanner file");
    let chunk = bytes.len().div_ceil(pauses.len() + 1);
    for (i, part) in bytes.chunks(chunk.max(1)).enumerate() {
        file.write_all(part).expect("write");
        file.flush().expect("flush");
        if let Some(p) = pauses.get(i) {
            std::thread::sleep(*p);
        }
    }
    drop(file);
    if rename {
        std::fs::rename(&path, &target).expect("rename");
    }
}

/// `data_analyser TOOL ...` (make-certs, add-user) in the host's namespace.
fn tool(bin: &Path, args: &[&str], stdin: Option<&str>) {
    let mut child = ChildGuard::spawn(
        Command::new(bin)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null()),
    )
    .expect("data_analyser starts");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("stdin written");
    }
    drop(child.stdin.take());
    assert!(
        child.wait().expect("ends").success(),
        "data_analyser {args:?}"
    );
}

/// The 1-minute load average and the number of CPUs (the machine is shared).
fn load() -> String {
    let avg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    avg.split_whitespace().next().unwrap_or("?").to_string()
}

/// One scenario's figures, one row of the results table.
#[derive(Debug, Clone)]
pub struct Figures {
    pub name: String,
    pub volumes: u32,
    pub delivered: usize,
    /// close() (or rename) in the scanner folder to the TR's JSON in the listener's.
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// From the end of the fault to the first result after it.
    pub recover_ms: Option<f64>,
    /// Bytes through the proxies: (up, down).
    pub scan_bytes: (u64, u64),
    pub stim_bytes: (u64, u64),
    /// Resident memory in MiB of streamer, analyser and listener at start -> end.
    pub rss: String,
    /// The machine's 1-minute load average at start -> end.
    pub load: String,
    /// Per minute of the run: (volumes, p50 ms, p99 ms).
    pub per_minute: Vec<(usize, f64, f64)>,
    /// The web client's polls after its login: (count, p50 ms, p99 ms).
    pub web_polls: Option<(usize, f64, f64)>,
    /// Resident memory in kB at start and end, by program (its last start).
    pub rss_kb: BTreeMap<Role, (u64, u64)>,
    /// The analyser's (seconds, VmRSS kB, RssAnon kB) every [`MEMORY_EVERY`], then
    /// 2 s after the last result and 3 s after the BIDS run was written.
    pub analyser_memory: Vec<(u64, u64, u64)>,
    /// Seconds into the run of the last result: samples before it are the run's.
    pub run_end_s: u64,
    /// The analyser's largest RssAnon (kB) while it wrote the run's BIDS dataset.
    pub dataset_peak_kb: Option<u64>,
}

impl Figures {
    /// The analyser's RssAnon (kB) during the run, from the first sample at least
    /// `warm` seconds in to the last before the run ended: (first, largest).
    pub fn analyser_growth(&self, warm: u64) -> Option<(u64, u64)> {
        let during: Vec<u64> = self
            .analyser_memory
            .iter()
            .filter(|(s, _, _)| *s >= warm && *s < self.run_end_s)
            .map(|(_, _, anon)| *anon)
            .collect();
        Some((*during.first()?, *during.iter().max()?))
    }
}

/// The header of the results table.
pub const TABLE_HEADER: &str = "| scenario | TRs | results | p50 ms | p99 ms | max ms | recovery ms | scanner link up / down MB | stimulus link up / down kB | RSS MiB start -> end | load |\n|---|---|---|---|---|---|---|---|---|---|---|\n";

impl Figures {
    pub fn row(&self) -> String {
        let mb = |(a, b): (u64, u64)| format!("{:.1} / {:.2}", a as f64 / 1e6, b as f64 / 1e6);
        let kb = |(a, b): (u64, u64)| format!("{:.0} / {:.0}", a as f64 / 1e3, b as f64 / 1e3);
        format!(
            "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {} | {} | {} | {} | {} |\n",
            self.name,
            self.volumes,
            self.delivered,
            self.p50_ms,
            self.p99_ms,
            self.max_ms,
            self.recover_ms.map_or("-".into(), |r| format!("{r:.0}")),
            mb(self.scan_bytes),
            kb(self.stim_bytes),
            self.rss,
            self.load
        )
    }

    /// The details beside the row: latency by minute, the web client's polls, the
    /// analyser's memory over the run (details.md).
    pub fn details(&self) -> String {
        let minutes: Vec<String> = self
            .per_minute
            .iter()
            .enumerate()
            .map(|(m, (n, p50, p99))| format!("min {}: {n} vols {p50:.0}/{p99:.0}", m + 1))
            .collect();
        let memory: Vec<String> = self
            .analyser_memory
            .iter()
            .map(|(s, rss, anon)| format!("{s} s {}/{}", rss / 1024, anon / 1024))
            .collect();
        let mut out = format!("- **{}**\n", self.name);
        out += &format!("  - p50/p99 ms by minute: {}\n", minutes.join("; "));
        if let Some((n, p50, p99)) = self.web_polls {
            out += &format!(
                "  - web client: {n} polls of /api/state, all 200, p50/p99 {p50:.0}/{p99:.0} ms\n"
            );
        }
        out += &format!(
            "  - analyser VmRSS/RssAnon MiB: {} (last result at {} s; RssAnon peak {} MiB \
             while the run's BIDS dataset was built)\n",
            memory.join(", "),
            self.run_end_s,
            self.dataset_peak_kb
                .map_or("?".into(), |kb| format!("{}", kb / 1024))
        );
        out
    }

    /// Appends the row to the results table (`FAULTS_RESULTS`, default
    /// target/fault-suite/results.md) and the details to details.md beside it, and
    /// prints them.
    pub fn append(&self) {
        append_to("details.md", &self.details());
        let path = results_path();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("results folder");
        }
        let fresh = !path.exists();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .expect("results table");
        let mut text = String::new();
        if fresh {
            text += TABLE_HEADER;
        }
        text += &self.row();
        file.write_all(text.as_bytes()).expect("row written");
        print!("{}", self.row());
        let _ = std::io::stdout().lock().flush();
    }
}
