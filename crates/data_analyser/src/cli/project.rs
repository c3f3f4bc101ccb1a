//! The analyser's service mode (no subcommand): RT-Cloud's
//! `data_analyser --projects DIR --project NAME`. It serves the one port (login, data
//! link, the web UI), keeps the session, serves the project API on 127.0.0.1 and
//! runs the project's scripts on Run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use data_link::DataInterface;
use project_runtime::{ApiInfo, Controller, ProjectApi};
use projects::{Project, ProjectConfig, ScriptOverrides};
use session::{LaunchKind, Session};
use subject_link::{Listeners, SubjectLinkService};

use crate::service::{Analyser, PortArgs};

#[derive(Debug, Args)]
pub struct ProjectArgs {
    /// Folder with the projects (one folder per project).
    #[arg(long, value_name = "DIR", default_value = "projects")]
    pub projects: PathBuf,
    /// The project to run: a folder in --projects (NAME/NAME.py + NAME/conf/NAME.toml),
    /// or a built-in project: sample, roi-feedback, motion, glm.
    #[arg(long, value_name = "NAME")]
    pub project: Option<String>,
    /// Settings file to use instead of the project's conf/NAME.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The main script, instead of NAME.py / NAME.sh / NAME (relative to the project).
    #[arg(long, value_name = "FILE")]
    pub main_script: Option<PathBuf>,
    /// The Initialize script, instead of initialize.py / .sh.
    #[arg(long, value_name = "FILE")]
    pub init_script: Option<PathBuf>,
    /// The Finalize script, instead of finalize.py / .sh.
    #[arg(long, value_name = "FILE")]
    pub finalize_script: Option<PathBuf>,
    /// Get the scanner's files from a data_streamer (by --station) instead of this
    /// machine's disk.
    #[arg(long)]
    pub data_remote: bool,
    /// Send results to an analysis_listener on the stimulus PC (otherwise they stay on
    /// the analyser: web page and session files).
    #[arg(long)]
    pub subject_remote: bool,
    /// The streamer the project's data calls go to (with --data-remote).
    #[arg(long, value_name = "NAME", default_value = "scanner")]
    pub station: String,
    /// A folder the project may read on this machine (without --data-remote); give
    /// the flag once per folder. A value that is not an existing folder is read as a
    /// comma-separated list (RT-Cloud's form).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub allowed_dirs: Vec<PathBuf>,
    /// File types the project may read on this machine (without --data-remote).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "EXT,...",
        default_value = ".dcm,.nii,.nii.gz,.json,.txt,.tsv,.csv,.mat,.npy,.toml"
    )]
    pub allowed_types: Vec<String>,
    /// Where each session's results, settings and logs are kept.
    #[arg(long, value_name = "DIR", default_value = "sessions")]
    pub sessions_dir: PathBuf,
    /// The Python that runs .py scripts (a virtual environment's python, for example).
    #[arg(
        long,
        value_name = "PATH",
        env = "RTCLOUD_PYTHON",
        default_value = "python3"
    )]
    pub python: PathBuf,
    /// Start the main script as soon as the analyser is up (and, with --data-remote, the
    /// streamer is connected; with --subject-remote, a listener).
    #[arg(long)]
    pub run_on_start: bool,
    /// With --run-on-start: shut down when that run ends; the exit status says whether
    /// the script succeeded.
    #[arg(long, requires = "run_on_start")]
    pub exit_after_run: bool,
    /// Seconds Stop waits after SIGTERM before killing the script.
    #[arg(long, default_value_t = 5.0, value_name = "SEC")]
    pub stop_grace: f64,
    /// Run a built-in project (sample, roi-feedback, motion, glm) as a task of the
    /// analyser instead of a child process: one process fewer between the scanner's file
    /// and the result (lower latency, docs/performance.md). It still talks to the
    /// project API, so Run, Stop, the log and results work the same (a panic ends the
    /// launch with status 101), but its memory and threads are the analyser's. Script
    /// projects always run as processes.
    #[arg(long)]
    pub in_process: bool,
    #[command(flatten)]
    pub port: PortArgs,
}

impl ProjectArgs {
    /// Every path resolved once against the folder the analyser was started in, its
    /// documented base, before any of them is used or handed to a script: the script
    /// runs in its project's folder, where a relative `--projects`, `--sessions-dir`,
    /// `--config` or `--python` would name something else. Script overrides stay
    /// relative to the project folder (documented so), which becomes absolute here.
    fn resolved(mut self) -> Result<Self> {
        self.projects = absolute(&self.projects)?;
        self.sessions_dir = absolute(&self.sessions_dir)?;
        self.config = self.config.as_deref().map(absolute).transpose()?;
        // A bare name (python3) is looked up in PATH; a path with a folder is a file.
        if self.python.components().count() > 1 {
            self.python = absolute(&self.python)?;
        }
        self.allowed_dirs = self
            .allowed_dirs
            .iter()
            .map(|dir| absolute(dir))
            .collect::<Result<_>>()?;
        Ok(self)
    }
}

