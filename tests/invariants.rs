//! `[[invariants]]` end to end: refused at load when obviously wrong (exit 2, the field
//! named, nothing run), checked after real runs on a read-only connection (one that holds
//! passes, one that is broken fails by its name, one that writes fails and changes
//! nothing), for the built-in worker and an external one alike; and the double-claim
//! control (`scenarios/double-claim.toml`) failing on its invariant alone.

mod common;

use common::jobs::{fixture, jobs_scenario, require_python};
use common::*;

/// A small kanban run of the built-in worker: creates and compare-and-swap claims.
const KANBAN: &str = r#"name = "inv"
[sqlite]
journal_mode = "wal"
synchronous = "normal"
[workload]
workers = 2
ops_per_worker = 12
[workload.mix]
create_task = 1
claim_task = 1
[limits]
run_timeout_secs = 60
"#;

/// Rows of `table` in a kept run's database.
fn count(r: &Run, table: &str) -> u64 {
    let db = std::path::Path::new(&r.s("/run_dir")).join("db/kanban.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let n: i64 = conn
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
            row.get(0)
        })
        .unwrap();
    n as u64
}

fn with_invariant(toml: &str, name: &str, sql: &str) -> String {
    format!("{toml}\n[[invariants]]\nname = {name:?}\nsql = {sql:?}\n")
}

#[test]
fn bad_invariants_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let one = |name: &str, sql: &str| format!("[[invariants]]\nname = {name:?}\nsql = {sql:?}\n");
    let cases = [
        (one("", "SELECT 1"), "invariants[0].name"),
        (one("  ", "SELECT 1"), "invariants[0].name"),
        (one("a\nb", "SELECT 1"), "invariants[0].name"),
        (
            one("x", "SELECT 1 WHERE 0") + &one("x", "SELECT 2 WHERE 0"),
            "invariants[1].name",
        ),
        (one("x", ""), "invariants[0].sql"),
        (one("x", " ; "), "invariants[0].sql"),
        ("[[invariants]]\nname = \"x\"\n".to_string(), "sql"),
        (
            "[[invariants]]\nname = \"x\"\nsql = \"SELECT 1\"\nquery = \"\"\n".to_string(),
            "query",
        ),
        (
            "[workload]\nclaim = \"read-then-write\"\n[worker]\ncommand = [\"sh\"]\n".to_string(),
            "workload.claim",
        ),
        (
            "[workload]\nprofile = \"list-append\"\nclaim = \"read-then-write\"\n".to_string(),
            "workload.claim",
        ),
        ("[workload]\nclaim = \"racy\"\n".to_string(), "claim"),
    ];
    for (i, (table, field)) in cases.iter().enumerate() {
        let path = scenario_file(
            dir.path(),
            &format!("bad{i}"),
            &format!("name = \"b\"\n{table}"),
        );
        let (code, out, err) = walburst(dir.path(), "run", &[path.to_str().unwrap()]);
        assert_eq!(code, 2, "{table}: {out}{err}");
        assert!(err.contains(field), "{table}: {err}");
        assert!(err.contains(path.to_str().unwrap()), "{table}: {err}");
        assert!(!dir.path().join("work").exists(), "nothing ran for {table}");
    }
}

/// An invariant that holds passes and is reported with no row; one that is broken fails the
/// run by its name alone (no other failure), with its exact row count and first rows.
#[test]
fn a_held_invariant_passes_and_a_broken_one_fails_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let holds = with_invariant(
        KANBAN,
        "no task claimed twice",
        "SELECT task_id FROM task_runs GROUP BY task_id HAVING count(*) > 1",
    );
    let path = scenario_file(dir.path(), "holds", &holds);
    let r = run(dir.path(), &[path.to_str().unwrap(), "--seed", "2"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.s("/checks/invariants/0/name"), "no task claimed twice");
    assert_eq!(r.u("/checks/invariants/0/rows"), 0);

    let broken = with_invariant(
        KANBAN,
        "no task exists",
        "SELECT id, status FROM tasks ORDER BY id",
    );
    let path = scenario_file(dir.path(), "broken", &broken);
    let r = run(
        dir.path(),
        &[path.to_str().unwrap(), "--seed", "2", "--keep"],
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        r.failure_signatures(),
        ["invariant/invariant_check/unexpected"],
        "{:?}",
        r.failures()
    );
    let tasks = count(&r, "tasks");
    assert!(tasks > 0);
    assert_eq!(r.u("/checks/invariants/0/rows"), tasks);
    assert_eq!(r.u("/failures/0/count"), tasks);
    assert!(
        r.failures()[0].contains("\"no task exists\""),
        "{:?}",
        r.failures()
    );
    let first = r.s("/checks/invariants/0/first_rows/0");
    assert!(first.starts_with("id = 't-"), "{first}");
    assert!(first.contains("status = '"), "{first}");
}

/// Evidence is never run as code: an invariant that would delete what it lists runs on a
/// read-only connection, fails (never a pass), and every row stays.
#[test]
fn an_invariant_that_writes_fails_and_the_database_stays_whole() {
    let dir = tempfile::tempdir().unwrap();
    let toml = with_invariant(
        KANBAN,
        "deletes",
        "DELETE FROM tasks WHERE status = 'nope' OR 1 RETURNING id",
    );
    let path = scenario_file(dir.path(), "deleting", &toml);
    let r = run(
        dir.path(),
        &[path.to_str().unwrap(), "--seed", "2", "--keep"],
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        r.failure_signatures(),
        ["invariant/invariant_check/unexpected"]
    );
    let err = r.s("/checks/invariants/0/error");
    assert!(err.contains("readonly"), "{err}");
    assert!(r.failures()[0].contains("could not be checked"));
    let n = count(&r, "tasks");
    assert!(n > 0);
    assert_eq!(
        n,
        count(&r, "task_events WHERE kind = 'created'"),
        "every task created is still there"
    );
}

