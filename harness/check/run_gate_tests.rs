//! `check::run` on runs that committed: which gates let the state oracle judge (a healthy
//! kanban run with a clean ledger), an unreadable database, the app's journal mode, and the
//! heartbeats that leave the state unjudged.

use super::*;

/// A run of one worker whose three `create_task` ops ran through the workload's own SQL on
/// a real database and committed, as a correct worker reports them: every check is silent
/// on it, and the state oracle judges it. `dir` holds the database.
fn committed_run(dir: &std::path::Path) -> (RunSpec, Plan, Observations) {
    use crate::workload::kanban::{self, Applied};
    let text = "name = \"t\"\n[workload]\nworkers = 1\nops_per_worker = 3\n[workload.mix]\ncreate_task = 1\n";
    let (mut spec, _) = empty_run(dir);
    spec.scenario = parse_str(text, &ScenarioSource::Embedded("t".into())).unwrap();
    let plan = crate::plan::build(&spec.scenario, 1);
    let conn = rusqlite::Connection::open(&spec.db_path).unwrap();
    // The scenario's journal mode, as walburst's worker sets it.
    conn.pragma_update(None, "journal_mode", "wal").unwrap();
    let records = plan.workers[0]
        .ops
        .iter()
        .map(|op| {
            conn.execute_batch("BEGIN IMMEDIATE").unwrap();
            let wop = crate::protocol::WorkerOp::from_plan(spec.seed, 0, op);
            let applied = kanban::apply(&conn, &crate::workload::Unstepped, 0, &wop).unwrap();
            conn.execute_batch("COMMIT").unwrap();
            let Applied::Wrote { event_id, task_id } = applied else {
                panic!("a create_task always writes")
            };
            record(
                0,
                op.seq,
                serde_json::json!({"actor": op.actor, "event_id": event_id, "task_id": task_id}),
            )
        })
        .collect();
    drop(conn);
    let obs = Observations {
        workers: vec![exit(0, false)],
        records,
        ..Observations::default()
    };
    (spec, plan, obs)
}

/// `committed_run` with `sql` run on its database afterwards.
fn committed_run_then(dir: &std::path::Path, sql: &str) -> (RunSpec, Plan, Observations) {
    let (spec, plan, obs) = committed_run(dir);
    let conn = rusqlite::Connection::open(&spec.db_path).unwrap();
    conn.execute_batch(sql).unwrap();
    (spec, plan, obs)
}

/// The ledger's counts as one tuple: lost, phantom, duplicate, order.
fn ledger_counts(c: &Checks) -> (u64, u64, u64, u64) {
    (
        c.lost_writes,
        c.phantom_writes,
        c.duplicate_writes,
        c.order_violations,
    )
}