pub fn run(args: ProjectArgs) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(serve_project(args))
}

/// What a caller running the analyser in-process (the demo) hooks into it.
#[derive(Default)]
pub struct Hooks {
    /// Gets the address once the port is bound (before anything is served).
    pub bound: Option<tokio::sync::oneshot::Sender<std::net::SocketAddr>>,
    /// Runs after the session ended and before the server stops, so in-process
    /// clients can hang up first and nothing is cut mid-stream.
    #[allow(clippy::type_complexity)] // a one-off callback
    pub before_stop: Option<
        Box<dyn FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send>,
    >,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks").finish_non_exhaustive()
    }
}

/// The service until Ctrl-C / SIGTERM (or the end of the run with --exit-after-run).
pub async fn serve_project(args: ProjectArgs) -> Result<()> {
    serve_project_with(args, Hooks::default()).await
}

/// [`serve_project`] with [`Hooks`].
pub async fn serve_project_with(args: ProjectArgs, hooks: Hooks) -> Result<()> {
    let args = args.resolved()?;
    let Some(name) = args.project.clone() else {
        bail!(
            "no project: start with --project NAME (a folder in --projects {}, or a built-in: {})",
            args.projects.display(),
            builtin_projects::NAMES.join(", ")
        );
    };
    let grace = Duration::try_from_secs_f64(args.stop_grace)
        .ok()
        .with_context(|| {
            format!(
                "--stop-grace {} is not a number of seconds",
                args.stop_grace
            )
        })?;
    serve(args, name, grace, hooks).await
}

async fn serve(args: ProjectArgs, name: String, grace: Duration, hooks: Hooks) -> Result<()> {
    let session = Session::create(&args.sessions_dir, &name)?;
    let project = find_project(&args, &name, &session)?;
    let settings = ProjectConfig::load(&project.config_path)?;
    let listeners = Listeners::new();
    let subject_link = SubjectLinkService::new(session.clone(), listeners.clone());
    let analyser = Analyser::bind(&args.port, |routes, sessions| {
        routes.add_service(subject_link.server(sessions.interceptor()))
    })
    .await?;
    if let Some(bound) = hooks.bound {
        bound.send(analyser.local_addr()?).ok();
    }
    let feedback_token = subject_link::feedback_page::new_token();
    let analyser = analyser.merge(subject_link::feedback_page::router(
        session.clone(),
        feedback_token.clone(),
    ));
    // For the stimulus display when it is a browser window; scripts read this line.
    println!(
        "Feedback page: {}/feedback?token={feedback_token}",
        analyser.url
    );
    let data = if args.data_remote {
        DataInterface::remote(analyser.streamers.clone(), &args.station)
    } else {
        // The analyser's own disk: its allowed folders are writable too.
        let dirs = filestore::allowed_dir_args(&args.allowed_dirs);
        let rules = filestore::AccessRules::new(&dirs, &args.allowed_types)
            .and_then(|r| r.with_writable_dirs(&dirs))
            .context("checking --allowed-dirs and --allowed-types")?;
        DataInterface::local(rules)
    };
    // Protocol QA of every station's new series (issue 12).
    let qa = project_runtime::qa::QaBoard::default();
    crate::qa::live::start(
        &analyser.streamers,
        &args.sessions_dir,
        qa.clone(),
        session.clone(),
    );
    let info = ApiInfo {
        project: name.clone(),
        subject_remote: args.subject_remote,
        station: if args.data_remote {
            args.station.clone()
        } else {
            String::new()
        },
        qa: qa.clone(),
    };
    let (tap, dataset) = crate::session_dataset::start(session.clone(), &name);
    let api = ProjectApi::start_with_tap(data, session.clone(), info, Some(tap))
        .await
        .context("starting the project API on 127.0.0.1")?;
    let controller = Controller::new(
        project,
        settings,
        session.clone(),
        api,
        args.python.clone(),
        grace,
    );
    // The experimenter's web page, on the same port.
    let web = web_ui::WebState::new(
        controller.clone(),
        analyser.streamers.clone(),
        analyser.auth.clone(),
        web_ui::WebOptions {
            test_mode: analyser.test,
            listeners: {
                let listeners = listeners.clone();
                std::sync::Arc::new(move || {
                    listeners
                        .list()
                        .into_iter()
                        .map(|l| (l.name, l.connected))
                        .collect()
                })
            },
            data_station: args.data_remote.then(|| args.station.clone()),
            qa,
        },
    );
    let analyser = analyser.merge(web_ui::router(web));
    tracing::info!(
        project = %name,
        session = %session.dir().display(),
        data = if args.data_remote { "remote" } else { "local" },
        "project ready"
    );

    let streamers = analyser.streamers.clone();
    let (done_tx, done) = tokio::sync::oneshot::channel::<Result<()>>();
    if args.run_on_start {
        let station = args.data_remote.then(|| args.station.clone());
        let listeners = args.subject_remote.then(|| listeners.clone());
        let exit_after = args.exit_after_run;
        let controller = controller.clone();
        tokio::spawn(async move {
            let outcome = run_on_start(&controller, &streamers, station, listeners).await;
            if exit_after {
                done_tx.send(outcome).ok();
            } else if let Err(e) = outcome {
                tracing::error!("{}", cli_common::error_report(&e));
            }
        });
    }
    let finished = async move {
        match done.await {
            Ok(outcome) => outcome,
            // No --exit-after-run: serve until a signal.
            Err(_) => std::future::pending().await,
        }
    };
    let (stop_tx, stop) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(analyser.serve(async move {
        stop.await.ok();
    }));
    let outcome = tokio::select! {
        outcome = finished => outcome,
        () = cli_common::shutdown_signal() => Ok(()),
    };
    if args.exit_after_run && args.subject_remote {
        // Exiting after the run: let the listener have the last results first.
        wait_delivered(&listeners, &session, Duration::from_secs(30)).await;
    }
    // A script must not outlive the analyser.
    if let Some(exit) = controller.stop().await {
        tracing::info!(
            "script stopped at shutdown: {}",
            project_runtime::controller::describe(exit)
        );
    }
    session.flush();
    // Every session leaves a BIDS dataset: the runs that ended are written before exit.
    let writing = tokio::task::spawn_blocking(move || dataset.close(Duration::from_secs(120)));
    writing.await.ok();
    if let Some(before_stop) = hooks.before_stop {
        before_stop().await;
    }
    stop_tx.send(()).ok();
    serving.await.ok();
    outcome
}

