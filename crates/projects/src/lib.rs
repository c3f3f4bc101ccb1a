//! projects: the experimenter's analysis as RT-Cloud organises it: a folder `NAME/`
//! under the projects folder with the main script (`NAME.py`, `NAME.sh` or an
//! executable `NAME`), optional `initialize.*` / `finalize.*` scripts, and the settings
//! in `conf/NAME.toml`.
//!
//! - [`config`]: the settings, checked, editable with types kept, saved atomically.
//! - [`runner`]: running a script in its own process group, its output line by line,
//!   Stop as a whole, one script at a time.
//!
//! This crate never talks to the network: the analyser gives the script the project
//! API's address in its environment.

pub mod config;
pub mod runner;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub use config::ProjectConfig;
pub use runner::{
    Exit, InProcess, InProcessResult, OutputLine, Runner, RunningScript, ScriptRun, Stream,
    MAX_OUTPUT_PIECE,
};

/// What can go wrong with a project.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectError {
    #[error("project {name} not found in {dir}: {problem}")]
    NotFound {
        name: String,
        dir: PathBuf,
        problem: String,
    },
    #[error("settings {path}: {problem}")]
    Config { path: PathBuf, problem: String },
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot run {script}: name it .py or .sh, or make it executable (chmod +x)")]
    NotRunnable { script: PathBuf },
    #[error("cannot start {script}: {source}")]
    Start {
        script: PathBuf,
        source: std::io::Error,
    },
    #[error("a script is still running (pid {pid}); stop it first")]
    Busy { pid: i32 },
}

/// Script names the analyser's options can override.
#[derive(Debug, Clone, Default)]
pub struct ScriptOverrides {
    pub main: Option<PathBuf>,
    pub init: Option<PathBuf>,
    pub finalize: Option<PathBuf>,
}

/// A project found on disk.
#[derive(Debug, Clone)]
pub struct Project {
    pub name: String,
    pub dir: PathBuf,
    pub main_script: PathBuf,
    pub init_script: Option<PathBuf>,
    pub finalize_script: Option<PathBuf>,
    pub config_path: PathBuf,
    /// Arguments before `--config` for the main script (a built-in project runs the
    /// analyser itself as `data_analyser builtin NAME`).
    pub main_args: Vec<OsString>,
    /// Run the main program as a task of the analyser rather than a child process (a
    /// built-in project with `--in-process`, issue 14); initialize and finalize stay
    /// processes.
    pub in_process: Option<InProcess>,
}

/// Which of a project's scripts to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    Main,
    Initialize,
    Finalize,
}

impl Project {
    /// Finds project `name` in `projects_dir`. Scripts given in `overrides` are taken
    /// relative to the project's folder.
    pub fn open(
        projects_dir: &Path,
        name: &str,
        overrides: &ScriptOverrides,
    ) -> Result<Self, ProjectError> {
        Self::open_inner(projects_dir, name, overrides, None)
    }

    /// [`Project::open`] with the settings at `config` instead of `conf/NAME.toml`
    /// (which may then be missing).
    pub fn open_with_config(
        projects_dir: &Path,
        name: &str,
        overrides: &ScriptOverrides,
        config: &Path,
    ) -> Result<Self, ProjectError> {
        Self::open_inner(projects_dir, name, overrides, Some(config))
    }

