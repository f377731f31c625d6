//! The model of a correct run for the oracles' property tests (`props_tests.rs`): a plan
//! drawn from a shape, its ops run one transaction at a time through the workload's own SQL
//! on a real SQLite file, the records and messages a correct worker sends, held to the
//! worker contract as the runner holds them, its lockstep steps fed to the coordinator, and
//! the whole checked as `run` checks a run.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;

use proptest::prelude::*;
use rusqlite::Connection;

use crate::check::verdict::{self, Verdict};
use crate::check::{self, Checks};
use crate::observe::ActorId;
use crate::observe::lockstep::LockstepOutcome;
use crate::observe::step::{StepAction, StepResult};
use crate::observe::{Observations, OpRecord, Outcome, WorkerExit, summarize};
use crate::plan::{OpKind, PLAN_EPOCH_MS, Plan, PlannedOp, WorkerPlan};
use crate::protocol::{Hello, RunSpec, WorkerMsg, WorkerOp};
use crate::runner::contract::Contract;
use crate::runner::coordinator::{Coordinator, StepEvent};
use crate::runner::scheduler::ReplayScheduler;
use crate::scenario::{IoFaults, Mode, ScenarioSource, parse_str};
use crate::workload::Unstepped;
use crate::workload::kanban::{self, Applied};

pub(super) const SEED: u64 = 20;

/// A random choice among `n` things, whatever `n` turns out to be.
#[derive(Debug, Clone, Copy)]
pub(super) struct Index(pub(super) usize);

impl Index {
    pub(super) fn index(self, n: usize) -> usize {
        self.0 % n
    }
}

pub(super) fn index() -> impl Strategy<Value = Index> {
    any::<usize>().prop_map(Index)
}

/// One step of an actor in lockstep, as the coordinator is told it.
pub(super) type Step = (ActorId, StepAction, StepResult);

/// What the generator draws: the plan's shape, the order its ops run in, the mode.
#[derive(Debug, Clone)]
pub(super) struct Shape {
    /// Per worker: its actor count and its ops (actor pick, kind).
    pub(super) workers: Vec<(u32, Vec<(Index, OpKind)>)>,
    /// Which actor with ops left runs next, one pick per op.
    pub(super) picks: Vec<Index>,
    /// Logical ms between two ops of a worker: the longer, the more heartbeats a gc removes.
    pub(super) tick_ms: i64,
    pub(super) lockstep: bool,
}

pub(super) fn shape() -> impl Strategy<Value = Shape> {
    let kind = prop::sample::select(OpKind::ALL.to_vec());
    let worker = (1u32..=2, prop::collection::vec((index(), kind), 2..=8));
    (
        prop::collection::vec(worker, 1..=3),
        prop::collection::vec(index(), 24),
        prop::sample::select(vec![1_000i64, 6_000]),
        any::<bool>(),
    )
        .prop_map(|(workers, picks, tick_ms, lockstep)| Shape {
            workers,
            picks,
            tick_ms,
            lockstep,
        })
}

/// The plan of a shape: at least two actors in all (so that two holders can overlap), every
/// actor runs at least one op, and its first is a `create_task` (which always commits).
pub(super) fn plan_of(shape: &Shape) -> Plan {
    let one_worker = shape.workers.len() == 1;
    let workers = shape
        .workers
        .iter()
        .zip(0u32..)
        .map(|((actors, ops), worker)| {
            let actors = if one_worker { 2 } else { *actors };
            let mut started = BTreeSet::new();
            let ops = ops
                .iter()
                .zip(0u32..)
                .map(|((pick, kind), seq)| {
                    let actor = if seq < actors {
                        seq
                    } else {
                        pick.index(actors as usize) as u32
                    };
                    let kind = if started.insert(actor) {
                        OpKind::CreateTask
                    } else {
                        *kind
                    };
                    PlannedOp {
                        seq,
                        actor,
                        kind,
                        think_us: 0,
                        payload_len: 8 + seq,
                        at_ms: PLAN_EPOCH_MS + i64::from(seq) * shape.tick_ms,
                    }
                })
                .collect();
            WorkerPlan { worker, ops }
        })
        .collect();
    Plan {
        format: String::new(),
        scenario: "props".into(),
        seed: SEED,
        schedule_hash: String::new(),
        workers,
    }
}

