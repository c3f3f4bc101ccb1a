//! The session's memory, events and files, on a real temp folder.

use serde_json::json;
use session::{Event, LaunchKind, LogKind, Session};

fn read(path: std::path::PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_launch_keeps_its_settings_results_log_and_outcome_on_disk() {
    let root = tempfile::tempdir().expect("temp dir");
    let session = Session::create(root.path(), "sample").expect("session");
    assert!(session.dir().starts_with(root.path().join("sample")));

    let launch = session.begin_launch(LaunchKind::Main, &[1], &[13], "runNum = [1]\n");
    assert_eq!(launch.number, 1);
    session.log(LogKind::Stdout, "TR 1 done");
    session.add_result(1, 1, json!(0.25), 0.0);
    session.plot_point(1, 1, 1234.5678901234567);
    session.add_result(1, 2, json!({"run": 1, "tr": 2, "x": "a\tb"}), 500.0);
    session.log(LogKind::Stderr, "two\nlines");
    let ended = session
        .end_launch(1, "exit 0", true)
        .expect("launch exists");
    assert_eq!(ended.outcome.as_deref(), Some("exit 0"));
    // Results after the launch ended are not filed under it.
    session.add_result(9, 9, json!(1.0), 0.0);
    session.flush();

    let dir = session.dir().join(&launch.dir);
    assert_eq!(read(dir.join("config.toml")), "runNum = [1]\n");
    let tsv = read(dir.join("results.tsv"));
    let lines: Vec<&str> = tsv.lines().collect();
    assert_eq!(lines[0], "seq\trun\ttr\tvalue\tonset_delay_ms\tmade_at");
    assert!(lines[1].starts_with("1\t1\t1\t0.25\t0\t"), "{tsv}");
    assert!(
        lines[2].starts_with("2\t1\t2\t{\"run\":1,\"tr\":2,\"x\":\"a\\tb\"}\t500\t"),
        "{tsv}"
    );
    assert_eq!(lines.len(), 3, "{tsv}");
    assert_eq!(read(dir.join("plot.tsv")), "1\t1\t1234.5678901234567\n");
    let status: serde_json::Value =
        serde_json::from_str(&read(dir.join("status.json"))).expect("status is JSON");
    assert_eq!(status["outcome"], "exit 0");
    assert_eq!(status["succeeded"], true);

    let log = read(dir.join("log.txt"));
    assert!(log.contains("\tstdout\tTR 1 done\n"), "{log}");
    assert!(log.contains("\tstderr\ttwo\n\tlines\n"), "{log}");
    assert!(log.contains("exit 0"), "{log}");
    let session_log = read(session.dir().join("session.log"));
    assert!(session_log.contains("TR 1 done"), "{session_log}");

    let all = session.results_after(0);
    assert_eq!(all.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(all[2].launch, 0);
    assert_eq!(session.results_after(2).len(), 1);
    assert!(session.results_after(99).is_empty());
}

#[test]
fn a_failed_launch_is_logged_as_an_error_and_unknown_launches_are_refused() {
    let root = tempfile::tempdir().expect("temp dir");
    let session = Session::create(root.path(), "p").expect("session");
    session.begin_launch(LaunchKind::Initialize, &[], &[], "");
    session
        .end_launch(1, "exit 3", false)
        .expect("launch exists");
    let last = session.logs().pop().expect("a log line");
    assert_eq!(last.kind, LogKind::Error);
    assert!(last.text.contains("exit 3"));
    assert!(session.end_launch(7, "exit 0", true).is_err());
}

#[tokio::test]
async fn live_views_see_every_change_in_order() {
    let root = tempfile::tempdir().expect("temp dir");
    let session = Session::create(root.path(), "p").expect("session");
    let mut events = session.subscribe();
    session.plot_point(1, 2, 5.0);
    session.plot_point(1, 1, 4.0);
    session.plot_point(1, 2, 6.0);
    session.plot_point(2, 1, 1.0);
    session.add_result(1, 1, json!(0.5), 0.0);
    session.set_message("relax");
    session.clear_plot(2);
    session.set_user_error("no scanner");

    assert_eq!(session.plots().len(), 1);
    assert_eq!(session.plots()[&1], vec![(1, 4.0), (2, 6.0)]);
    assert_eq!(session.user_error().as_deref(), Some("no scanner"));
    session.set_message("breathe");
    let later = session.messages_after(1);
    assert_eq!(later.len(), 1);
    assert_eq!((later[0].0, later[0].2.as_str()), (2, "breathe"));

    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(match event {
            Event::Plot { run, tr, .. } => format!("plot {run} {tr}"),
            Event::Result(r) => format!("result {}", r.seq),
            Event::Message { seq, text, .. } => format!("message {seq} {text}"),
            Event::PlotCleared { run } => format!("cleared {run:?}"),
            Event::UserError { text } => format!("error {text:?}"),
            Event::Log(l) => format!("log {:?}", l.kind),
            other => format!("{other:?}"),
        });
    }
    assert_eq!(
        seen,
        [
            "plot 1 2",
            "plot 1 1",
            "plot 1 2",
            "plot 2 1",
            "result 1",
            "log Session",
            "message 1 relax",
            "cleared Some(2)",
            "log Error",
            "error Some(\"no scanner\")",
            "log Session",
            "message 2 breathe",
        ]
    );
}

#[test]
fn the_latest_response_for_a_tr_wins_and_all_are_kept() {
    let root = tempfile::tempdir().expect("temp dir");
    let session = Session::create(root.path(), "p").expect("session");
    session.add_response(1, 3, json!("left"));
    session.add_response(1, 3, json!("right"));
    session.add_response(1, 4, json!({"key": "space", "rt_ms": 412}));
    assert_eq!(
        session.response(1, 3).map(|r| r.value),
        Some(json!("right"))
    );
    assert!(session.response(2, 3).is_none());
    assert_eq!(session.responses().len(), 3);
    // A response resent under the same id (after a reconnect) counts once.
    assert!(session.record_response("r-1", 2, 1, json!(1)));
    assert!(!session.record_response("r-1", 2, 1, json!(1)));
    assert_eq!(session.responses().len(), 4);
}

#[test]
fn sessions_started_in_the_same_second_get_their_own_folders() {
    let root = tempfile::tempdir().expect("temp dir");
    let a = Session::create(root.path(), "p").expect("first");
    let b = Session::create(root.path(), "p").expect("second");
    assert_ne!(a.dir(), b.dir());
    assert_ne!(a.id(), b.id());
}

#[test]
fn memory_keeps_only_the_newest_log_lines() {
    let root = tempfile::tempdir().expect("temp dir");
    let session = Session::create(root.path(), "p").expect("session");
    for i in 0..session::MAX_LOG_LINES + 10 {
        session.log(LogKind::User, format!("line {i}"));
    }
    let logs = session.logs();
    assert_eq!(logs.len(), session::MAX_LOG_LINES);
    assert_eq!(logs[0].text, "line 10");
    session.flush();
    let file = read(session.dir().join("session.log"));
    assert_eq!(file.lines().count(), session::MAX_LOG_LINES + 10);
}

/// One enormous line (issue 19) is cut in memory and on the page, kept whole on disk;
/// and many big lines never hold more than MAX_LOG_BYTES in memory.
#[test]
fn an_enormous_line_is_capped_in_memory_and_kept_whole_on_disk() {
    let root = tempfile::tempdir().expect("temp dir");
    let session = Session::create(root.path(), "p").expect("session");
    let mut events = session.subscribe();
    let huge = "x".repeat(5 * 1024 * 1024);
    session.log(LogKind::Stdout, huge.clone());
    let logs = session.logs();
    let kept = &logs.last().expect("a line").text;
    assert!(
        kept.len() < session::MAX_LOG_LINE_BYTES + 100,
        "{} bytes",
        kept.len()
    );
    assert!(
        kept.contains("the whole line is in session.log"),
        "{}",
        &kept[kept.len() - 80..]
    );
    match events.try_recv().expect("an event") {
        Event::Log(line) => assert_eq!(&line.text, kept, "the page gets the capped line"),
        other => panic!("{other:?}"),
    }
    // A continuation of an overlong script line goes to the files only.
    session.log_piece(LogKind::Stdout, "the rest".into(), true);
    assert_eq!(session.logs().len(), logs.len());
    session.flush();
    let file = read(session.dir().join("session.log"));
    assert!(file.contains(&huge), "the whole line is on disk");
    assert!(file.contains("the rest"));

    let big = "y".repeat(session::MAX_LOG_LINE_BYTES);
    for _ in 0..(session::MAX_LOG_BYTES / session::MAX_LOG_LINE_BYTES) * 2 {
        session.log(LogKind::Stdout, big.clone());
    }
    let held: usize = session.logs().iter().map(|l| l.text.len()).sum();
    assert!(held <= session::MAX_LOG_BYTES, "{held} bytes in memory");
}
