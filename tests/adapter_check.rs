//! `walburst adapter check`: the honest Python adapter keeps every rule, and every lie of
//! the jobs fixture (`tests/fixtures/jobs_app.py`) is named under its rule, through the real
//! binary and real processes (issue 20, item 13).

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use common::BIN;
use common::jobs::{fixture, require_python};

struct Checked {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `walburst adapter check FLAGS -- CMD...`, run from the source tree (relative paths in
/// CMD are taken from there), run directories under `work`.
fn check(work: &Path, flags: &[&str], cmd: &[&str]) -> Checked {
    let out = Command::new(BIN)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["adapter", "check", "--work-dir"])
        .arg(work)
        .args(flags)
        .arg("--")
        .args(cmd)
        .output()
        .expect("walburst runs");
    Checked {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn the_python_adapter_keeps_every_rule_and_shows_its_gate() {
    require_python();
    let work = tempfile::tempdir().unwrap();
    let c = check(
        work.path(),
        &["--kill", "--lockstep"],
        &["python3", "adapters/python/kanban_worker.py"],
    );
    assert_eq!(c.code, 0, "{}{}", c.stdout, c.stderr);
    assert!(!c.stdout.contains("FAIL"), "{}", c.stdout);
    assert!(
        c.stdout
            .contains("PASS adapter check: every rule kept (phases free, kill, lockstep)"),
        "{}",
        c.stdout
    );
    assert!(
        c.stdout
            .contains("PASS kills: a planned kill is announced by dying"),
        "{}",
        c.stdout
    );
    // The gate's classification of the example app's SQL, step by step.
    for step in [
        "begin -> ok",
        "write:INSERT INTO tasks -> ok",
        "write:UPDATE tasks -> ok",
        "commit -> ok",
        "guard -> ok",
        "close -> ok",
    ] {
        assert!(c.stdout.contains(step), "no `{step}` in:\n{}", c.stdout);
    }
    assert!(
        c.stdout.contains("hello: python, walburst-python"),
        "{}",
        c.stdout
    );
    // The plan and the scheduler are seeded: a second check classifies the same steps in the
    // same order.
    let steps = |out: &str| -> Vec<String> {
        out.lines()
            .skip_while(|l| !l.starts_with("gate classification"))
            .take_while(|l| l.starts_with(' ') || l.starts_with("gate"))
            .map(str::to_string)
            .collect()
    };
    let again = check(
        work.path(),
        &["--lockstep"],
        &["python3", "adapters/python/kanban_worker.py"],
    );
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(steps(&c.stdout).len() > 20, "{}", c.stdout);
    assert_eq!(steps(&c.stdout), steps(&again.stdout));
}

/// Every lie of the jobs fixture fails the check with exit 1, under its rule, named.
#[test]
fn each_lie_is_named_under_its_rule() {
    require_python();
    let work = tempfile::tempdir().unwrap();
    let fixture = fixture().display().to_string();
    let lies: &[(&str, bool, &str, &str)] = &[
        (
            "unplanned-dying",
            false,
            "FAIL messages",
            "dying for a kill nobody planned (actor 0, seq 2, point mid-transaction)",
        ),
        (
            "fatal-then-done",
            false,
            "FAIL exit",
            "sent fatal: cannot go on",
        ),
        (
            "unplanned-io",
            false,
            "FAIL messages",
            "an io message for io point 0 that the scenario does not have",
        ),
        (
            "wrong-actor",
            false,
            "FAIL messages",
            "op seq 2 reported as actor 1 claim_task, planned as actor 0 claim_task",
        ),
        (
            "wrong-kind",
            false,
            "FAIL messages",
            "op seq 2 reported as actor 0 add_comment, planned as actor 0 claim_task",
        ),
        (
            "out-of-order",
            false,
            "FAIL messages",
            "actor 0 reported seq 0 after seq 1",
        ),
        (
            "no-intervals",
            false,
            "FAIL record contents",
            "exclusion judged nothing: 0 of 12 committed write transactions",
        ),
        (
            "guard-error",
            false,
            "FAIL record contents",
            "guard checks that could not look",
        ),
        (
            "unsupported",
            false,
            "FAIL record contents",
            "WALBURST_UNSUPPORTED x12",
        ),
        (
            "orphan",
            false,
            "FAIL exit",
            "left 1 process(es) of its own running after it exited",
        ),
        (
            "garbage",
            false,
            "FAIL messages",
            "non-protocol output: starting the burst now",
        ),
        (
            "wrong-version",
            false,
            "FAIL messages",
            "protocol version mismatch (worker speaks 2, runner 1)",
        ),
        (
            "early-done",
            false,
            "FAIL messages",
            "done with 3 of its ops unreported (first: seq 3)",
        ),
        (
            "crash-exit",
            false,
            "FAIL exit",
            "exited with code 3 before finishing its schedule",
        ),
        (
            "bad-actor",
            true,
            "FAIL messages",
            "a message for actor 5, but the worker has 2",
        ),
        (
            "did-ungranted",
            true,
            "FAIL messages",
            "did from actor 0 without a grant",
        ),
        (
            "flock-path",
            true,
            "FAIL messages",
            "a flock's lock is a file name, not a path or empty",
        ),
    ];
    for &(mode, lockstep, rule, named) in lies {
        let flags: &[&str] = if lockstep { &["--lockstep"] } else { &[] };
        let c = check(work.path(), flags, &["python3", &fixture, mode]);
        let said = format!("mode {mode}:\n{}{}", c.stdout, c.stderr);
        assert_eq!(c.code, 1, "a lie must fail the check: {said}");
        assert!(c.stdout.contains(rule), "no `{rule}`: {said}");
        assert!(c.stdout.contains(named), "not named `{named}`: {said}");
        assert!(c.stdout.contains("FAIL adapter check"), "{said}");
    }
}

/// The honest jobs app keeps the free phase's rules; it ignores `start.kills` and serves
/// only actor 0, and the check names both (the kill rule's negative control).
#[test]
fn an_adapter_that_ignores_kills_and_actors_is_told_so() {
    require_python();
    let work = tempfile::tempdir().unwrap();
    let fixture = fixture().display().to_string();
    let c = check(work.path(), &[], &["python3", &fixture, "honest"]);
    assert_eq!(c.code, 0, "{}{}", c.stdout, c.stderr);
    let c = check(work.path(), &["--kill"], &["python3", &fixture, "honest"]);
    assert_eq!(c.code, 1, "{}{}", c.stdout, c.stderr);
    assert!(
        c.stdout.contains("FAIL kills")
            && c.stdout.contains("never announced its planned kill")
            && c.stdout.contains("it does not serve start.kills"),
        "{}",
        c.stdout
    );
    let c = check(
        work.path(),
        &["--lockstep"],
        &["python3", &fixture, "honest"],
    );
    assert_eq!(c.code, 1, "{}{}", c.stdout, c.stderr);
    assert!(
        c.stdout.contains("FAIL deadlines")
            && c.stdout.contains("hint: no step of actors ")
            && c.stdout.contains("0.1, 1.0, 1.1 ran"),
        "{}",
        c.stdout
    );
}

/// Bad input is refused before anything runs (exit 2, naming the field); a program that
/// exits without a word is named at once, never waited on.
#[test]
fn bad_input_is_refused_and_a_mute_program_is_named() {
    let work = tempfile::tempdir().unwrap();
    let c = check(work.path(), &[], &["./no-such-adapter.py"]);
    assert_eq!(c.code, 2, "{}{}", c.stdout, c.stderr);
    assert!(
        c.stderr.contains("adapter check") && c.stderr.contains("worker.command"),
        "{}",
        c.stderr
    );
    assert!(c.stdout.is_empty(), "nothing may run: {}", c.stdout);
    let out = Command::new(BIN)
        .args(["adapter", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "no command is a usage error");
    let c = check(work.path(), &[], &["true"]);
    assert_eq!(c.code, 1, "{}{}", c.stdout, c.stderr);
    assert!(
        c.stdout.contains("FAIL exit") && c.stdout.contains("before finishing its schedule"),
        "{}",
        c.stdout
    );
}

/// An adapter that reads `start` and then says nothing is named at the start barrier's
/// deadline (20 s), never waited on.
#[test]
fn a_silent_adapter_is_named_at_its_deadline() {
    require_python();
    let work = tempfile::tempdir().unwrap();
    let silent = "import sys, time; sys.stdin.readline(); time.sleep(600)";
    let c = check(work.path(), &[], &["python3", "-c", silent]);
    assert_eq!(c.code, 1, "{}{}", c.stdout, c.stderr);
    assert!(
        c.stdout.contains("FAIL deadlines")
            && c.stdout.contains("did not reach the start barrier")
            && c.stdout.contains("no hello"),
        "{}",
        c.stdout
    );
    // Nothing to judge is not a pass.
    assert!(
        !c.stdout.contains("PASS exclusion")
            && c.stdout.contains("NOT JUDGED exclusion")
            && c.stdout.contains("(no op record came)")
            && c.stdout.contains("NOT JUDGED messages"),
        "{}",
        c.stdout
    );
}

/// SIGINT while a phase runs: the workers are killed, the tally printed, exit 130, and no
/// PASS or FAIL concluded about the adapter.
#[test]
fn an_interrupted_check_concludes_nothing() {
    require_python();
    let work = tempfile::tempdir().unwrap();
    let silent = "import sys, time; sys.stdin.readline(); time.sleep(600)";
    let mut child = Command::new(BIN)
        .args(["adapter", "check", "--work-dir"])
        .arg(work.path())
        .args(["--", "python3", "-c", silent])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut out = String::new();
    // The first line is printed once the input is checked and the handler installed.
    reader.read_line(&mut out).unwrap();
    assert!(out.starts_with("adapter check: python3"), "{out}");
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::INT,
    )
    .unwrap();
    reader.read_to_string(&mut out).unwrap();
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(130), "{out}");
    assert!(
        out.contains("INTERRUPTED adapter check during phase free (0 of 1 phases done")
            && out.contains("run directory kept"),
        "{out}"
    );
    assert!(
        !out.contains("PASS adapter check") && !out.contains("FAIL adapter check"),
        "{out}"
    );
}
