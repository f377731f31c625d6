//! A worker is code under test: every lie, crash or omission of an adapter ends FAIL with
//! its own named reason, never PASS (issue 20). Each test runs the jobs app
//! (`tests/fixtures/jobs_app.py`) in one lying mode through the real binary; its honest mode
//! passing is `external_worker::an_honest_app_with_its_own_ledger_passes_and_is_recorded`.

mod common;

use common::jobs::*;
use common::*;

/// Runs `mode` (free mode, or lockstep) and returns the failure/liveness lines.
fn lie(mode: &str, lockstep: bool) -> (Run, String) {
    require_python();
    let dir = tempfile::tempdir().unwrap();
    let command = fixture().display().to_string();
    let path = scenario_file(dir.path(), mode, &jobs_scenario(&command, mode));
    let mut args = vec![
        path.to_str().unwrap().to_string(),
        "--seed".into(),
        "3".into(),
    ];
    if lockstep {
        args.extend(["--mode".into(), "lockstep".into()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = run(dir.path(), &args);
    let why = reasons(&r);
    assert_eq!(
        r.code, 1,
        "a lie must FAIL the run:\n{}{}\n{why}",
        r.stdout, r.stderr
    );
    assert!(!r.passed());
    (r, why)
}

#[test]
fn an_unplanned_dying_is_a_protocol_violation() {
    let (_, why) = lie("unplanned-dying", false);
    assert!(
        why.contains("liveness/worker_protocol")
            && why.contains(
                "dying for a kill nobody planned (actor 0, seq 2, point mid-transaction)"
            ),
        "{why}"
    );
}

#[test]
fn fatal_fails_the_worker_even_when_it_goes_on_and_exits_0() {
    let (_, why) = lie("fatal-then-done", false);
    assert!(
        why.contains("liveness/worker_exit") && why.contains("sent fatal: cannot go on"),
        "{why}"
    );
}

#[test]
fn an_io_fault_without_io_is_a_protocol_violation() {
    let (_, why) = lie("unplanned-io", false);
    assert!(
        why.contains("liveness/worker_protocol")
            && why.contains("an io message for io point 0 that the scenario does not have"),
        "{why}"
    );
}

#[test]
fn an_op_reported_for_another_actor_is_not_as_planned() {
    let (_, why) = lie("wrong-actor", false);
    assert!(
        why.contains("liveness/worker_protocol")
            && why.contains(
                "op seq 2 reported as actor 1 create_task, planned as actor 0 create_task"
            ),
        "{why}"
    );
}

#[test]
fn an_op_reported_as_another_kind_is_not_as_planned() {
    let (_, why) = lie("wrong-kind", false);
    assert!(
        why.contains("op seq 2 reported as actor 0 add_comment, planned as actor 0 create_task"),
        "{why}"
    );
}

#[test]
fn ops_of_one_actor_out_of_order_are_named() {
    let (_, why) = lie("out-of-order", false);
    assert!(
        why.contains("liveness/worker_protocol")
            && why.contains("actor 0 reported seq 0 after seq 1"),
        "{why}"
    );
}

#[test]
fn a_want_for_an_actor_that_does_not_exist_is_named() {
    let (_, why) = lie("bad-actor", true);
    assert!(
        why.contains("liveness/worker_protocol")
            && why.contains("a message for actor 5, but the worker has 1"),
        "{why}"
    );
}

#[test]
fn a_did_without_a_grant_is_named() {
    let (_, why) = lie("did-ungranted", true);
    assert!(
        why.contains("liveness/worker_protocol")
            && why.contains("did from actor 0 without a grant"),
        "{why}"
    );
}

/// Records without the write-lock interval leave write exclusion judging nothing: a
/// failure of its own (`not_judged`), named in the verdict line, unless declared.
#[test]
fn records_without_intervals_are_not_judged_silently() {
    let (r, why) = lie("no-intervals", false);
    assert!(
        why.contains("not_judged/interval_check")
            && why.contains("exclusion judged nothing: 0 of 24 committed write transactions"),
        "{why}"
    );
    let verdict = r.stdout.lines().last().unwrap_or_default();
    assert!(
        verdict.contains("[not_judged/interval_check: exclusion judged nothing"),
        "{verdict}"
    );
    // Declared not judged, the same run passes with a note.
    let dir = tempfile::tempdir().unwrap();
    let command = fixture().display().to_string();
    let toml = jobs_scenario(&command, "no-intervals") + "[expect]\nnot_judged = [\"exclusion\"]\n";
    let path = scenario_file(dir.path(), "declared", &toml);
    let r = run(dir.path(), &[path.to_str().unwrap(), "--seed", "3"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("note: not judged: exclusion, 0 of 24"),
        "{}",
        r.stdout
    );
}

/// Evidence is never run as code: a `[ledger]` query that would delete the rows it lists
/// runs on a read-only connection, fails (an error while checking, never a pass) and the
/// rows stay.
#[test]
fn a_ledger_query_that_writes_fails_and_the_database_stays_whole() {
    require_python();
    let dir = tempfile::tempdir().unwrap();
    let command = fixture().display().to_string();
    let toml = jobs_scenario(&command, "honest").replace(
        "present = \"SELECT worker, seq FROM jobs\"",
        "present = \"DELETE FROM jobs RETURNING worker, seq\"",
    );
    let path = scenario_file(dir.path(), "deleting", &toml);
    let r = run(
        dir.path(),
        &[path.to_str().unwrap(), "--seed", "3", "--keep"],
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let err = r.s("/checks/ledger_error");
    assert!(
        err.contains("ledger.present") && err.contains("readonly"),
        "{err}"
    );
    let run_dir = r.s("/run_dir");
    let db = std::path::Path::new(&run_dir).join("db/kanban.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM jobs", [], |row| row.get(0))
        .unwrap();
    assert_eq!(n, 24, "the ledger query must not have deleted anything");
}

/// A guard that cannot look is not a guard that passed: counted, and a failure of its own.
#[test]
fn a_guard_that_could_not_look_is_a_failure_of_its_own() {
    let (r, why) = lie("guard-error", false);
    assert!(
        why.contains("guard_errors/guard")
            && why.contains("24 guard checks that could not look")
            && why.contains("cannot stat the database file"),
        "{why}"
    );
    assert_eq!(r.u("/checks/guard_errors"), 24);
}

/// A worker's own child processes are tracked (its process group): one left running after
/// the worker exited is killed and named.
#[test]
fn a_child_process_that_outlives_its_worker_is_killed_and_named() {
    let (r, why) = lie("orphan", false);
    assert!(
        why.contains("liveness/worker_exit")
            && why.contains("left 1 process(es) of its own running after it exited"),
        "{why}"
    );
    for w in r.report["workers"].as_array().unwrap() {
        for pid in w["children_outlived"].as_array().unwrap() {
            let pid = pid.as_u64().unwrap();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            assert!(
                stat.is_empty() || stat.contains(") Z "),
                "child {pid} still running: {stat}"
            );
        }
    }
}

/// The stall watchdog watches progress, not chatter: a worker that repeats `ready` but
/// reports no op is stalled all the same.
#[test]
fn chatter_without_progress_is_a_stall() {
    let (_, why) = lie("chatty-hang", false);
    assert!(why.contains("stalled"), "{why}");
}
