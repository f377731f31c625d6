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
    // Nor is the state oracle run on it (a replay of nothing would vouch for nothing).
    assert!(c.state.is_none() && c.state_error.is_none(), "{c:?}");
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

/// A heartbeat of unknown outcome, found absent, may have committed an event that a gc then
/// removed: the state oracle cannot replay such a run exactly and says so instead of
/// failing a correct run. Without a gc in the plan (or with every heartbeat reported) it
/// judges as before.
#[test]
fn the_state_oracle_says_why_it_does_not_judge_an_unknowable_heartbeat() {
    let judged = |mix: &str, report_all: bool| {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "name = \"t\"\n[workload]\nworkers = 1\nops_per_worker = 12\n[workload.mix]\n{mix}\n"
        );
        let scenario = parse_str(&text, &ScenarioSource::Embedded("t".into())).unwrap();
        let (mut spec, _) = empty_run(dir.path());
        spec.scenario = scenario;
        let plan = crate::plan::build(&spec.scenario, 1);
        // Nothing committed; the heartbeats (and all else) either reported rolled back or
        // never reported at all.
        let records: Vec<crate::observe::OpRecord> = if report_all {
            plan.workers[0]
                .ops
                .iter()
                .filter(|op| op.kind.is_write())
                .map(|op| {
                    serde_json::from_value(serde_json::json!({
                        "worker": 0, "actor": op.actor, "seq": op.seq, "kind": op.kind.name(),
                        "outcome": "rolled_back", "lock_wait_us": 0, "begin_wait_us": 0,
                        "latency_us": 0, "t_start_ns": 0, "t_end_ns": 0
                    }))
                    .unwrap()
                })
                .collect()
        } else {
            Vec::new()
        };
        let obs = Observations {
            workers: vec![exit(0, false)],
            records,
            ..Observations::default()
        };
        run(&spec, &plan, &obs).0
    };
    let c = judged("heartbeat = 1\ngc_events = 1", false);
    let why = c.state_not_judged.as_deref().unwrap_or_default();
    assert!(why.starts_with("state oracle not judged: "), "{c:?}");
    assert!(c.state.is_none() && c.state_error.is_none());
    // No gc: a heartbeat's event cannot vanish, the replay judges.
    let c = judged("heartbeat = 1\ncreate_task = 1", false);
    assert_eq!(c.state_not_judged, None);
    assert!(c.state.as_ref().is_some_and(|s| s.matches), "{c:?}");
    // Every heartbeat's outcome known: the replay judges.
    let c = judged("heartbeat = 1\ngc_events = 1", true);
    assert_eq!(c.state_not_judged, None);
    assert!(c.state.is_some(), "{c:?}");
}

/// A committed `create_task` record of actor 0, as a worker reports it, with the fields of
/// `extra` set over it (times zero unless set).
pub(super) fn record(worker: u32, seq: u32, extra: serde_json::Value) -> crate::observe::OpRecord {
    let mut v = serde_json::json!({
        "worker": worker, "actor": 0, "seq": seq, "kind": "create_task",
        "outcome": "committed", "lock_wait_us": 0, "begin_wait_us": 0,
        "latency_us": 0, "t_start_ns": 0, "t_end_ns": 0
    });
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    serde_json::from_value(v).unwrap()
}

/// A lockstep outcome with two breaches, the first at `step` (worker 1 actor 2 against two
/// actors of worker 0), whose trace holds `trace` (all worker 1 actor 2's steps).
fn breached(step: u64, trace: Vec<(u64, crate::observe::step::StepAction)>) -> LockstepBreach {
    use crate::observe::ActorId;
    use crate::observe::lockstep::{Breach, LockstepOutcome, TraceEntry};
    use crate::observe::step::StepResult;
    LockstepOutcome {
        steps: 9,
        trace_hash: "h".into(),
        breaches: vec![
            Breach {
                step,
                actor: ActorId {
                    worker: 1,
                    actor: 2,
                },
                holders: vec![
                    ActorId {
                        worker: 0,
                        actor: 1,
                    },
                    ActorId {
                        worker: 0,
                        actor: 3,
                    },
                ],
            },
            Breach {
                step: step + 1,
                actor: ActorId {
                    worker: 0,
                    actor: 0,
                },
                holders: vec![ActorId {
                    worker: 1,
                    actor: 2,
                }],
            },
        ],
        first_guard_report_step: None,
        stopped: None,
        trace: trace
            .into_iter()
            .map(|(step, action)| TraceEntry {
                step,
                worker: 1,
                actor: 2,
                action,
                result: StepResult::Ok,
            })
            .collect(),
    }
}

type LockstepBreach = crate::observe::lockstep::LockstepOutcome;

