//! Running a project's script: a child process in its own process group, its output
//! delivered line by line as it comes, stopped as a whole (SIGTERM, then SIGKILL after
//! a grace period), one script at a time.

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch};

use crate::ProjectError;

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One line of a script's output, as it came.
#[derive(Debug, Clone)]
pub struct OutputLine {
    pub stream: Stream,
    /// At most [`MAX_OUTPUT_PIECE`] bytes of the line (lossy UTF-8, no line end).
    pub text: String,
    pub at: SystemTime,
    /// This piece continues the previous one: the script printed a line longer than
    /// [`MAX_OUTPUT_PIECE`], which arrives in pieces (memory stays bounded).
    pub continued: bool,
}

/// The longest piece of a script's output line read at once (64 KiB).
pub const MAX_OUTPUT_PIECE: usize = 64 * 1024;

/// How a script ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    pub fn success(&self) -> bool {
        *self == Exit::Code(0)
    }
}

/// What to run: the script, its arguments and extra environment.
#[derive(Debug, Clone)]
pub struct ScriptRun {
    pub script: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(String, String)>,
    /// Working directory (the project's folder).
    pub dir: PathBuf,
    /// The interpreter for `.py` scripts.
    pub python: PathBuf,
    /// Run as a task of this process instead of `script` (a built-in project the user
    /// chose to run in-process, issue 14); gets `args` and `env` as a child would.
    pub in_process: Option<InProcess>,
}

/// The result of an in-process main: `Err` carries the message a child would have
/// printed to stderr before exiting with status 1.
pub type InProcessResult = Result<(), String>;

/// A main program run as a task of the analyser instead of a child process (issue 14:
/// a built-in project without the process hop). Called with the arguments and the
/// extra environment (RTCLOUD_API, RTCLOUD_TOKEN, ...) a child would get; it talks to
/// the project API like any script, so start, stop, log and tokens work the same.
#[derive(Clone)]
pub struct InProcess(pub Arc<InProcessMain>);

/// The future an in-process main returns.
pub type InProcessFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = InProcessResult> + Send>>;

/// An in-process main: (arguments, extra environment) -> its run.
pub type InProcessMain =
    dyn Fn(Vec<OsString>, Vec<(String, String)>) -> InProcessFuture + Send + Sync;

impl std::fmt::Debug for InProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InProcess")
    }
}

/// The program and leading arguments that run `script`, chosen by its kind.
pub fn interpreter_for(script: &Path, python: &Path) -> Result<Vec<OsString>, ProjectError> {
    let ext = script.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext {
        "py" => Ok(vec![python.into(), "-u".into(), script.into()]),
        "sh" => Ok(vec!["bash".into(), script.into()]),
        _ => {
            let executable = std::fs::metadata(script)
                .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0)
                .unwrap_or(false);
            if executable {
                Ok(vec![script.into()])
            } else {
                Err(ProjectError::NotRunnable {
                    script: script.to_owned(),
                })
            }
        }
    }
}

/// A script that is running (or has just ended).
#[derive(Debug)]
pub struct RunningScript {
    how: Running,
    exit: watch::Receiver<Option<Exit>>,
}

/// A child process group, or a task of this process ([`InProcess`]).
#[derive(Debug)]
enum Running {
    Process(Pid),
    Task(tokio::task::AbortHandle),
}

impl RunningScript {
    /// Starts `run`; each output line goes to `lines` as it comes.
    pub fn start(
        run: &ScriptRun,
        lines: mpsc::UnboundedSender<OutputLine>,
    ) -> Result<Self, ProjectError> {
        if let Some(main) = &run.in_process {
            return Ok(Self::start_task(main, run, lines));
        }
        let argv = interpreter_for(&run.script, &run.python)?;
        let mut command = Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .args(&run.args)
            .envs(run.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&run.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own group, so Stop reaches everything the script started.
            .process_group(0)
            .kill_on_drop(false);
        let mut child = command.spawn().map_err(|source| ProjectError::Start {
            script: run.script.clone(),
            source,
        })?;
        let pid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw)
            .ok_or_else(|| ProjectError::Start {
                script: run.script.clone(),
                source: std::io::Error::other("the child has no process id"),
            })?;
        let stdout = forward(child.stdout.take(), Stream::Stdout, lines.clone());
        let stderr = forward(child.stderr.take(), Stream::Stderr, lines);
        let (tx, exit) = watch::channel(None);
        tokio::spawn(async move {
            let status = wait(&mut child).await;
            // Output written just before exiting is delivered before the exit is seen.
            stdout.await.ok();
            stderr.await.ok();
            tx.send(Some(status)).ok();
        });
        Ok(Self {
            how: Running::Process(pid),
            exit,
        })
    }

