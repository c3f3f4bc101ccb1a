//! The experimenter's web page in a real browser: the analyser in project mode over
//! TLS (built-in `sample`, data from a streamer fed by a replaying scanner), driven by
//! tests/web/session.mjs (playwright-core + Debian's chromium). The script checks the
//! login, settings, Run/Stop, plots, logs, files, history, CSRF and logout, and saves a
//! screenshot of each tab under target/web-screenshots/.
//!
//! Needs node, chromium and tests/web/node_modules (scripts/setup_web.sh): skipped
//! with a message when missing, a failure under CI=true.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::projects::sample_settings;
use crate::site::{repo_root, skyra_run, Site};
use crate::support::shared_testdata;

/// The whole browser session may take this long (a failure guard only).
const SESSION_WAIT: Duration = Duration::from_secs(600);

/// Chromium, or None (after saying why) when the browser tests cannot run here.
pub(crate) fn browser_tools() -> Option<PathBuf> {
    let chromium = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let node_ok = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let modules = repo_root().join("tests/web/node_modules/playwright-core");
    let mut missing = Vec::new();
    if !node_ok {
        missing.push("node".to_owned());
    }
    if !chromium.exists() {
        missing.push(chromium.display().to_string());
    }
    if !modules.exists() {
        missing.push(modules.display().to_string());
    }
    if missing.is_empty() {
        return Some(chromium);
    }
    let why = format!("{} missing: run scripts/setup_web.sh", missing.join(", "));
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "browser tests cannot run: {why}"
    );
    eprintln!("skipping the browser tests: {why}");
    None
}

/// Runs `tests/web/SCRIPT` in node with `envs` (plus RTCLOUD_SCREENSHOTS =
/// target/web-screenshots and CHROMIUM), its output to `log`; a failure guard stops it
/// after [`SESSION_WAIT`]. Returns (status, stdout, stderr), stdout also printed.
pub(crate) fn browser_script(
    script: &str,
    envs: &[(&str, String)],
    log: &Path,
    chromium: &Path,
) -> (std::process::ExitStatus, String, String) {
    let mut command = Command::new("node");
    command
        .arg(repo_root().join("tests/web").join(script))
        .current_dir(repo_root().join("tests/web"))
        .env(
            "RTCLOUD_SCREENSHOTS",
            repo_root().join("target/web-screenshots"),
        )
        .env("CHROMIUM", chromium)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(log).expect("browser log"))
        .stderr(Stdio::piped());
    for (key, value) in envs {
        command.env(key, value);
    }
    let mut node = test_support::ChildGuard::spawn(&mut command).expect("node starts");
    let deadline = Instant::now() + SESSION_WAIT;
    let status = loop {
        if let Some(status) = node.try_wait().expect("node's status") {
            break status;
        }
        if Instant::now() > deadline {
            node.stop();
            break node.wait().expect("node ends");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = node.stderr.take() {
        std::io::Read::read_to_string(&mut pipe, &mut stderr).ok();
    }
    let stdout = std::fs::read_to_string(log).unwrap_or_default();
    println!("{stdout}");
    (status, stdout, stderr)
}

/// The one session folder of `project` under `sessions`.
fn session_dir(sessions: &Path, project: &str) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(sessions.join(project))
        .expect("the project's sessions")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.into_iter().next().expect("one session")
}

#[test]
fn the_experimenters_page_in_chromium() {
    let Some(chromium) = browser_tools() else {
        return;
    };
    let Some(testdata) = shared_testdata() else {
        return;
    };
    let site = Site::new();
    let skyra = skyra_run(&testdata, &site);
    // Listed first, so the Files pane copies it: a DICOM without preamble, "DICM" or
    // meta group, which must leave the console de-identified like any other.
    let headerless = testdata.join("../imaging-cases/headerless/no-preamble/001_000013_000003.dcm");
    std::fs::copy(&headerless, site.path("scanner/000_headerless.dcm")).expect("copy");
    let settings = sample_settings(site.path("").as_path(), &site.path("scanner"));
    let settings = settings.display().to_string();
    let analyser = site.analyser(
        &[
            "--data-remote",
            "--subject-remote",
            "--project",
            "sample",
            "--config",
            &settings,
        ],
        "analyser.log",
    );
    let port = analyser.port();
    let _streamer = site.streamer(port, "password", "streamer.log");
    let _listener = site.listener(port, "feedback", "listener.log");
    let _replay = site.replay(&skyra, 10, "0.2");

    let screenshots = repo_root().join("target/web-screenshots");
    let (status, stdout, stderr) = browser_script(
        "session.mjs",
        &[
            ("RTCLOUD_URL", format!("https://127.0.0.1:{port}")),
            ("RTCLOUD_USER", "scanner".into()),
            ("RTCLOUD_PASSWORD", "correct horse".into()),
            ("RTCLOUD_CA", site.arg("certs/ca.crt")),
            ("RTCLOUD_SERVER_CERT", site.arg("certs/server.crt")),
            ("RTCLOUD_STATION", "scanner".into()),
            // The streamer shows its allowed folder by name only.
            ("RTCLOUD_SCANNER_DIR", "scanner".into()),
        ],
        &site.path("browser.log"),
        &chromium,
    );
    assert!(
        status.success(),
        "the browser session failed ({status}; screenshots in {}):\n{stdout}\n{stderr}\nanalyser:\n{}",
        screenshots.display(),
        analyser.stderr_text()
    );
    for tab in ["login", "run", "settings", "logs", "files", "history"] {
        assert!(
            screenshots.join(format!("{tab}.png")).exists(),
            "no screenshot of {tab}"
        );
    }

    // The file chosen in the Files pane is now in the session, as on the streamer.
    let copied = stdout
        .lines()
        .find_map(|l| l.strip_prefix("# copied "))
        .expect("the script names the copied file");
    let name = Path::new(copied).file_name().expect("a file name");
    let session = session_dir(&site.path("sessions"), "sample");
    let uploaded = std::fs::read(session.join("uploads").join(name)).expect("the upload");
    assert_eq!(
        copied, "scanner/000_headerless.dcm",
        "shown under the folder's name"
    );
    let original = std::fs::read(site.path(copied)).expect("the scanner's file");
    if imaging::dicom::is_dicom(Path::new(copied), &original) {
        // DICOM leaves the control room de-identified: same image, no name.
        let volume = |b: &[u8]| imaging::volume_from_file(b).expect("converts").voxels;
        assert_eq!(volume(&uploaded), volume(&original));
        let name_in = |b: &[u8]| {
            imaging::parse(b)
                .expect("parses")
                .str(dicom_dictionary_std::tags::PATIENT_NAME)
                .map(|s| s.to_string())
        };
        assert_ne!(
            name_in(&uploaded),
            name_in(&original),
            "the name left the console"
        );
    } else {
        assert_eq!(uploaded, original);
    }
    // The edited settings were kept with the session, and each run kept its own.
    let kept = std::fs::read_to_string(session.join("settings.toml")).expect("settings.toml");
    assert!(kept.contains("numTRs = 20"), "{kept}");
    let first = std::fs::read_to_string(session.join("launches/001-main/config.toml"))
        .expect("the first run's settings");
    assert!(first.contains("numTRs = 5"), "{first}");
}