/// When `verify_database` runs the state oracle: a control for its gate (mutation testing
/// found the gate's terms unpinned by the fast tests). It judges a healthy kanban run of
/// walburst's own worker whose ledger is clean, and nothing else: a run the ledger already
/// failed (each of its four counts alone), a damaged database, another worker, another
/// workload. A replay of a run that lost or invented rows would only fail it a second
/// time, under another name.
#[test]
fn the_state_oracle_judges_only_a_healthy_kanban_run_with_a_clean_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, plan, obs) = committed_run(dir.path());
    let (c, k) = run(&spec, &plan, &obs);
    assert_eq!(ledger_counts(&c), (0, 0, 0, 0), "{c:?}");
    assert_eq!(c.ledger_error, None);
    assert_eq!(c.integrity_check, "ok");
    assert!(c.state.as_ref().is_some_and(|s| s.matches), "{c:?}");
    assert_eq!(
        (c.state_error.as_deref(), c.state_not_judged.as_deref()),
        (None, None)
    );
    assert!(c.damage().is_empty(), "{c:?}");
    assert_eq!(k.classification, Classification::None);

    // Each of the ledger's counts alone: the state oracle does not judge.
    let cases = [
        // A task row gone: lost.
        ("DELETE FROM tasks WHERE created_seq = 1", (1, 0, 0, 0)),
        // An event of a worker the plan does not have: a phantom.
        (
            "INSERT INTO task_events (task_id, kind, payload, created_at, worker, seq) \
             VALUES (NULL, 'created', '{}', 0, 9, 0)",
            (0, 1, 0, 0),
        ),
        // A task's row written twice (under another id): a duplicate.
        (
            "INSERT INTO tasks (id, title, body, priority, created_at, updated_at, created_worker, created_seq) \
             SELECT id || '-again', title, body, priority, created_at, updated_at, created_worker, created_seq \
             FROM tasks WHERE created_seq = 1",
            (0, 0, 1, 0),
        ),
    ];
    for (sql, counts) in cases {
        let dir = tempfile::tempdir().unwrap();
        let (spec, plan, obs) = committed_run_then(dir.path(), sql);
        let (c, _) = run(&spec, &plan, &obs);
        assert_eq!(ledger_counts(&c), counts, "{sql}: {c:?}");
        assert!(c.state.is_none() && c.state_error.is_none(), "{sql}: {c:?}");
    }
    // Seq 0 committed after seq 1 (its event id larger), as reported: out of order.
    let dir = tempfile::tempdir().unwrap();
    let (spec, plan, mut obs) =
        committed_run_then(dir.path(), "UPDATE task_events SET id = 100 WHERE seq = 0");
    obs.records[0].event_id = Some(100);
    let (c, _) = run(&spec, &plan, &obs);
    assert_eq!(ledger_counts(&c), (0, 0, 0, 1), "{c:?}");
    assert!(c.state.is_none() && c.state_error.is_none(), "{c:?}");

    // A damaged database, its ledger clean: an index's pages no longer in the schema (both
    // of SQLite's checks fail), or an index whose definition no longer matches its entries
    // (only integrity_check looks at index content: one failing check is enough).
    let damaged = [
        (
            "DELETE FROM sqlite_schema WHERE name = 'idx_events_kind_created'",
            false,
        ),
        (
            "UPDATE sqlite_schema SET sql = 'CREATE INDEX idx_tasks_updated_at ON tasks(priority)' \
             WHERE name = 'idx_tasks_updated_at'",
            true,
        ),
    ];
    for (sql, quick_ok) in damaged {
        let dir = tempfile::tempdir().unwrap();
        let (spec, plan, obs) = committed_run_then(
            dir.path(),
            &format!("PRAGMA writable_schema = ON; {sql}; PRAGMA writable_schema = OFF;"),
        );
        let (c, _) = run(&spec, &plan, &obs);
        assert_eq!(ledger_counts(&c), (0, 0, 0, 0), "{sql}: {c:?}");
        assert_ne!(c.integrity_check, "ok", "{sql}: {c:?}");
        assert_eq!(c.quick_check == "ok", quick_ok, "{sql}: {c:?}");
        assert!(c.state.is_none() && c.state_error.is_none(), "{sql}: {c:?}");
    }

    // Another worker than walburst's own, and another workload: not judged.
    for other in ["worker", "profile"] {
        let dir = tempfile::tempdir().unwrap();
        let (mut spec, plan, obs) = committed_run(dir.path());
        if other == "worker" {
            let text = "name = \"t\"\n[workload]\nworkers = 1\n[worker]\ncommand = [\"true\"]\n";
            let ext = parse_str(text, &ScenarioSource::Embedded("t".into())).unwrap();
            spec.scenario.worker = ext.worker;
            assert!(spec.scenario.worker.is_some());
        } else {
            spec.scenario.workload.profile = crate::scenario::Profile::ListAppend;
        }
        let (c, _) = run(&spec, &plan, &obs);
        assert_eq!(ledger_counts(&c), (0, 0, 0, 0), "{other}: {c:?}");
        assert!(
            c.state.is_none() && c.state_error.is_none(),
            "{other}: {c:?}"
        );
        // The isolation checker judges list-append runs, and only them.
        assert_eq!(c.isolation.is_some(), other == "profile", "{other}");
    }
}

/// A database that cannot be opened: every step that needed it says so, and the run is
/// damaged (a control for `verify_database`'s first error path).
#[test]
fn a_database_that_cannot_be_opened_is_unreadable_not_clean() {
    let dir = tempfile::tempdir().unwrap();
    let (mut spec, plan, obs) = committed_run(dir.path());
    spec.db_path = dir.path().join("absent").join("kanban.db");
    let (c, k) = run(&spec, &plan, &obs);
    assert!(
        c.integrity_check
            .starts_with("not run: cannot open the database: "),
        "{c:?}"
    );
    assert_eq!(c.quick_check, c.integrity_check);
    assert_eq!(c.ledger_error.as_ref(), Some(&c.integrity_check));
    assert_eq!(
        c.verification_errors,
        std::slice::from_ref(&c.integrity_check)
    );
    assert_eq!(
        c.damage(),
        [FailureCategory::Integrity, FailureCategory::Unreadable]
    );
    assert_eq!(k.classification, Classification::Real);
}

