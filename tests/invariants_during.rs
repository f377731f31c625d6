//! `[[invariants]]` read during a lockstep run, at its quiescent points (every live actor
//! parked outside any transaction): a rule the app breaks for a while and repairs before
//! the end fails the run by name, at the step where it first broke; the reads change
//! nothing the workers do (the same trace hash with and without them); free mode has no
//! such points, so the same run passes there (the control that the failure is the
//! during-run read's, not the after-run check's).

mod common;

use common::*;

/// Creates only: the task count grows by one per commit and never shrinks, so it passes
/// through 3, 4 and 5 and ends at 12. The invariant holds after the run and is broken in
/// between.
const TRANSIENT: &str = r#"name = "transient"
[sqlite]
journal_mode = "wal"
synchronous = "normal"
[workload]
workers = 2
ops_per_worker = 6
[workload.mix]
create_task = 1
[limits]
run_timeout_secs = 60
"#;

const INVARIANT: &str = r#"
[[invariants]]
name = "never 3 to 5 tasks"
sql = "SELECT count(*) AS tasks FROM tasks HAVING count(*) BETWEEN 3 AND 5"
"#;

#[test]
fn a_rule_broken_during_a_lockstep_run_and_repaired_by_its_end_fails_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(dir.path(), "transient", &format!("{TRANSIENT}{INVARIANT}"));
    let r = run(
        dir.path(),
        &[path.to_str().unwrap(), "--seed", "3", "--mode", "lockstep"],
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        r.failure_signatures(),
        ["invariant/invariant_check/unexpected"],
        "{:?}",
        r.failures()
    );
    let f = &r.failures()[0];
    assert!(
        f.contains("\"never 3 to 5 tasks\"")
            && f.contains(
                "during the run its query returned 1 row(s); it held again after the run"
            )
            && f.contains("first: tasks = 3"),
        "{f}"
    );
    // After the run it holds: only the reads during the run saw it broken.
    assert_eq!(r.u("/checks/invariants/0/rows"), 0);
    let step = r.u("/checks/invariants_during/broken/0/step");
    assert!(
        step > 0 && f.contains(&format!("after step {step} ")),
        "{f}"
    );
    assert_eq!(
        r.s("/checks/invariants_during/broken/0/name"),
        "never 3 to 5 tasks"
    );
    // At least one point per commit up to the breach (the third create), and none judged
    // blind.
    assert!(
        r.u("/checks/invariants_during/points") >= 3,
        "{}",
        r.report["checks"]
    );
    assert_eq!(r.u("/checks/invariants_during/not_judged"), 0);
    assert!(
        r.notes()
            .iter()
            .any(|n| n.contains("quiescent point(s) during the run")),
        "{:?}",
        r.notes()
    );

    // The reads are the runner's own, read-only, between steps: the schedule is the same
    // without them.
    let bare = scenario_file(dir.path(), "bare", TRANSIENT);
    let b = run(
        dir.path(),
        &[bare.to_str().unwrap(), "--seed", "3", "--mode", "lockstep"],
    );
    assert_eq!(b.code, 0, "{}{}", b.stdout, b.stderr);
    assert_eq!(r.s("/trace_hash"), b.s("/trace_hash"));
    assert!(b.report["checks"].get("invariants_during").is_none());
}

#[test]
fn free_mode_reads_invariants_only_after_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario_file(dir.path(), "transient", &format!("{TRANSIENT}{INVARIANT}"));
    let r = run(dir.path(), &[path.to_str().unwrap(), "--seed", "3"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.u("/checks/invariants/0/rows"), 0);
    assert!(r.report["checks"].get("invariants_during").is_none());
}

/// A rule broken during the run and still broken at its end is one failure, which names
/// where it first broke.
#[test]
fn a_rule_still_broken_at_the_end_is_one_failure_naming_its_first_breach() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "{TRANSIENT}\n[[invariants]]\nname = \"at most 4 tasks\"\nsql = \"SELECT count(*) AS tasks FROM tasks HAVING count(*) > 4\"\n"
    );
    let path = scenario_file(dir.path(), "late", &toml);
    let r = run(
        dir.path(),
        &[path.to_str().unwrap(), "--seed", "3", "--mode", "lockstep"],
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        r.failure_signatures(),
        ["invariant/invariant_check/unexpected"],
        "{:?}",
        r.failures()
    );
    let f = &r.failures()[0];
    let step = r.u("/checks/invariants_during/broken/0/step");
    assert!(
        f.contains("its query returned 1 row(s) (first broken at the quiescent point after step")
            && f.contains(&format!("after step {step} during the run)"))
            && f.contains("first: tasks = 12"),
        "{f}"
    );
    assert_eq!(
        r.s("/checks/invariants_during/broken/0/first_rows/0"),
        "tasks = 5"
    );
}
