//! Running real scripts: live output, exit codes and signals, Stop reaching the whole
//! process group, escalation to SIGKILL, one script at a time, project layout.

use std::path::Path;
use std::time::Duration;

use projects::{
    Exit, OutputLine, Project, ProjectError, Runner, ScriptOverrides, ScriptRun, Stream,
};
use tokio::sync::mpsc;

use crate::{write, SETTINGS};

/// Failure guard only (a loaded machine is slow); the tests do not time anything.
const GUARD: Duration = Duration::from_secs(30);

fn run_of(dir: &Path, script: &str) -> ScriptRun {
    ScriptRun {
        script: dir.join(script),
        args: vec!["a b".into(), "c".into()],
        env: vec![("RTCLOUD_TOKEN".into(), "t0k3n".into())],
        dir: dir.to_owned(),
        python: "python3".into(),
        in_process: None,
    }
}

async fn next(lines: &mut mpsc::UnboundedReceiver<OutputLine>) -> OutputLine {
    tokio::time::timeout(GUARD, lines.recv())
        .await
        .expect("a line in time")
        .expect("the channel is open")
}

#[tokio::test]
async fn output_arrives_line_by_line_while_the_script_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The script waits for a file the test writes only after seeing the first line:
    // the first line must arrive while the script is still running.
    write(
        dir.path(),
        "p.py",
        "import os, sys, time\nprint('first', sys.argv[1:], os.environ['RTCLOUD_TOKEN'])\n\
         while not os.path.exists('go'): time.sleep(0.01)\n\
         print('to stderr', file=sys.stderr)\nprint('last')\nsys.exit(3)\n",
    );
    let (tx, mut lines) = mpsc::unbounded_channel();
    let runner = Runner::default();
    let script = runner
        .start(&run_of(dir.path(), "p.py"), tx)
        .expect("starts");
    let first = next(&mut lines).await;
    assert_eq!(first.stream, Stream::Stdout);
    assert_eq!(first.text, "first ['a b', 'c'] t0k3n");
    assert_eq!(script.exit(), None, "still running");
    std::fs::write(dir.path().join("go"), "").expect("go");
    let mut rest = [next(&mut lines).await, next(&mut lines).await];
    rest.sort_by_key(|l| l.stream == Stream::Stdout);
    assert_eq!(
        (rest[0].stream, rest[0].text.as_str()),
        (Stream::Stderr, "to stderr")
    );
    assert_eq!(
        (rest[1].stream, rest[1].text.as_str()),
        (Stream::Stdout, "last")
    );
    assert_eq!(
        tokio::time::timeout(GUARD, script.wait())
            .await
            .expect("ends"),
        Exit::Code(3)
    );
}

#[tokio::test]
async fn stop_ends_the_whole_process_group_and_a_second_start_waits_for_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A shell script that starts a grandchild and reports its pid.
    write(
        dir.path(),
        "p.sh",
        "sleep 1000 &\necho \"child $!\"\nwait\n",
    );
    let (tx, mut lines) = mpsc::unbounded_channel();
    let runner = Runner::default();
    let script = runner
        .start(&run_of(dir.path(), "p.sh"), tx.clone())
        .expect("starts");
    let line = next(&mut lines).await.text;
    let child: i32 = line
        .strip_prefix("child ")
        .and_then(|p| p.parse().ok())
        .expect("a pid");
    assert!(
        Path::new(&format!("/proc/{child}")).exists(),
        "grandchild runs"
    );

    let busy = runner
        .start(&run_of(dir.path(), "p.sh"), tx.clone())
        .expect_err("one at a time");
    assert!(matches!(busy, ProjectError::Busy { .. }), "{busy}");

    let exit = tokio::time::timeout(GUARD, script.stop(Duration::from_secs(10)))
        .await
        .expect("stops");
    assert_eq!(exit, Exit::Signal(15), "SIGTERM was enough");
    // The grandchild is gone too (reaped by init, or a zombie at most).
    let deadline = std::time::Instant::now() + GUARD;
    loop {
        let state = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        if state.is_empty() || state.contains(") Z ") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "grandchild {child} survived: {state}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    runner
        .start(&run_of(dir.path(), "p.sh"), tx)
        .expect("a new start once stopped")
        .stop(Duration::from_secs(10))
        .await;
}