    fn open_inner(
        projects_dir: &Path,
        name: &str,
        overrides: &ScriptOverrides,
        config: Option<&Path>,
    ) -> Result<Self, ProjectError> {
        let not_found = |problem: String| ProjectError::NotFound {
            name: name.to_owned(),
            dir: projects_dir.to_owned(),
            problem,
        };
        if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
            return Err(not_found("a project name is a plain folder name".into()));
        }
        let dir = projects_dir.join(name);
        if !dir.is_dir() {
            return Err(not_found(format!("there is no folder {}", dir.display())));
        }
        let main_script = match &overrides.main {
            Some(script) => existing(&dir, script).map_err(not_found)?,
            None => find_script(&dir, name).ok_or_else(|| {
                not_found(format!(
                    "no main script: expected {name}.py, {name}.sh or an executable {name} in {} (or give --main-script)",
                    dir.display()
                ))
            })?,
        };
        let optional = |given: &Option<PathBuf>, stem: &str| match given {
            Some(script) => existing(&dir, script).map(Some).map_err(not_found),
            None => Ok(find_script(&dir, stem)),
        };
        let init_script = optional(&overrides.init, "initialize")?;
        let finalize_script = optional(&overrides.finalize, "finalize")?;
        let config_path = match config {
            Some(path) => path.to_owned(),
            None => dir.join("conf").join(format!("{name}.toml")),
        };
        if !config_path.is_file() {
            return Err(not_found(format!(
                "its settings {} are missing",
                config_path.display()
            )));
        }
        Ok(Self {
            name: name.to_owned(),
            dir,
            main_script,
            init_script,
            finalize_script,
            config_path,
            main_args: Vec::new(),
            in_process: None,
        })
    }

    /// A project whose main program is `program main_args...` (a built-in project of the
    /// analyser), with its settings at `config_path` and `dir` as working folder.
    pub fn builtin(
        name: &str,
        dir: &Path,
        config_path: &Path,
        program: &Path,
        main_args: Vec<OsString>,
    ) -> Self {
        Self {
            name: name.to_owned(),
            dir: dir.to_owned(),
            main_script: program.to_owned(),
            init_script: None,
            finalize_script: None,
            config_path: config_path.to_owned(),
            main_args,
            in_process: None,
        }
    }

    /// How to run `which` script with the settings at `config` for `runs` and `scans`
    /// (initialize and finalize get `--config PATH` only, as in RT-Cloud), or
    /// `NotFound` when the project has no such script.
    pub fn launch(
        &self,
        which: Script,
        config: &Path,
        runs: &[i64],
        scans: &[i64],
    ) -> Result<ScriptRun, ProjectError> {
        let (script, stem) = match which {
            Script::Main => (Some(&self.main_script), self.name.as_str()),
            Script::Initialize => (self.init_script.as_ref(), "initialize"),
            Script::Finalize => (self.finalize_script.as_ref(), "finalize"),
        };
        let script = script.ok_or_else(|| ProjectError::NotFound {
            name: self.name.clone(),
            dir: self.dir.clone(),
            problem: format!(
                "it has no {stem} script ({stem}.py, {stem}.sh or an executable {stem})"
            ),
        })?;
        let mut run = self.script_run(script, config, runs, scans);
        if which == Script::Main {
            run.args.splice(0..0, self.main_args.iter().cloned());
            run.in_process = self.in_process.clone();
        } else {
            // RT-Cloud starts initialize and finalize with the settings only, and its
            // scripts accept nothing else (runNum and scanNum are in the settings).
            run.args.truncate(2);
        }
        Ok(run)
    }

    /// The project's settings as in its file.
    pub fn load_config(&self) -> Result<ProjectConfig, ProjectError> {
        ProjectConfig::load(&self.config_path)
    }

    /// How to run `script` with the settings at `config` for `runs` and `scans`
    /// (RT-Cloud's `--config PATH --runs 1,2 --scans 3,4`; an empty list is left out).
    pub fn script_run(
        &self,
        script: &Path,
        config: &Path,
        runs: &[i64],
        scans: &[i64],
    ) -> ScriptRun {
        let list = |v: &[i64]| v.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let mut args = vec!["--config".into(), config.into()];
        // An empty list is not passed: RT-Cloud's scripts then take the settings' own,
        // and some (openNeuroClient.py) have no --scans option at all.
        for (flag, numbers) in [("--runs", runs), ("--scans", scans)] {
            if !numbers.is_empty() {
                args.extend([flag.into(), list(numbers).into()]);
            }
        }
        ScriptRun {
            script: script.to_owned(),
            args,
            env: Vec::new(),
            dir: self.dir.clone(),
            python: "python3".into(),
            in_process: None,
        }
    }
}

fn existing(dir: &Path, script: &Path) -> Result<PathBuf, String> {
    let path = dir.join(script);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("script {} does not exist", path.display()))
    }
}

/// `STEM.py`, `STEM.sh` or an executable `STEM`, in that order.
fn find_script(dir: &Path, stem: &str) -> Option<PathBuf> {
    [format!("{stem}.py"), format!("{stem}.sh"), stem.to_owned()]
        .into_iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
}