/// An external worker's database is checked the same way: the jobs app's own table.
#[test]
fn an_external_workers_invariants_are_checked() {
    require_python();
    let dir = tempfile::tempdir().unwrap();
    let command = fixture().display().to_string();
    let base = jobs_scenario(&command, "honest");
    let holds = with_invariant(
        &base,
        "one row per op",
        "SELECT worker, seq FROM jobs GROUP BY worker, seq HAVING count(*) > 1",
    );
    let path = scenario_file(dir.path(), "ext-holds", &holds);
    let r = run(dir.path(), &[path.to_str().unwrap(), "--seed", "3"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.u("/checks/invariants/0/rows"), 0);
    let broken = with_invariant(
        &base,
        "no job of worker 1",
        "SELECT worker, seq FROM jobs WHERE worker = 1",
    );
    let path = scenario_file(dir.path(), "ext-broken", &broken);
    let r = run(dir.path(), &[path.to_str().unwrap(), "--seed", "3"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        r.failure_signatures(),
        ["invariant/invariant_check/unexpected"]
    );
    assert_eq!(r.u("/checks/invariants/0/rows"), 8);
}

/// The double-claim control: in lockstep (the interleaving is the seed's) the racy claim
/// claims tasks twice and the run fails on its invariant and the isolation checker alone: no
/// ledger, state, lock or worker failure masks it (the state oracle replays it and matches,
/// write exclusion judges every claim). The page shows the broken invariant.
#[test]
fn the_double_claim_control_fails_by_its_invariant_and_the_isolation_checker_alone() {
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &["double-claim", "--seed", "1", "--mode", "lockstep"],
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    // The isolation checker names the same race from the claims' history
    // (tests/claims_isolation.rs); nothing else fails.
    assert_eq!(
        r.failure_signatures(),
        [
            "isolation/isolation_checker/unexpected",
            "invariant/invariant_check/unexpected"
        ],
        "{:?}",
        r.failures()
    );
    assert!(r.report["liveness"].as_array().unwrap().is_empty());
    assert!(
        r.failures()[1].contains("\"no task claimed by two workers\""),
        "{:?}",
        r.failures()
    );
    assert!(r.u("/checks/invariants/0/rows") > 0);
    assert_eq!(r.report["checks"]["state"]["matches"], true);
    assert_eq!(
        r.u("/checks/lock_intervals"),
        r.u("/totals/committed"),
        "every committed claim has its write-lock interval"
    );
    let html = r.page_html();
    assert!(html.contains("<h2 id=\"invariants\">Invariants</h2>"));
    assert!(html.contains("no task claimed by two workers"));
}

/// The same scenario with the field app's claim (compare-and-swap in `BEGIN IMMEDIATE`)
/// holds the same invariant over several lockstep seeds: the control fails for its race,
/// not for its query.
#[test]
fn the_compare_and_swap_claim_holds_the_same_invariant() {
    let dir = tempfile::tempdir().unwrap();
    let toml = set(&shipped("double-claim"), "claim", "\"compare-and-swap\"");
    let path = scenario_file(dir.path(), "cas", &toml);
    for seed in ["1", "2", "3", "4"] {
        let r = run(
            dir.path(),
            &[path.to_str().unwrap(), "--seed", seed, "--mode", "lockstep"],
        );
        assert_eq!(r.code, 0, "seed {seed}: {}{}", r.stdout, r.stderr);
        assert_eq!(r.u("/checks/invariants/0/rows"), 0);
    }
}

/// The control's seed shows the race the same way every time: two lockstep runs, one trace.
#[test]
fn the_double_claim_control_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = walburst(
        dir.path(),
        "run",
        &[
            "double-claim",
            "--seed",
            "1",
            "--mode",
            "lockstep",
            "--check-determinism",
        ],
    );
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("DETERMINISTIC double-claim seed=1: 2 runs"),
        "{out}"
    );
    assert!(out.contains("[isolation/isolation_checker:"), "{out}");
}

/// The Python twin: kanban_app's racy claim through the adapter fails on the same invariant
/// in lockstep, and on the isolation checker's claims history (what the adapter reported
/// each claim read: tests/claims_isolation.rs); the app's compare-and-swap claim holds it.
#[test]
fn the_python_double_claim_twin_fails_by_its_invariant() {
    require_python();
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        dir.path(),
        &["python-double-claim", "--seed", "1", "--mode", "lockstep"],
    );
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert_eq!(
        r.failure_signatures(),
        [
            "isolation/isolation_checker/unexpected",
            "invariant/invariant_check/unexpected"
        ],
        "{:?}",
        r.failures()
    );
    assert!(r.u("/checks/invariants/0/rows") > 0);

    let scenarios = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let toml = shipped("python-double-claim")
        .replace(", \"--claim=read-then-write\"", "")
        .replace("{scenario_dir}", scenarios);
    let path = scenario_file(dir.path(), "python-cas", &toml);
    for seed in ["1", "2"] {
        let r = run(
            dir.path(),
            &[path.to_str().unwrap(), "--seed", seed, "--mode", "lockstep"],
        );
        assert_eq!(r.code, 0, "seed {seed}: {}{}", r.stdout, r.stderr);
        assert_eq!(r.u("/checks/invariants/0/rows"), 0);
    }
}