    /// Runs `main` as a task; an error becomes one stderr line and exit status 1, an
    /// abort (Stop) exit by SIGTERM.
    fn start_task(
        main: &InProcess,
        run: &ScriptRun,
        lines: mpsc::UnboundedSender<OutputLine>,
    ) -> Self {
        let (tx, exit) = watch::channel(None);
        let task = tokio::spawn((main.0)(run.args.clone(), run.env.clone()));
        let abort = task.abort_handle();
        tokio::spawn(async move {
            let status = match task.await {
                Ok(Ok(())) => Exit::Code(0),
                Ok(Err(message)) => {
                    lines
                        .send(OutputLine {
                            stream: Stream::Stderr,
                            text: format!("Error: {message}"),
                            at: SystemTime::now(),
                            continued: false,
                        })
                        .ok();
                    Exit::Code(1)
                }
                Err(e) if e.is_cancelled() => Exit::Signal(Signal::SIGTERM as i32),
                Err(_) => Exit::Code(101),
            };
            tx.send(Some(status)).ok();
        });
        Self {
            how: Running::Task(abort),
            exit,
        }
    }

    /// Waits for the script to end.
    pub async fn wait(&self) -> Exit {
        let mut exit = self.exit.clone();
        loop {
            if let Some(status) = *exit.borrow_and_update() {
                return status;
            }
            if exit.changed().await.is_err() {
                return Exit::Signal(Signal::SIGKILL as i32);
            }
        }
    }

    /// The exit, if the script has ended.
    pub fn exit(&self) -> Option<Exit> {
        *self.exit.borrow()
    }

    /// Stops the script and everything it started: SIGTERM to its process group, then
    /// SIGKILL if it has not ended after `grace`.
    pub async fn stop(&self, grace: Duration) -> Exit {
        if let Some(exit) = self.exit() {
            return exit;
        }
        let pid = match &self.how {
            Running::Process(pid) => *pid,
            Running::Task(abort) => {
                abort.abort();
                return self.wait().await;
            }
        };
        killpg(pid, Signal::SIGTERM).ok();
        match tokio::time::timeout(grace, self.wait()).await {
            Ok(exit) => {
                // Children that outlived the script itself go too.
                killpg(pid, Signal::SIGKILL).ok();
                exit
            }
            Err(_) => {
                tracing::warn!(pid = %pid, "script ignored SIGTERM for {grace:?}; killing it");
                killpg(pid, Signal::SIGKILL).ok();
                self.wait().await
            }
        }
    }
}

async fn wait(child: &mut Child) -> Exit {
    match child.wait().await {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            (None, None) => Exit::Code(-1),
        },
        Err(e) => {
            tracing::error!("waiting for the script failed: {e}");
            Exit::Code(-1)
        }
    }
}

fn forward(
    pipe: Option<impl AsyncRead + Unpin + Send + 'static>,
    stream: Stream,
    lines: mpsc::UnboundedSender<OutputLine>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(pipe) = pipe else { return };
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        let mut continued = false;
        // Read as bytes: a line that is not UTF-8 is shown lossily, and the pipe keeps
        // being drained so the script never blocks on a full pipe. A line longer than
        // MAX_OUTPUT_PIECE goes on in pieces, so one enormous line costs no memory.
        loop {
            let (line_ended, used, eof) = match reader.fill_buf().await {
                Ok([]) => (true, 0, true),
                Ok(available) => {
                    let room = MAX_OUTPUT_PIECE - buf.len();
                    let take = &available[..available.len().min(room)];
                    match take.iter().position(|&b| b == b'\n') {
                        Some(n) => {
                            buf.extend_from_slice(&take[..n]);
                            (true, n + 1, false)
                        }
                        None => {
                            buf.extend_from_slice(take);
                            (false, take.len(), false)
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!("script output ({stream:?}) unreadable: {e}");
                    return;
                }
            };
            reader.consume(used);
            if eof && buf.is_empty() {
                return;
            }
            if line_ended || buf.len() == MAX_OUTPUT_PIECE {
                let line = OutputLine {
                    stream,
                    text: String::from_utf8_lossy(&buf)
                        .trim_end_matches('\r')
                        .to_owned(),
                    at: SystemTime::now(),
                    continued,
                };
                continued = !line_ended;
                buf.clear();
                if lines.send(line).is_err() || eof {
                    return;
                }
            }
        }
    })
}

/// Runs one script at a time.
#[derive(Debug, Default, Clone)]
pub struct Runner {
    current: Arc<Mutex<Option<Arc<RunningScript>>>>,
}

impl Runner {
    /// Starts `run` unless a script is still running.
    pub fn start(
        &self,
        run: &ScriptRun,
        lines: mpsc::UnboundedSender<OutputLine>,
    ) -> Result<Arc<RunningScript>, ProjectError> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(running) = current.as_ref().filter(|r| r.exit().is_none()) {
            return Err(ProjectError::Busy {
                pid: match running.how {
                    Running::Process(pid) => pid.as_raw(),
                    Running::Task(_) => std::process::id() as i32,
                },
            });
        }
        let started = Arc::new(RunningScript::start(run, lines)?);
        *current = Some(started.clone());
        Ok(started)
    }

    /// The script started last, running or ended.
    pub fn current(&self) -> Option<Arc<RunningScript>> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