pub(super) fn actors_of(plan: &Plan) -> Vec<ActorId> {
    let set: BTreeSet<ActorId> = plan
        .workers
        .iter()
        .flat_map(|wp| {
            wp.ops.iter().map(|op| ActorId {
                worker: wp.worker,
                actor: op.actor,
            })
        })
        .collect();
    set.into_iter().collect()
}

/// A correct run of a shape, as it happened.
pub(super) struct Run {
    pub(super) dir: tempfile::TempDir,
    pub(super) plan: Plan,
    pub(super) lockstep: bool,
    /// The database it left (checkpointed into the main file).
    pub(super) db: PathBuf,
    /// Every op's record, in the order the ops ran.
    pub(super) records: Vec<OpRecord>,
    /// The steps of each op (same order as `records`).
    pub(super) blocks: Vec<Vec<Step>>,
    /// Committed ops whose every row a later gc deleted (heartbeats): nothing in the database
    /// says they ran, so only their record does.
    pub(super) gc_removed: BTreeSet<(u32, u32)>,
}

/// Runs the plan's ops one at a time, in the order the picks give (each actor's ops in seq
/// order, the actors interleaved), each in its own `BEGIN IMMEDIATE` transaction through the
/// workload's own SQL, and records what a correct worker would report.
pub(super) fn execute(shape: &Shape) -> Run {
    let plan = plan_of(shape);
    let mut queues: BTreeMap<ActorId, VecDeque<usize>> = BTreeMap::new();
    for wp in &plan.workers {
        for (i, op) in wp.ops.iter().enumerate() {
            let id = ActorId {
                worker: wp.worker,
                actor: op.actor,
            };
            queues.entry(id).or_default().push_back(i);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("run.db");
    let conn = Connection::open(&db).unwrap();
    conn.pragma_update(None, "journal_mode", "wal").unwrap();
    // No crash is simulated here: syncing would only cost time.
    conn.pragma_update(None, "synchronous", "off").unwrap();
    kanban::create_schema(&conn).unwrap();
    let mut clock = 0u64;
    let mut tick = || {
        clock += 1_000;
        clock
    };
    let (mut records, mut blocks) = (Vec::new(), Vec::new());
    let mut picks = shape.picks.iter().cycle();
    while !queues.is_empty() {
        let runnable: Vec<ActorId> = queues.keys().copied().collect();
        let id = runnable[picks.next().unwrap().index(runnable.len())];
        let i = queues.get_mut(&id).unwrap().pop_front().unwrap();
        if queues[&id].is_empty() {
            queues.remove(&id);
        }
        let op = &plan.workers[id.worker as usize].ops[i];
        let mut rec: OpRecord = serde_json::from_value(serde_json::json!({
            "worker": id.worker, "actor": op.actor, "seq": op.seq, "kind": op.kind,
            "outcome": "done", "t_start_ns": tick(), "t_end_ns": 0,
        }))
        .unwrap();
        let mut steps = Vec::new();
        if op.kind == OpKind::Checkpoint {
            let res = conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                    Ok([r.get(0)?, r.get(1)?, r.get(2)?])
                })
                .unwrap();
            rec.checkpoint = Some(res);
            steps.push((id, StepAction::Checkpoint, StepResult::Ok));
        } else {
            conn.execute_batch("BEGIN IMMEDIATE").unwrap();
            rec.t_begin_ok_ns = Some(tick());
            steps.push((id, StepAction::Begin, StepResult::Ok));
            let wop = WorkerOp::from_plan(SEED, id.worker, op);
            let applied = kanban::apply(&conn, &Unstepped, id.worker, &wop).unwrap();
            steps.push((id, StepAction::statement("apply"), StepResult::Ok));
            match applied {
                Applied::Wrote { event_id, task_id } => {
                    rec.t_commit_issued_ns = Some(tick());
                    conn.execute_batch("COMMIT").unwrap();
                    rec.outcome = Outcome::Committed;
                    rec.event_id = Some(event_id);
                    rec.task_id = task_id;
                    steps.push((id, StepAction::Commit, StepResult::Ok));
                }
                Applied::Nothing(why) => {
                    conn.execute_batch("ROLLBACK").unwrap();
                    rec.outcome = Outcome::RolledBack;
                    rec.reason = Some(why.into());
                    steps.push((id, StepAction::Rollback, StepResult::Ok));
                }
            }
        }
        rec.t_end_ns = tick();
        records.push(rec);
        blocks.push(steps);
    }
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let events: BTreeSet<i64> = column(&conn, "SELECT id FROM task_events");
    let gc_removed = records
        .iter()
        .filter(|r| r.outcome == Outcome::Committed)
        .filter(|r| r.event_id.is_some_and(|e| !events.contains(&e)))
        .map(|r| (r.worker, r.seq))
        .collect();
    drop(conn);
    Run {
        dir,
        plan,
        lockstep: shape.lockstep,
        db,
        records,
        blocks,
        gc_removed,
    }
}

