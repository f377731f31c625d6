//! `check::run` in process, on a real database file: which workers the ledger judges.
//! (Mutation testing found `judge_ledger`'s rule unpinned by the fast tests: only the
//! end-to-end suites ran `check::run`.)

use super::*;
use crate::protocol::RunSpec;
use crate::scenario::{Mode, Overrides, ScenarioSource, parse_str};

/// A run of two workers whose database holds the schema and no rows at all.
fn empty_run(dir: &std::path::Path) -> (RunSpec, Plan) {
    let text = "name = \"t\"\n[workload]\nworkers = 2\nops_per_worker = 6\n";
    let scenario = parse_str(text, &ScenarioSource::Embedded("t".into())).unwrap();
    let db = dir.join("kanban.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    crate::workload::kanban::create_schema(&conn).unwrap();
    drop(conn);
    let plan = crate::plan::build(&scenario, 1);
    let spec = RunSpec {
        walburst_version: "test".into(),
        sqlite_version: "test".into(),
        scenario,
        source: ScenarioSource::Embedded("t".into()),
        seed: 1,
        mode: Mode::Free,
        overrides: Overrides::default(),
        schedule_hash: plan.schedule_hash.clone(),
        db_path: db,
    };
    (spec, plan)
}

fn exit(worker: u32, never_started: bool) -> crate::observe::WorkerExit {
    let mut e: crate::observe::WorkerExit = serde_json::from_value(serde_json::json!({
        "worker": worker, "pid": 1 + worker, "finished": false, "records": 0
    }))
    .unwrap();
    e.never_started = never_started;
    e
}

fn writes_of(plan: &Plan, worker: u32) -> u64 {
    plan.workers[worker as usize]
        .ops
        .iter()
        .filter(|op| op.kind.is_write())
        .count() as u64
}

#[test]
fn the_ledger_judges_exactly_the_workers_that_started() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, plan) = empty_run(dir.path());
    assert!(writes_of(&plan, 0) > 0 && writes_of(&plan, 1) > 0);

    // Worker 0 never got `go`: its writes are "not run"; worker 1 ran and reported nothing,
    // so each of its writes is ambiguous (never reported), found absent.
    let obs = Observations {
        workers: vec![exit(0, true), exit(1, false)],
        ..Observations::default()
    };
    let (c, _) = run(&spec, &plan, &obs);
    assert_eq!(c.not_run, writes_of(&plan, 0), "{c:?}");
    assert_eq!(c.ambiguous, writes_of(&plan, 1), "{c:?}");
    assert_eq!((c.lost_writes, c.phantom_writes), (0, 0));
    assert_eq!(c.ledger_error, None);

    // No worker ran at all: nothing happened, and the ledger is not blamed for it.
    let obs = Observations {
        workers: vec![exit(0, true), exit(1, true)],
        ..Observations::default()
    };
    let (c, _) = run(&spec, &plan, &obs);
    assert_eq!(c.ambiguous, 0, "{c:?}");
    assert_eq!(c.not_run, writes_of(&plan, 0) + writes_of(&plan, 1));
    let (c, _) = run(&spec, &plan, &Observations::default());
    assert_eq!(c.ambiguous, 0, "no worker at all: {c:?}");

    // Both ran: both are judged.
    let obs = Observations {
        workers: vec![exit(0, false), exit(1, false)],
        ..Observations::default()
    };
    let (c, _) = run(&spec, &plan, &obs);
    assert_eq!(c.ambiguous, writes_of(&plan, 0) + writes_of(&plan, 1));
    assert_eq!(c.not_run, 0);
    // A healthy, empty database verified on a real file.
    assert_eq!(
        (c.integrity_check.as_str(), c.quick_check.as_str()),
        ("ok", "ok")
    );
    assert!(c.content_hash.is_some() && c.final_length_ok, "{c:?}");
}
