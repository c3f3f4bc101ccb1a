//! The process guard ends a wrapper and the child it started, also when the test panics.

use std::process::Command;
use std::time::{Duration, Instant};

use test_support::ChildGuard;

/// True while `pid` runs (a zombie waiting for a parent that never reaps it is gone).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

#[test]
fn a_panicking_test_leaves_neither_the_wrapper_nor_its_child() {
    // A wrapper like scripts/*.sh: it starts the real program as a child and waits.
    let (guard, lines) =
        ChildGuard::spawn_lines(Command::new("sh").args(["-c", "sleep 300 & echo $$ $!; wait"]))
            .expect("sh starts");
    let line = lines
        .recv_timeout(Duration::from_secs(30))
        .expect("the wrapper prints its pid and its child's");
    let pids: Vec<u32> = line
        .split_whitespace()
        .map(|p| p.parse().expect("a pid"))
        .collect();
    assert!(pids.iter().all(|&p| alive(p)), "both run: {line}");

    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _guard = guard;
        panic!("a failing assertion in the middle of a test");
    }));
    assert!(outcome.is_err());
    let deadline = Instant::now() + Duration::from_secs(10);
    while pids.iter().any(|&p| alive(p)) {
        assert!(Instant::now() < deadline, "still running: {pids:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