#[tokio::test]
async fn a_script_ignoring_sigterm_is_killed_after_the_grace_period() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "p.sh",
        "trap '' TERM\necho ready\nwhile true; do sleep 0.05; done\n",
    );
    let (tx, mut lines) = mpsc::unbounded_channel();
    let script = Runner::default()
        .start(&run_of(dir.path(), "p.sh"), tx)
        .expect("starts");
    assert_eq!(next(&mut lines).await.text, "ready");
    let exit = tokio::time::timeout(GUARD, script.stop(Duration::from_millis(300)))
        .await
        .expect("ends");
    assert_eq!(exit, Exit::Signal(9));
}

#[test]
fn scripts_that_cannot_run_say_how_to_fix_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "analysis.R", "print(1)\n");
    let err =
        projects::runner::interpreter_for(&dir.path().join("analysis.R"), Path::new("python3"))
            .expect_err("not runnable");
    assert!(err.to_string().contains("chmod +x"), "{err}");
}

#[test]
fn projects_are_found_as_rt_cloud_lays_them_out() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "sample/sample.py", "print('main')\n");
    write(dir.path(), "sample/initialize.py", "print('init')\n");
    write(dir.path(), "sample/conf/sample.toml", SETTINGS);
    let project = Project::open(dir.path(), "sample", &ScriptOverrides::default()).expect("found");
    assert!(project.main_script.ends_with("sample/sample.py"));
    assert!(project
        .init_script
        .as_deref()
        .is_some_and(|p| p.ends_with("initialize.py")));
    assert_eq!(project.finalize_script, None);
    let config = project.load_config().expect("settings");
    let run = project.script_run(
        &project.main_script,
        Path::new("/s/c.toml"),
        &config.runs(),
        &config.scans(),
    );
    let args: Vec<String> = run
        .args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        args,
        ["--config", "/s/c.toml", "--runs", "1,2", "--scans", "13,14"]
    );
    // Initialize gets the settings only, as RT-Cloud starts it.
    let init = project
        .launch(
            projects::Script::Initialize,
            Path::new("/s/c.toml"),
            &config.runs(),
            &config.scans(),
        )
        .expect("has an initialize script");
    assert_eq!(init.args, ["--config", "/s/c.toml"]);

    for (name, expected) in [
        ("nope", "there is no folder"),
        ("../x", "plain folder name"),
    ] {
        let err = Project::open(dir.path(), name, &ScriptOverrides::default()).expect_err(name);
        assert!(err.to_string().contains(expected), "{err}");
    }
    write(dir.path(), "empty/conf/empty.toml", SETTINGS);
    let err =
        Project::open(dir.path(), "empty", &ScriptOverrides::default()).expect_err("no script");
    assert!(err.to_string().contains("--main-script"), "{err}");
    let custom = ScriptOverrides {
        main: Some("initialize.py".into()),
        ..Default::default()
    };
    let project = Project::open(dir.path(), "sample", &custom).expect("override");
    assert!(project.main_script.ends_with("initialize.py"));
}

/// A script printing one enormous line (issue 19) costs no more memory than a piece:
/// the line arrives in pieces of at most MAX_OUTPUT_PIECE bytes, all of it.
#[tokio::test]
async fn an_enormous_line_arrives_in_bounded_pieces() {
    let dir = tempfile::tempdir().expect("temp dir");
    let size = 3 * projects::MAX_OUTPUT_PIECE + 123;
    write(
        dir.path(),
        "p.py",
        &format!("import sys\nsys.stdout.write('z' * {size})\nprint()\nprint('after')\n"),
    );
    let (tx, mut lines) = mpsc::unbounded_channel();
    let script = Runner::default()
        .start(&run_of(dir.path(), "p.py"), tx)
        .expect("starts");
    let mut pieces = Vec::new();
    loop {
        let line = next(&mut lines).await;
        if line.text == "after" {
            assert!(!line.continued, "a new line");
            break;
        }
        assert!(line.text.len() <= projects::MAX_OUTPUT_PIECE);
        assert_eq!(line.continued, !pieces.is_empty(), "piece {}", pieces.len());
        pieces.push(line.text);
    }
    assert_eq!(pieces.len(), 4, "three full pieces and the rest");
    assert_eq!(pieces.concat(), "z".repeat(size), "nothing lost");
    tokio::time::timeout(GUARD, script.wait())
        .await
        .expect("ends");
}