/// `journal_mode = "app"`: the mode the app's connections reported, judged against the
/// database's at the end (a control for `judge_app_journal_mode`'s glue; the judgement
/// itself is `verify::app_journal_mode`'s). Another mode than `app` ignores what the app
/// reported.
#[test]
fn the_apps_journal_mode_is_judged_only_in_app_mode() {
    let settings = |mode: &str| -> Vec<crate::observe::AppSettings> {
        vec![
            serde_json::from_value(serde_json::json!({
                "sqlite_version": "3", "journal_mode": mode
            }))
            .unwrap(),
        ]
    };
    let judged = |app: bool, reported: &str| {
        let dir = tempfile::tempdir().unwrap();
        let (mut spec, plan, mut obs) = committed_run(dir.path());
        if app {
            spec.scenario.sqlite.journal_mode = crate::scenario::JournalMode::App;
        }
        obs.workers[0].settings = settings(reported);
        run(&spec, &plan, &obs).0
    };
    // The database is in WAL: an app that said `wal` ran in one mode throughout.
    let c = judged(true, "wal");
    let a = c.app_journal_mode.as_ref().expect("judged in app mode");
    assert_eq!((a.chosen.as_str(), a.problem.as_deref()), ("wal", None));
    assert!(c.journal_mode_ok && c.damage().is_empty(), "{c:?}");
    // It said `delete`, and the database ended in WAL: the mode changed.
    let c = judged(true, "delete");
    let a = c.app_journal_mode.as_ref().expect("judged in app mode");
    assert!(a.problem.is_some(), "{c:?}");
    assert!(!c.journal_mode_ok);
    assert_eq!(c.damage(), [FailureCategory::JournalMode]);
    // Not app mode: walburst set WAL itself; what an app reported is not judged.
    let c = judged(false, "delete");
    assert_eq!(c.app_journal_mode, None);
    assert!(c.journal_mode_ok && c.damage().is_empty(), "{c:?}");
}

/// Which heartbeats leave the state oracle unable to judge: a control for
/// `state_unjudgeable`'s filter (cargo-mutants: `kind == Heartbeat` to `!=`, its `&&` to
/// `||` and `== Ambiguous` to `!=` survived; in the only fast test every op's outcome was
/// unknown alike). Only a heartbeat never reported or reported ambiguous counts, never
/// another op of unknown outcome, nor a heartbeat whose outcome is known.
#[test]
fn only_heartbeats_of_unknown_outcome_leave_the_state_unjudged() {
    use crate::plan::{OpKind, PlannedOp, WorkerPlan};
    let op = |seq: u32, kind: OpKind| PlannedOp {
        seq,
        actor: 0,
        kind,
        think_us: 0,
        payload_len: 8,
        at_ms: 0,
    };
    let plan = |gc: bool| Plan {
        format: String::new(),
        scenario: "t".into(),
        seed: 1,
        schedule_hash: String::new(),
        workers: vec![WorkerPlan {
            worker: 0,
            ops: vec![
                op(0, OpKind::CreateTask),
                op(1, OpKind::Heartbeat),
                op(2, OpKind::CreateTask),
                op(
                    3,
                    if gc {
                        OpKind::GcEvents
                    } else {
                        OpKind::AddComment
                    },
                ),
            ],
        }],
    };
    // Two ops of unknown outcome, neither found committed.
    let c = Checks {
        ambiguous: 2,
        ..Checks::default()
    };
    let heartbeat = |outcome: &str| {
        vec![record(
            0,
            1,
            serde_json::json!({"kind": "heartbeat", "outcome": outcome}),
        )]
    };
    // The creates are unknown, the heartbeat known: judged.
    for known in ["rolled_back", "committed", "failed"] {
        assert_eq!(
            state_unjudgeable(&c, &plan(true), &heartbeat(known)),
            None,
            "{known}"
        );
    }
    let not_judged = Some(
        "state oracle not judged: 1 heartbeat(s) of unknown outcome, and a gc that may have removed the event of one that committed".to_string(),
    );
    assert_eq!(
        state_unjudgeable(&c, &plan(true), &heartbeat("ambiguous")),
        not_judged
    );
    assert_eq!(state_unjudgeable(&c, &plan(true), &[]), not_judged);
    // No gc, or every op of unknown outcome found committed: judged.
    assert_eq!(state_unjudgeable(&c, &plan(false), &[]), None);
    let settled = Checks {
        ambiguous: 2,
        ambiguous_committed: 2,
        ..Checks::default()
    };
    assert_eq!(state_unjudgeable(&settled, &plan(true), &[]), None);
}
