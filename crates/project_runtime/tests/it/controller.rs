//! Run, Stop, Initialize and Finalize with real scripts.

use std::time::Duration;

use project_runtime::ControlError;
use session::{LaunchKind, LogKind};

use crate::{controller, project_dir, WAIT};

fn read(path: std::path::PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test]
async fn a_crashing_script_has_its_stderr_logged_and_its_exit_status_recorded() {
    let root = tempfile::tempdir().expect("temp dir");
    project_dir(
        root.path(),
        &[(
            "p.sh",
            "echo \"args: $*\"\necho \"token set: ${RTCLOUD_TOKEN:+yes}\"\necho 'Traceback: no such volume' >&2\nexit 3\n",
        )],
    );
    let (controller, _api) = controller(root.path(), root.path(), Duration::from_secs(1)).await;
    let launch = controller.start(LaunchKind::Main).await.expect("starts");
    let ended = tokio::time::timeout(WAIT, controller.wait(launch.number))
        .await
        .expect("script ends")
        .expect("launch recorded");
    assert_eq!(ended.outcome.as_deref(), Some("exit 3"));
    assert_eq!(ended.succeeded, Some(false));

    let session = controller.session();
    session.flush();
    let dir = session.dir().join(&ended.dir);
    let log = read(dir.join("log.txt"));
    assert!(
        log.contains("\tstderr\tTraceback: no such volume\n"),
        "{log}"
    );
    assert!(log.contains("token set: yes"), "{log}");
    let config = dir.join("config.toml");
    assert!(
        log.contains(&format!(
            "args: --config {} --runs 1 --scans 13",
            config.display()
        )),
        "{log}"
    );
    let written: toml::Table = read(config).parse().expect("settings TOML");
    assert_eq!(written["subjectName"].as_str(), Some("sub-01"));
    let status: serde_json::Value =
        serde_json::from_str(&read(dir.join("status.json"))).expect("status JSON");
    assert_eq!(status["outcome"], "exit 3");
    // The failure is an error line the experimenter sees.
    assert!(session
        .logs()
        .iter()
        .any(|l| l.kind == LogKind::Error && l.text.contains("exit 3")));
}

#[tokio::test]
async fn stop_ends_a_script_that_ignores_sigterm_and_everything_it_started() {
    let root = tempfile::tempdir().expect("temp dir");
    let marker = root.path().join("child-alive");
    let script = format!(
        "trap '' TERM\n( trap '' TERM; while true; do touch {m}; sleep 0.1; done ) &\necho ready\nwhile true; do sleep 0.1; done\n",
        m = marker.display()
    );
    project_dir(root.path(), &[("p.sh", &script)]);
    let (controller, _api) = controller(root.path(), root.path(), Duration::from_millis(500)).await;
    let mut events = controller.session().subscribe();
    let launch = controller.start(LaunchKind::Main).await.expect("starts");
    // Wait for "ready": the traps are set.
    tokio::time::timeout(WAIT, async {
        loop {
            if let Ok(session::Event::Log(line)) = events.recv().await {
                if line.text == "ready" {
                    break;
                }
            }
        }
    })
    .await
    .expect("script says ready");

    let exit = tokio::time::timeout(WAIT, controller.stop())
        .await
        .expect("stop returns")
        .expect("a script was running");
    assert_eq!(exit, projects::Exit::Signal(9));
    let ended = controller.wait(launch.number).await.expect("recorded");
    assert_eq!(
        ended.outcome.as_deref(),
        Some("killed by signal 9 (SIGKILL)")
    );
    assert!(controller.running().is_none());

    // The background child went with it: the marker stops being touched.
    std::fs::remove_file(&marker).ok();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!marker.exists(), "a child of the script survived Stop");
}

#[tokio::test]
async fn a_second_run_while_one_runs_is_refused_clearly() {
    let root = tempfile::tempdir().expect("temp dir");
    project_dir(
        root.path(),
        &[("p.sh", "sleep 30\n"), ("initialize.sh", "echo init\n")],
    );
    let (controller, _api) = controller(root.path(), root.path(), Duration::from_secs(1)).await;
    let first = controller.start(LaunchKind::Main).await.expect("starts");
    for kind in [LaunchKind::Main, LaunchKind::Initialize] {
        let err = controller.start(kind).await.expect_err("busy");
        assert!(matches!(err, ControlError::Busy { launch, .. } if launch == first.number));
        assert!(
            err.to_string().contains("already running (launch 1)"),
            "{err}"
        );
    }
    controller.stop().await.expect("was running");
    controller.wait(first.number).await.expect("recorded");
    // Free again: Initialize runs now, and a missing Finalize script is named.
    let init = controller
        .start(LaunchKind::Initialize)
        .await
        .expect("starts after stop");
    let ended = controller.wait(init.number).await.expect("recorded");
    assert_eq!(ended.outcome.as_deref(), Some("exit 0"));
    let err = controller
        .start(LaunchKind::Finalize)
        .await
        .expect_err("no finalize script");
    assert!(err.to_string().contains("no finalize script"), "{err}");
    assert_eq!(controller.session().launches().len(), 2);
}

#[tokio::test]
async fn edited_settings_are_what_the_next_run_gets() {
    let root = tempfile::tempdir().expect("temp dir");
    project_dir(root.path(), &[("p.sh", "cat \"$2\"\n")]);
    let (controller, _api) = controller(root.path(), root.path(), Duration::from_secs(1)).await;
    controller
        .set_setting("runNum", "[4, 5]")
        .expect("valid edit");
    controller
        .set_setting("scanNum", "[7, 8]")
        .expect("valid edit");
    assert!(controller.set_setting("runNum", "four").is_err());
    let launch = controller.start(LaunchKind::Main).await.expect("starts");
    assert_eq!(launch.runs, [4, 5]);
    controller.wait(launch.number).await.expect("recorded");
    let printed: Vec<String> = controller
        .session()
        .logs()
        .into_iter()
        .filter(|l| l.kind == LogKind::Stdout)
        .map(|l| l.text)
        .collect();
    assert!(
        printed.contains(&"runNum = [4, 5]".to_owned()),
        "{printed:?}"
    );
    controller.reset_settings();
    assert_eq!(controller.settings().runs(), [1]);
}