pub(super) fn column<T: rusqlite::types::FromSql + Ord>(
    conn: &Connection,
    sql: &str,
) -> BTreeSet<T> {
    let mut st = conn.prepare(sql).unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// What a checker is handed, before a mutation changes it.
#[derive(Clone)]
pub(super) struct Case {
    /// Run on a copy of the run's database before checking.
    pub(super) sql: Vec<String>,
    /// Each worker's messages, in the order it sent them.
    pub(super) msgs: Vec<Vec<WorkerMsg>>,
    /// The steps, in the order they ran (lockstep).
    pub(super) steps: Vec<Step>,
}

impl Run {
    pub(super) fn case(&self) -> Case {
        let msgs = self
            .plan
            .workers
            .iter()
            .map(|wp| {
                let hello = Hello {
                    protocol: 1,
                    worker: wp.worker,
                    pid: pid(wp.worker),
                    language: "rust".into(),
                    implementation: "the model".into(),
                    sqlite_version: crate::worker::sqlite::sqlite_version().into(),
                    sqlite_source_id: None,
                    app: None,
                };
                let mut m = vec![WorkerMsg::Hello(Box::new(hello))];
                m.extend(
                    self.records
                        .iter()
                        .filter(|r| r.worker == wp.worker)
                        .map(|r| WorkerMsg::Op(Box::new(r.clone()))),
                );
                m.push(WorkerMsg::Done { worker: wp.worker });
                m
            })
            .collect();
        Case {
            sql: Vec::new(),
            msgs,
            steps: self.blocks.concat(),
        }
    }

    /// The run's rows that carry an op's identity: (table, rowid, worker, seq).
    pub(super) fn rows(&self) -> Vec<(&'static str, i64, u32, u32)> {
        let conn = Connection::open(&self.db).unwrap();
        let mut out = Vec::new();
        for (table, w, s) in [
            ("task_events", "worker", "seq"),
            ("tasks", "created_worker", "created_seq"),
            ("task_runs", "worker", "seq"),
            ("task_comments", "worker", "seq"),
        ] {
            let mut st = conn
                .prepare(&format!(
                    "SELECT rowid, {w}, {s} FROM {table} ORDER BY rowid"
                ))
                .unwrap();
            let rows = st
                .query_map([], |r| Ok((table, r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap();
            out.extend(rows.map(Result::unwrap));
        }
        out
    }

    pub(super) fn committed(&self) -> impl Iterator<Item = &OpRecord> {
        self.records
            .iter()
            .filter(|r| r.outcome == Outcome::Committed)
    }

    /// The positions in worker `w`'s messages (after `hello`, up to `done`) where the runner
    /// may stop believing it: every record at or after it is then never collected, and none
    /// of those may be an op that only its record proves (see `gc_removed`).
    pub(super) fn cut_points(&self, case: &Case, w: usize) -> Vec<usize> {
        let msgs = &case.msgs[w];
        (1..msgs.len())
            .filter(|&p| {
                msgs[p..].iter().all(|m| match m {
                    WorkerMsg::Op(r) => !self.gc_removed.contains(&(r.worker, r.seq)),
                    _ => true,
                })
            })
            .collect()
    }

    /// Checks `case` from a fresh copy of the database, as `run` does after a run.
    pub(super) fn judge(&self, case: &Case, name: &str) -> (Checks, Verdict) {
        self.judge_observed(case, name, |_| {})
    }

    /// As [`Run::judge`], with the observations changed by `observed` before checking.
    pub(super) fn judge_observed(
        &self,
        case: &Case,
        name: &str,
        observed: impl FnOnce(&mut Observations),
    ) -> (Checks, Verdict) {
        let db = self.dir.path().join(format!("{name}.db"));
        std::fs::copy(&self.db, &db).unwrap();
        let conn = Connection::open(&db).unwrap();
        for sql in &case.sql {
            conn.execute_batch(sql).unwrap();
        }
        drop(conn);
        let mut obs = Observations::default();
        for (wp, msgs) in self.plan.workers.iter().zip(&case.msgs) {
            let (records, exit) = deliver(&self.plan, wp, self.lockstep, msgs);
            obs.records.extend(records);
            obs.workers.push(exit);
        }
        obs.t_end_ns = self.records.last().map_or(0, |r| r.t_end_ns);
        if self.lockstep {
            obs.lockstep = Some(lockstep(&self.plan, &case.steps));
        }
        observed(&mut obs);
        let mut scenario = parse_str("name = \"props\"\n", &ScenarioSource::Embedded("p".into()))
            .expect("a scenario with only a name is valid");
        scenario.workload.workers = self.plan.workers.len() as u32;
        let spec = RunSpec {
            walburst_version: String::new(),
            sqlite_version: String::new(),
            scenario,
            source: ScenarioSource::Embedded("props".into()),
            seed: SEED,
            mode: if self.lockstep {
                Mode::Lockstep
            } else {
                Mode::Free
            },
            overrides: Default::default(),
            schedule_hash: String::new(),
            db_path: db,
        };
        let (checks, corruption) = check::run(&spec, &self.plan, &obs);
        let (totals, ..) = summarize(&obs, &self.plan);
        let v = verdict::judge(&spec.scenario, &obs, &totals, &checks, &corruption);
        (checks, v)
    }
}

pub(super) fn pid(worker: u32) -> u32 {
    1_000 + worker
}

/// One worker's messages, held to its contract as the runner holds them (`procs.rs`): a
/// message the contract refuses names the violation, the worker is killed, and nothing
/// more it says is believed.
pub(super) fn deliver(
    plan: &Plan,
    wp: &WorkerPlan,
    lockstep: bool,
    msgs: &[WorkerMsg],
) -> (Vec<OpRecord>, WorkerExit) {
    let w = wp.worker;
    let ops: Vec<WorkerOp> = wp
        .ops
        .iter()
        .map(|op| WorkerOp::from_plan(plan.seed, w, op))
        .collect();
    let actors = wp.ops.iter().map(|op| op.actor).max().unwrap_or(0) + 1;
    let mut contract = Contract::new(w, lockstep, actors, &ops, Vec::new(), IoFaults::default());
    let mut exit: WorkerExit = serde_json::from_value(serde_json::json!({
        "worker": w, "pid": pid(w), "finished": false, "records": 0,
    }))
    .unwrap();
    let mut records = Vec::new();
    for m in msgs {
        if let Err(v) = contract.admit(m) {
            exit.protocol_failure = Some(v.failure());
            exit.killed_because = Some(v.to_string());
            exit.signal = Some(9);
            return (records, exit);
        }
        match m {
            WorkerMsg::Op(r) => {
                exit.records += 1;
                records.push((**r).clone());
            }
            WorkerMsg::Done { .. } => exit.finished = true,
            WorkerMsg::Fatal { message, .. } => {
                exit.fatal = true;
                exit.error = Some(message.clone());
            }
            _ => {}
        }
    }
    exit.exit_code = Some(0);
    (records, exit)
}

/// Feeds the steps to a coordinator that grants them in this order: every actor opens its
/// connection first and closes it last, each a step, and parks its next step after each.
pub(super) fn lockstep(plan: &Plan, steps: &[Step]) -> LockstepOutcome {
    let actors = actors_of(plan);
    let mut all: Vec<Step> = actors
        .iter()
        .map(|&a| (a, StepAction::Open, StepResult::Ok))
        .collect();
    all.extend(steps.iter().cloned());
    all.extend(
        actors
            .iter()
            .map(|&a| (a, StepAction::Close, StepResult::Ok)),
    );
    let mut queues: BTreeMap<ActorId, VecDeque<(StepAction, StepResult)>> = BTreeMap::new();
    for (a, action, result) in &all {
        queues
            .entry(*a)
            .or_default()
            .push_back((action.clone(), result.clone()));
    }
    let choices = all.iter().map(|s| s.0).collect();
    let mut c = Coordinator::new(Box::new(ReplayScheduler::new(choices)), &actors, 10_000);
    for a in &actors {
        c.on(StepEvent::Want(*a, queues[a][0].0.clone()));
    }
    while !c.finished() {
        assert!(c.settled());
        let a = c.grant().expect("the model's order is a legal schedule");
        let (_, result) = queues.get_mut(&a).unwrap().pop_front().unwrap();
        c.on(StepEvent::Did(a, result));
        match queues[&a].front() {
            Some((next, _)) => c.on(StepEvent::Want(a, next.clone())),
            None => c.on(StepEvent::ActorDone(a)),
        }
    }
    c.finish(None)
}
