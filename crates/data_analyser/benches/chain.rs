//! The whole chain, as the participant experiences it: from the scanner's final write
//! and close() of a DICOM file to that TR's result JSON being renamed into
//! analysis_listener's folder. Real release binaries, TLS on loopback: a replaying
//! "scanner" (4 chunks, 5 ms apart, like a slow writer), data_streamer, data_analyser
//! running the built-in sample project (a separate process, over the project API), and
//! analysis_listener. Prints p50/p99 over BENCH_VOLUMES (default 200) Skyra mosaics,
//! the share of each hop, and how soon a long-poll on the listener's results server
//! returns. Asserts nothing.
//!
//! `BENCH_PREPROCESS=1` runs the built-in roi-feedback with its preprocessing on
//! (motion correction, nuisance regression with the task) instead of sample.
//! Protocol QA (issue 12) on the console and the analyser is measured by running the
//! chain twice in one run, `BENCH_QA=both` (default): streamer with `--no-protocol-qa`
//! first, then with QA on, and the ratio of their p50s; `off` or `on` runs one chain.
//!
//! `scripts/bench.sh` builds the sibling binaries first; by hand:
//! `cargo build --release -p data_streamer -p analysis_listener && cargo bench -p data_analyser --bench chain`

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use filestore::{FilePattern, ReplayOptions};
use notify::Watcher;
use test_support::{env_or, percentile};

type Error = Box<dyn std::error::Error>;

fn epoch(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// A child process stopped with its process group when dropped, its stdout lines on a
/// channel.
struct Proc {
    _child: test_support::ChildGuard,
    lines: mpsc::Receiver<String>,
}

impl Proc {
    fn start(bin: &Path, args: &[&str], log: &Path) -> Result<Proc, Error> {
        let (child, lines) = test_support::ChildGuard::spawn_lines(
            Command::new(bin)
                .args(args)
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stderr(std::fs::File::create(log)?),
        )
        .map_err(|e| format!("{}: {e}", bin.display()))?;
        Ok(Proc {
            _child: child,
            lines,
        })
    }

    fn port_after(&self, prefix: &str) -> Result<u16, Error> {
        loop {
            let line = self.lines.recv_timeout(Duration::from_secs(60))?;
            if let Some(rest) = line.strip_prefix(prefix) {
                return Ok(rest.rsplit(':').next().ok_or("no port")?.parse()?);
            }
        }
    }
}

fn sibling(name: &str) -> Result<PathBuf, Error> {
    let bin = Path::new(env!("CARGO_BIN_EXE_data_analyser"))
        .parent()
        .ok_or("no target dir")?
        .join(name);
    if !bin.exists() {
        return Err(format!("{} missing: cargo build --release -p {name}", bin.display()).into());
    }
    Ok(bin)
}

fn analyser_tool(args: &[&str], stdin: Option<&str>) -> Result<(), Error> {
    let mut child = test_support::ChildGuard::spawn(
        Command::new(env!("CARGO_BIN_EXE_data_analyser"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null()),
    )?;
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .ok_or("stdin")?
            .write_all(text.as_bytes())?;
    }
    if !child.wait()?.success() {
        return Err(format!("data_analyser {args:?} failed").into());
    }
    Ok(())
}

/// GET on the listener's results server; returns when the whole answer is in.
fn long_poll(port: u16, tr: usize) -> Result<SystemTime, Error> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    write!(
        stream,
        "GET /results/1/{tr}?wait_ms=60000 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    if !response.starts_with("HTTP/1.1 200") {
        return Err(format!("TR {tr}: {}", response.lines().next().unwrap_or("")).into());
    }
    Ok(SystemTime::now())
}

fn column(
    path: &Path,
    skip: usize,
    key: usize,
    value: usize,
) -> Result<BTreeMap<usize, f64>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = BTreeMap::new();
    for line in text.lines().skip(skip) {
        let f: Vec<&str> = line.split('\t').collect();
        out.insert(f[key].parse()?, f[value].parse()?);
    }
    Ok(out)
}

fn report(name: &str, mut ms: Vec<f64>) -> f64 {
    ms.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&ms, 0.5), percentile(&ms, 0.99));
    println!(
        "  {name:<34} p50 {p50:7.2} ms   p99 {p99:7.2} ms   (n={})",
        ms.len()
    );
    p50
}

