//! The project runtime with real scripts (bash, run as child processes) and the real
//! project API on 127.0.0.1, in-process: tokens, crashes, Stop, one run at a time, and
//! every kind of call through the Rust client.

mod bids;
mod client;
mod controller;

use std::path::Path;
use std::time::Duration;

use data_link::DataInterface;
use project_runtime::{ApiInfo, Controller, ProjectApi};
use projects::{Project, ProjectConfig, ScriptOverrides};
use session::Session;

/// A failure guard only: scripts start slowly on a loaded 2-core machine.
pub const WAIT: Duration = Duration::from_secs(60);

pub const SETTINGS: &str = "subjectName = \"sub-01\"\nrunNum = [1]\nscanNum = [13]\n";

/// A project folder `p` with `scripts` (name, body) and the settings above.
pub fn project_dir(root: &Path, scripts: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = root.join("projects/p");
    std::fs::create_dir_all(dir.join("conf")).expect("project folder");
    std::fs::write(dir.join("conf/p.toml"), SETTINGS).expect("settings");
    for (name, body) in scripts {
        std::fs::write(dir.join(name), body).expect("script");
    }
    root.join("projects")
}

/// A controller for project `p` under `root`, data from `data_dir` on the local disk.
pub async fn controller(root: &Path, data_dir: &Path, grace: Duration) -> (Controller, ProjectApi) {
    let project = Project::open(&root.join("projects"), "p", &ScriptOverrides::default())
        .expect("project opens");
    let settings = ProjectConfig::load(&project.config_path).expect("settings load");
    let session = Session::create(&root.join("sessions"), "p").expect("session");
    let rules = filestore::AccessRules::new([data_dir], ["*"]).expect("rules");
    let api = ProjectApi::start(
        DataInterface::local(rules),
        session.clone(),
        ApiInfo {
            project: "p".into(),
            subject_remote: false,
            station: String::new(),
            qa: Default::default(),
        },
    )
    .await
    .expect("project API");
    let controller = Controller::new(
        project,
        settings,
        session,
        api.clone(),
        "python3".into(),
        grace,
    );
    (controller, api)
}
