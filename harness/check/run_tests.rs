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

#[path = "run_gate_tests.rs"]
mod gates;

/// Which isolation history the database gives a run: the claims' for a kanban run with
/// claims and no app ledger (only when the ledger is judged and the database healthy), a
/// read-modify-write list's for a list-append run that does not append (left unjudged,
/// saying so, when the database is unhealthy), none otherwise. Only end-to-end runs reached
/// this rule before (mutation testing).
#[test]
fn the_database_gives_the_claims_or_the_rewrite_history_exactly_when_it_should() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, _) = empty_run(dir.path());
    let conn = rusqlite::Connection::open(&spec.db_path).unwrap();
    let iso = |toml: &str, judge_ledger: bool, healthy: bool| {
        let text = format!("name = \"t\"\n[workload]\nworkers = 2\nops_per_worker = 6\n{toml}");
        let s = parse_str(&text, &ScenarioSource::Embedded("t".into())).unwrap();
        let plan = crate::plan::build(&s, 1);
        isolation_from_db(&s, &conn, &plan, &[], judge_ledger, healthy)
            .map(|r| (r.transactions, r.error.is_some()))
    };
    let claims = "[workload.mix]\nclaim_task = 1\ncreate_task = 1\n";
    let claim = Some((Some("claim".to_string()), false));
    assert_eq!(iso(claims, true, true), claim);
    assert_eq!(iso(claims, false, true), None);
    assert_eq!(iso(claims, true, false), None);

    let rewrite = "profile = \"list-append\"\nlist_write = \"rewrite\"\n";
    let rmw = Some("read-modify-write".to_string());
    // Unhealthy: not judged, and the report says so.
    assert_eq!(iso(rewrite, true, false), Some((rmw.clone(), true)));
    // Healthy: judged from the `lists` log (which this database lacks: an error, not a pass).
    assert_eq!(iso(rewrite, true, true).map(|(t, _)| t), Some(rmw));
    assert_eq!(iso("profile = \"list-append\"\n", true, true), None);
}