fn main() -> Result<(), Error> {
    let qa: String = env_or("BENCH_QA", "both".to_string());
    let off = (qa != "on").then(|| chain(false)).transpose()?;
    let on = (qa != "off").then(|| chain(true)).transpose()?;
    if let (Some(off), Some(on)) = (off, on) {
        println!(
            "protocol QA on vs off: p50 {on:.1} ms vs {off:.1} ms, ratio {:.3}",
            on / off
        );
    }
    Ok(())
}

/// One whole chain (protocol QA on the streamer on or off); returns its p50 in ms.
fn chain(qa: bool) -> Result<f64, Error> {
    let volumes: usize = env_or("BENCH_VOLUMES", 200);
    let tr = Duration::from_millis(env_or("BENCH_TR_MS", 100));
    let Some(testdata) = test_support::shared_testdata() else {
        return Err("../shared/testdata is missing".into());
    };
    let (streamer_bin, listener_bin) = (sibling("data_streamer")?, sibling("analysis_listener")?);
    let site = tempfile::tempdir()?;
    let at = |rel: &str| site.path().join(rel);
    let arg = |rel: &str| at(rel).display().to_string();

    analyser_tool(
        &[
            "make-certs",
            "--host",
            "localhost",
            "--ip",
            "127.0.0.1",
            "--dir",
            &arg("certs"),
        ],
        None,
    )?;
    analyser_tool(
        &[
            "add-user",
            "-u",
            "bench",
            "--password-stdin",
            "--passwd",
            &arg("certs/passwd"),
        ],
        Some("bench password\n"),
    )?;
    std::fs::write(at("password"), "bench password\n")?;
    for dir in ["scanner", "source", "feedback"] {
        std::fs::create_dir_all(at(dir))?;
    }
    // The source run: the Skyra mosaics (after the duplicate _000000) over and over.
    let skyra = testdata.join("siemens-mosaic-skyra-e11");
    let pattern = FilePattern::new("001_000013_{TR:06d}.dcm")?;
    for i in 0..volumes {
        let from = skyra.join(format!("001_000013_{:06}.dcm", i % 10 + 1));
        std::fs::copy(from, at("source").join(pattern.name_for(i as u32 + 1)))?;
    }
    let mut settings = format!(
        "subjectName = \"bench\"\nrunNum = [1]\nscanNum = [13]\nimgDir = {:?}\n\
         dicomNamePattern = \"001_{{SCAN:06d}}_{{TR:06d}}.dcm\"\nminExpectedDicomSize = 200000\n\
         numTRs = {volumes}\nfeedbackMin = 0.0\nfeedbackMax = 1500.0\n",
        arg("scanner")
    );
    // BENCH_PREPROCESS=1: the built-in roi-feedback with motion correction and nuisance
    // regression (with the task) instead of sample.
    let preprocess = env_or("BENCH_PREPROCESS", 0u8) == 1;
    let project = if preprocess { "roi-feedback" } else { "sample" };
    if preprocess {
        settings.push_str(
            "roiBox = [[40, 30, 12], [46, 36, 15]]\nbaselineTRs = 10\nnuisanceRegression = true\n",
        );
    }
    println!("project {project}");
    std::fs::write(at("sample.toml"), settings)?;

    let analyser = Proc::start(
        Path::new(env!("CARGO_BIN_EXE_data_analyser")),
        &[
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--certs-dir",
            &arg("certs"),
            "--sessions-dir",
            &arg("sessions"),
            "--project",
            project,
            "--config",
            &arg("sample.toml"),
            "--data-remote",
            "--subject-remote",
            "--run-on-start",
            "--exit-after-run",
        ],
        &at("analyser.log"),
    )?;
    let port = analyser.port_after("Listening on: ")?.to_string();
    let server = format!("127.0.0.1:{port}");
    let login = [
        "--server",
        &server,
        "--ca",
        &arg("certs/ca.crt"),
        "--user",
        "bench",
        "--password-file",
        &arg("password"),
    ];
    let mut streamer_args = login.to_vec();
    let scanner = arg("scanner");
    streamer_args.extend(["--allowed-dirs", &scanner, "--allowed-types", ".dcm"]);
    if !qa {
        streamer_args.push("--no-protocol-qa");
    }
    let _streamer = Proc::start(&streamer_bin, &streamer_args, &at("streamer.log"))?;
    let mut listener_args = login.to_vec();
    let feedback = arg("feedback");
    listener_args.extend(["--out-dir", &feedback, "--results-port", "0"]);
    let listener = Proc::start(&listener_bin, &listener_args, &at("listener.log"))?;
    let results_port = listener.port_after("Results server: ")?;

    // When each TR's JSON is renamed into place (inotify, as a poller would see it).
    let renamed: Arc<Mutex<BTreeMap<usize, SystemTime>>> = Arc::default();
    let seen = renamed.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let now = SystemTime::now();
        let Ok(event) = event else { return };
        for path in event.paths {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Some(tr) = name
                .strip_prefix("tr-")
                .and_then(|n| n.strip_suffix(".json"))
            {
                if let Ok(tr) = tr.parse() {
                    seen.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .entry(tr)
                        .or_insert(now);
                }
            }
        }
    })?;
    // The whole folder: the listener moves a run folder it did not write (an earlier
    // session's) aside when its session begins, so run-1 is made by the listener.
    watcher.watch(&at("feedback"), notify::RecursiveMode::Recursive)?;

    // The run starts once streamer and listener are connected; then play the scanner.
    let launch = at(&format!("sessions/{project}"));
    let start = Instant::now();
    let launch_dir = loop {
        let found = std::fs::read_dir(&launch)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(Result::ok);
        if let Some(session) = found {
            let dir = session.path().join("launches/001-main");
            if dir.join("config.toml").exists() {
                break dir;
            }
        }
        if start.elapsed() > Duration::from_secs(60) {
            return Err("the run did not start (see analyser.log)".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_millis(500));
    let polls = std::thread::spawn(move || -> Result<BTreeMap<usize, SystemTime>, String> {
        let mut out = BTreeMap::new();
        for tr in 1..=volumes {
            out.insert(tr, long_poll(results_port, tr).map_err(|e| e.to_string())?);
        }
        Ok(out)
    });
    let mut closed = BTreeMap::new();
    let options = ReplayOptions {
        tr,
        chunks: 4,
        chunk_pause: Duration::from_millis(5),
        ..ReplayOptions::default()
    };
    filestore::replay_blocking(&at("source"), &at("scanner"), &options, |file| {
        closed.insert(file.position + 1, file.last_write_at);
    })?;
    let polls = polls.join().map_err(|_| "long-poll thread panicked")??;
    let deadline = Instant::now() + Duration::from_secs(60);
    while renamed.lock().unwrap_or_else(|e| e.into_inner()).len() < volumes
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(watcher);
    let renamed = renamed.lock().unwrap_or_else(|e| e.into_inner()).clone();
    drop((analyser, listener));

    // Hops, from the run's own records (one machine, so one clock).
    let volumes_tsv = launch_dir.join("volumes.tsv");
    let (detected, received, served) = (
        column(&volumes_tsv, 0, 0, 1)?,
        column(&volumes_tsv, 0, 0, 2)?,
        column(&volumes_tsv, 0, 0, 3)?,
    );
    let made = column(&launch_dir.join("results.tsv"), 1, 2, 5)?;
    let listener_tsv = column(&at("feedback/run-1/results.tsv"), 1, 2, 6)?;
    let mut hops: [Vec<f64>; 6] = Default::default();
    let (mut total, mut poll_after) = (Vec::new(), Vec::new());
    for tr in 1..=volumes {
        let (Some(&c), Some(&r)) = (closed.get(&tr), renamed.get(&tr)) else {
            continue;
        };
        let c = epoch(c);
        let r = epoch(r);
        total.push((r - c) * 1000.0);
        if let Some(p) = polls.get(&tr) {
            poll_after.push((epoch(*p) - r) * 1000.0);
        }
        let points = [
            c,
            detected[&tr],
            received[&tr],
            served[&tr],
            made[&tr],
            listener_tsv[&tr],
            r,
        ];
        for (h, pair) in points.windows(2).enumerate() {
            hops[h].push((pair[1] - pair[0]) * 1000.0);
        }
    }
    println!(
        "chain (protocol QA {}): scanner close() -> result JSON renamed in the listener's folder ({} of {volumes} TRs, TR {} ms, TLS, loopback)",
        if qa { "on" } else { "off" },
        total.len(),
        tr.as_millis()
    );
    let p50 = report("end to end", total);
    let names = [
        "file detected (inotify, complete)",
        "sent (de-id, TLS) to the analyser",
        "converted, handed to the project",
        "analysed, result set",
        "delivered to the listener",
        "written (JSON renamed)",
    ];
    for (name, hop) in names.iter().zip(hops) {
        report(name, hop);
    }
    report("long-poll returned after the rename", poll_after);
    // RT-Cloud's own stack measured the same way on this kind of machine (issue 5).
    println!(
        "  RT-Cloud (no TLS): p50 126 ms, p99 200 ms -> this chain is {:.0}x faster at p50",
        126.0 / p50
    );
    Ok(p50)
}
