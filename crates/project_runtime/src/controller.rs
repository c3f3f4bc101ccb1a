//! Run / Stop / Initialize / Finalize: starts the project's scripts one at a time with
//! the current settings, gives each a fresh project-API token, pours its output into
//! the session log and records how it ended.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use projects::{Exit, Project, ProjectConfig, ProjectError, Runner, Script, Stream};
use session::{Launch, LaunchKind, LogKind, Session};
use tokio::sync::mpsc;

use crate::api::ProjectApi;

/// How long Stop waits after SIGTERM before SIGKILL.
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(5);

/// Why a launch could not start.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("{kind} cannot start: a script is already running (launch {launch}); stop it first or wait for it to end")]
    Busy { kind: &'static str, launch: u32 },
    #[error(transparent)]
    Project(#[from] ProjectError),
    #[error("cannot write the settings for this launch to {path}: {source}")]
    Settings {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The project's scripts and settings; cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct Controller {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    project: Project,
    settings: Mutex<ProjectConfig>,
    runner: Runner,
    session: Session,
    api: ProjectApi,
    python: PathBuf,
    grace: Duration,
    /// Serialises starts, so two Run clicks cannot both pass the busy check.
    starting: tokio::sync::Mutex<()>,
    /// The launch number of the script the runner holds.
    running: Mutex<Option<u32>>,
}

impl Controller {
    /// `python` runs `.py` scripts; `grace` is Stop's wait before SIGKILL.
    pub fn new(
        project: Project,
        settings: ProjectConfig,
        session: Session,
        api: ProjectApi,
        python: PathBuf,
        grace: Duration,
    ) -> Controller {
        Controller {
            inner: Arc::new(Inner {
                project,
                settings: Mutex::new(settings),
                runner: Runner::default(),
                session,
                api,
                python,
                grace,
                starting: tokio::sync::Mutex::new(()),
                running: Mutex::new(None),
            }),
        }
    }

    pub fn project(&self) -> &Project {
        &self.inner.project
    }

    pub fn session(&self) -> &Session {
        &self.inner.session
    }

    /// The settings the next launch will use.
    pub fn settings(&self) -> ProjectConfig {
        self.lock_settings().clone()
    }

    /// Changes one setting, keeping its type (see `ProjectConfig::set_from_text`).
    pub fn set_setting(&self, key: &str, text: &str) -> Result<(), ProjectError> {
        self.lock_settings().set_from_text(key, text)
    }

    /// Back to the values in the project's file.
    pub fn reset_settings(&self) {
        self.lock_settings().reset();
    }

    fn lock_settings(&self) -> std::sync::MutexGuard<'_, ProjectConfig> {
        self.inner
            .settings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The launch whose script is running, if any.
    pub fn running(&self) -> Option<u32> {
        let current = self.inner.runner.current()?;
        if current.exit().is_some() {
            return None;
        }
        *self.inner.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the `kind` script with the current settings and returns at once; the
    /// launch's outcome arrives in the session (and from [`Controller::wait`]).
    pub async fn start(&self, kind: LaunchKind) -> Result<Launch, ControlError> {
        let _one_at_a_time = self.inner.starting.lock().await;
        let name = kind.as_str();
        if let Some(launch) = self.running() {
            return Err(ControlError::Busy { kind: name, launch });
        }
        let settings = self.settings();
        let (runs, scans) = (settings.runs(), settings.scans());
        let which = match kind {
            LaunchKind::Main => Script::Main,
            LaunchKind::Initialize => Script::Initialize,
            LaunchKind::Finalize => Script::Finalize,
        };
        // Refuse a missing script before a launch is recorded.
        let session = &self.inner.session;
        let config_path_probe = session.dir().join("config.toml");
        self.inner
            .project
            .launch(which, &config_path_probe, &runs, &scans)?;

        let launch = session.begin_launch(kind, &runs, &scans, &settings.to_text());
        let config_path = session.dir().join(&launch.dir).join("config.toml");
        // The script reads its settings at once: they must be on disk before it starts.
        filestore::write_atomic(&config_path, settings.to_text().as_bytes()).map_err(|source| {
            self.fail_launch(&launch, &format!("settings not written: {source}"));
            ControlError::Settings {
                path: config_path.clone(),
                source,
            }
        })?;
        let mut run = self
            .inner
            .project
            .launch(which, &config_path, &runs, &scans)?;
        run.python = self.inner.python.clone();
        let token = self.inner.api.issue_token();
        run.env.extend([
            ("RTCLOUD_API".to_owned(), self.inner.api.addr().to_string()),
            ("RTCLOUD_TOKEN".to_owned(), token.clone()),
            (
                "RTCLOUD_PROJECT".to_owned(),
                self.inner.project.name.clone(),
            ),
            (
                "RTCLOUD_SESSION_DIR".to_owned(),
                session.dir().display().to_string(),
            ),
        ]);
        // rtCommon.imageHandling converts DICOM with this analyser (`convert`), as
        // RT-Cloud's scripts ran dcm2niix.
        if let Some(exe) = std::env::current_exe()
            .ok()
            .filter(|exe| exe.file_stem().is_some_and(|s| s == "data_analyser"))
        {
            run.env.push((
                "RTCLOUD_DATA_ANALYSER".to_owned(),
                exe.display().to_string(),
            ));
        }

        let (lines, mut output) = mpsc::unbounded_channel();
        let script = match self.inner.runner.start(&run, lines) {
            Ok(script) => script,
            Err(e) => {
                self.inner.api.revoke_token(&token);
                self.fail_launch(&launch, &e.to_string());
                return Err(e.into());
            }
        };
        *self.inner.running.lock().unwrap_or_else(|e| e.into_inner()) = Some(launch.number);

        let log = session.clone();
        let forward = tokio::spawn(async move {
            while let Some(line) = output.recv().await {
                let kind = match line.stream {
                    Stream::Stdout => LogKind::Stdout,
                    Stream::Stderr => LogKind::Stderr,
                };
                log.log_piece(kind, line.text, line.continued);
            }
        });
        let this = self.clone();
        let number = launch.number;
        tokio::spawn(async move {
            let exit = script.wait().await;
            // Output comes before the exit is seen; let the last lines reach the log
            // (bounded: a daemon the script left behind may hold the pipe open).
            let _ = tokio::time::timeout(Duration::from_secs(2), forward).await;
            this.inner.api.revoke_token(&token);
            let outcome = describe(exit);
            if let Err(e) = this
                .inner
                .session
                .end_launch(number, &outcome, exit.success())
            {
                tracing::error!("recording the end of launch {number}: {e}");
            }
            tracing::info!(launch = number, %outcome, "script ended");
        });
        tracing::info!(launch = launch.number, kind = name, "script started");
        Ok(launch)
    }

    fn fail_launch(&self, launch: &Launch, why: &str) {
        let session = &self.inner.session;
        session.log(
            LogKind::Error,
            format!("{} script not started: {why}", launch.kind.as_str()),
        );
        if let Err(e) = session.end_launch(launch.number, &format!("not started: {why}"), false) {
            tracing::error!("recording launch {}: {e}", launch.number);
        }
    }

    /// Stops the running script (SIGTERM to its whole process group, SIGKILL after the
    /// grace period); returns how it ended, or None when nothing was running.
    pub async fn stop(&self) -> Option<Exit> {
        let script = self.inner.runner.current()?;
        if script.exit().is_some() {
            return None;
        }
        self.inner
            .session
            .log(LogKind::Session, "stop requested by the experimenter");
        Some(script.stop(self.inner.grace).await)
    }

    /// Waits until launch `number` is recorded as ended, and returns it.
    pub async fn wait(&self, number: u32) -> Option<Launch> {
        let mut events = self.inner.session.subscribe();
        loop {
            let ended = self
                .inner
                .session
                .launches()
                .into_iter()
                .find(|l| l.number == number);
            match ended {
                None => return None,
                Some(l) if l.outcome.is_some() => return Some(l),
                Some(_) => {}
            }
            // Any event may be the end; on lag just look again.
            if let Err(tokio::sync::broadcast::error::RecvError::Closed) = events.recv().await {
                return None;
            }
        }
    }
}

/// "exit 0", "exit 2", "killed by signal 9 (SIGKILL)".
pub fn describe(exit: Exit) -> String {
    match exit {
        Exit::Code(code) => format!("exit {code}"),
        Exit::Signal(signal) => {
            let name = nix::sys::signal::Signal::try_from(signal)
                .map(|s| format!(" ({})", s.as_str()))
                .unwrap_or_default();
            format!("killed by signal {signal}{name}")
        }
    }
}