/// What `run` takes from the records and the runner's observations into the report: a
/// control for the glue of `check_records` and `describe_breach` (each field here was
/// unpinned by the fast tests, which called the checks one by one): the exclusion check's
/// counts and example, the guard errors and the first of them, lockstep's breaches and the
/// first in words, the files seen and the sidecar among them, the watch's error, the ops
/// that held the global lock, coverage and completeness.
#[test]
fn run_reports_what_the_records_and_the_runner_saw() {
    use crate::observe::step::StepAction;
    let dir = tempfile::tempdir().unwrap();
    let (mut spec, plan) = empty_run(dir.path());
    spec.scenario.strategy.write_lock = crate::scenario::WriteLock::Flock;
    spec.scenario.strategy.write_lock_scope = crate::scenario::LockScope::Transaction;
    let interval = |begin: u64, end: u64, guard_error: Option<&str>| {
        serde_json::json!({"t_begin_ok_ns": begin, "t_commit_issued_ns": end,
            "guard_error": guard_error})
    };
    let records = vec![
        record(0, 0, interval(100, 300, Some("cannot stat the file"))),
        record(1, 0, interval(200, 400, None)),
        record(1, 1, interval(500, 600, Some("second"))),
    ];
    let obs = Observations {
        workers: vec![exit(0, false), exit(1, false)],
        records,
        files_seen: vec!["kanban.db-wal".into(), "kanban.db.lock".into()],
        watch_error: Some("dropped events".into()),
        lockstep: Some(breached(
            5,
            vec![
                (4, StepAction::Begin),
                (
                    5,
                    StepAction::Write {
                        label: "insert task".into(),
                    },
                ),
            ],
        )),
        ..Observations::default()
    };
    let (c, k) = run(&spec, &plan, &obs);
    assert_eq!((c.lock_intervals, c.lock_overlaps), (3, 1), "{c:?}");
    assert!(
        c.lock_overlap_example
            .as_deref()
            .is_some_and(|e| e.starts_with("worker 1 actor 0 seq 0 entered")),
        "{c:?}"
    );
    assert_eq!(c.guard_errors, 2);
    assert_eq!(
        c.first_guard_error.as_deref(),
        Some("worker 0 seq 0: cannot stat the file")
    );
    assert_eq!(c.lockstep_breaches, 2);
    assert_eq!(
        c.first_breach.as_deref(),
        Some(
            "step 5: worker 1 actor 2 took the write lock with a write (insert task) while worker 0 actor 1, worker 0 actor 3 held the write lock"
        )
    );
    assert_eq!(c.files_seen, obs.files_seen);
    assert!(c.sidecar_seen);
    assert_eq!(c.watch_error.as_deref(), Some("dropped events"));
    assert_eq!(c.global_lock_ops, 3);
    let judged: Vec<_> = c.coverage.iter().map(|x| (x.check, x.judged)).collect();
    assert_eq!(
        judged,
        [
            (coverage::JudgedCheck::Exclusion, 3),
            (coverage::JudgedCheck::Order, 0)
        ]
    );
    let planned = plan
        .workers
        .iter()
        .map(|wp| wp.ops.len() as u64)
        .sum::<u64>();
    assert_eq!(c.ops.expected, planned);
    assert_eq!(c.ops.unreported, planned - 3);
    assert!(c.isolation.is_none());
    // The overlap is damage: the (absent) reports are real.
    assert!(c.damage().contains(&FailureCategory::LockOverlaps));
    assert_eq!(k.classification, Classification::Real);

    // A breach whose step was a BEGIN (another step of the trace wrote): "got BEGIN".
    let ls = breached(
        5,
        vec![
            (
                4,
                StepAction::Write {
                    label: "insert task".into(),
                },
            ),
            (5, StepAction::Begin),
        ],
    );
    assert_eq!(
        describe_breach(&ls, &ls.breaches[0]),
        "step 5: worker 1 actor 2 got BEGIN IMMEDIATE while worker 0 actor 1, worker 0 actor 3 held the write lock"
    );

    // No lock file among the files seen; no lockstep; no flock strategy: none of it shows.
    let dir = tempfile::tempdir().unwrap();
    let (mut spec, plan) = empty_run(dir.path());
    spec.scenario.strategy = crate::scenario::Strategy::default();
    let obs = Observations {
        workers: vec![exit(0, false), exit(1, false)],
        records: vec![record(0, 0, interval(100, 300, None))],
        files_seen: vec!["kanban.db-wal".into(), "kanban.db.lock.tmp".into()],
        ..Observations::default()
    };
    let (c, _) = run(&spec, &plan, &obs);
    assert!(!c.sidecar_seen, "{c:?}");
    assert_eq!((c.lockstep_breaches, c.first_breach.as_deref()), (0, None));
    assert_eq!((c.guard_errors, c.first_guard_error.as_deref()), (0, None));
    assert_eq!(c.global_lock_ops, 0);
    assert_eq!((c.lock_intervals, c.lock_overlaps), (1, 0));
}

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