/// Waits for the streamer (remote data) and a listener (remote subject), runs the main
/// script and returns once it has ended: Ok when it succeeded.
async fn run_on_start(
    controller: &Controller,
    streamers: &data_link::analyser::Streamers,
    station: Option<String>,
    listeners: Option<Listeners>,
) -> Result<()> {
    if let Some(station) = station {
        tracing::info!(%station, "run on start: waiting for the streamer");
        while streamers
            .wait_for(&station, Duration::from_secs(3600))
            .await
            .is_err()
        {}
    }
    if let Some(listeners) = listeners {
        tracing::info!("run on start: waiting for an analysis_listener");
        while !listeners.wait_for_any(Duration::from_secs(3600)).await {}
    }
    let launch = controller.start(LaunchKind::Main).await?;
    let ended = controller
        .wait(launch.number)
        .await
        .context("the run's record disappeared")?;
    match (ended.succeeded, ended.outcome) {
        (Some(true), _) => Ok(()),
        (_, outcome) => bail!(
            "the run ended badly: {}; see {}",
            outcome.unwrap_or_default(),
            controller
                .session()
                .dir()
                .join(&ended.dir)
                .join("log.txt")
                .display()
        ),
    }
}

/// Waits (at most `limit`) until a listener has acknowledged every result so far.
async fn wait_delivered(listeners: &Listeners, session: &Session, limit: Duration) {
    let last = session.results_after(0).last().map_or(0, |r| r.seq);
    let mut changes = listeners.watch();
    let delivered = || listeners.list().iter().any(|l| l.acked_seq >= last);
    let wait = async {
        while !delivered() {
            if changes.changed().await.is_err() {
                return;
            }
        }
    };
    if tokio::time::timeout(limit, wait).await.is_err() {
        tracing::warn!(
            last,
            "no listener acknowledged every result before shutting down"
        );
    }
}

/// The project folder in --projects, or a built-in project.
fn find_project(args: &ProjectArgs, name: &str, session: &Session) -> Result<Project> {
    let overrides = ScriptOverrides {
        main: args.main_script.clone(),
        init: args.init_script.clone(),
        finalize: args.finalize_script.clone(),
    };
    let folder = args.projects.join(name);
    let mut project = if folder.is_dir() || builtin_projects::default_config(name).is_none() {
        if let Some(config) = &args.config {
            // The folder's own settings file may be missing when --config replaces it.
            Project::open_with_config(&args.projects, name, &overrides, config)?
        } else {
            Project::open(&args.projects, name, &overrides)?
        }
    } else {
        builtin(args, name, session)?
    };
    if let Some(config) = &args.config {
        project.config_path = config.clone();
    }
    Ok(project)
}

fn builtin(args: &ProjectArgs, name: &str, session: &Session) -> Result<Project> {
    let config = match &args.config {
        Some(config) => config.clone(),
        None => {
            // The built-in settings, as a file the experimenter can look at and edit.
            let path = session.dir().join(format!("{name}.toml"));
            let text = builtin_projects::default_config(name).unwrap_or_default();
            filestore::write_atomic(&path, text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            path
        }
    };
    let exe = std::env::current_exe().context("finding the data_analyser executable")?;
    let dir = std::env::current_dir().context("the current folder")?;
    let mut project = Project::builtin(
        name,
        &dir,
        &config,
        &exe,
        vec!["builtin".into(), name.into()],
    );
    if args.in_process {
        project.in_process = Some(super::builtin::in_process());
    }
    Ok(project)
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))
}
