//! An actor: one connection of one worker process, running its share of the schedule.
//! Strategy (locks, retries), guard and op body meet here; the SQL lives in `kanban`.
//! Every SQL-level action passes through the [`Gate`], which in lockstep makes it one step.

use std::path::Path;
use std::time::Duration;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rusqlite::Connection;

use super::clock::monotonic_ns;
use super::gate::{Gate, sql_result};
use super::guard::Guard;
use super::kanban::{self, Applied};
use super::protocol::RunSpec;
use super::sink::RecordSink;
use super::sqlite::{self, SqlError};
use super::strategy::{self, Acquired, Held};
use crate::observe::{BusyEvent, OpRecord, Outcome};
use crate::plan::{OpKind, PlannedOp, stream};
use crate::scenario::{
    GuardAt, InitLock, Lifecycle, LockScope, LockWait, Setup, Strategy, WriteLock,
};

/// An open connection plus the connection-scoped write lock it was opened under.
pub struct Session {
    pub conn: Connection,
    _lock: Option<Held>,
    /// Time spent waiting for a connection-scoped write lock while opening.
    pub lock_wait_us: u64,
}

/// What a connection is for: writers take a connection-scoped write lock, readers do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Writer,
    IdleReader,
}

pub fn is_lockstep(spec: &RunSpec) -> bool {
    spec.mode == "lockstep"
}

/// Whether connections may be opened before the start barrier: only when opening takes no
/// lock that another worker could hold for the whole run, and there is no setup race to run.
pub fn may_connect_early(spec: &RunSpec) -> bool {
    let s = &spec.scenario;
    s.workload.setup == Setup::Runner
        && !(s.strategy.write_lock == WriteLock::Flock
            && s.strategy.write_lock_scope == LockScope::Connection)
}

fn us_since(t0: u64) -> u64 {
    monotonic_ns().saturating_sub(t0) / 1000
}

/// Takes a flock. Free mode blocks or polls in real time; lockstep makes one non-blocking
/// attempt per step (a poll gives up after as many attempts as its timeout allows).
fn take_lock(
    gate: &Gate,
    path: &Path,
    wait: LockWait,
    poll_ms: u32,
    timeout_ms: u32,
) -> std::io::Result<Acquired> {
    if !gate.is_lockstep() {
        return strategy::acquire(path, wait, poll_ms, timeout_ms);
    }
    let attempts = match wait {
        LockWait::Blocking => u64::MAX,
        LockWait::Poll => u64::from(timeout_ms / poll_ms.max(1)).max(1),
    };
    for _ in 0..attempts {
        let got = gate.step(
            "flock",
            || strategy::try_acquire(path),
            |r| match r {
                Ok(Some(_)) => "ok".into(),
                Ok(None) => "would-block".into(),
                Err(e) => format!("error: {e}"),
            },
        )?;
        if let Some(h) = got {
            return Ok(Acquired::Held(h));
        }
    }
    Ok(Acquired::TimedOut)
}

fn write_lock(gate: &Gate, db: &Path, s: &Strategy) -> std::io::Result<Option<Acquired>> {
    match s.write_lock {
        WriteLock::None => Ok(None),
        WriteLock::Flock => take_lock(
            gate,
            &strategy::write_lock_path(db),
            s.write_lock_wait,
            s.write_lock_poll_ms,
            s.write_lock_timeout_ms,
        )
        .map(Some),
    }
}

/// Opens a connection as the field app does: connection-scoped write lock (if any), the
/// first-connect lock around setup, settings, and (when racing) the schema.
pub fn connect(
    spec: &RunSpec,
    gate: &Gate,
    purpose: Purpose,
    busy: &mut Vec<BusyEvent>,
) -> Result<Session, SqlError> {
    let s = &spec.scenario;
    let db = &spec.db_path;
    let t_lock = monotonic_ns();
    let lock = if purpose == Purpose::Writer && s.strategy.write_lock_scope == LockScope::Connection
    {
        match write_lock(gate, db, &s.strategy)
            .map_err(|e| SqlError::harness(format!("write lock: {e}")))?
        {
            None => None,
            Some(Acquired::Held(h)) => Some(h),
            Some(Acquired::TimedOut) => {
                return Err(SqlError::harness("global write lock not acquired in time"));
            }
        }
    } else {
        None
    };
    let lock_wait_us = us_since(t_lock);
    let st = &s.strategy;
    let init = match st.init_lock {
        InitLock::None => None,
        kind => {
            let wait = if kind == InitLock::Blocking {
                LockWait::Blocking
            } else {
                LockWait::Poll
            };
            match take_lock(
                gate,
                &strategy::init_lock_path(db),
                wait,
                st.init_lock_poll_ms,
                st.init_lock_timeout_ms,
            )
            .map_err(|e| SqlError::harness(format!("init lock: {e}")))?
            {
                Acquired::Held(h) => Some(h),
                // The field app proceeds without the lock after its timeout.
                Acquired::TimedOut => None,
            }
        }
    };
    // Lockstep never waits inside SQLite: a step that would block returns BUSY at once.
    // (Connections opened before the barrier are ungated but still lockstep's.)
    let busy_ms = if is_lockstep(spec) {
        0
    } else {
        s.sqlite.busy_timeout_ms
    };
    // Lockstep stands in for the busy handler: a BUSY while setting up is retried as a
    // later step. Free mode waits inside SQLite (busy_timeout) and reports what is left.
    let lockstep = is_lockstep(spec);
    let note_busy = |se: &SqlError, busy: &mut Vec<BusyEvent>| {
        let retry = lockstep && se.is_busy();
        if se.is_busy() {
            busy.push(BusyEvent {
                code: se.code.clone(),
                during: "connect".into(),
                retried: retry,
            });
        }
        retry
    };
    let conn = loop {
        match gate.step("open", || sqlite::open(db, &s.sqlite, busy_ms), sql_result) {
            Ok(c) => break c,
            Err(e) => {
                let se = SqlError::from_rusqlite(&e);
                if !note_busy(&se, busy) {
                    return Err(se);
                }
            }
        }
    };
    if s.workload.setup == Setup::Race {
        loop {
            match gate.step("schema", || kanban::create_schema(&conn), sql_result) {
                Ok(()) => break,
                Err(e) => {
                    let se = SqlError::from_rusqlite(&e);
                    // A failed batch may leave its transaction open.
                    if !conn.is_autocommit() {
                        let _ = conn.execute_batch("ROLLBACK");
                    }
                    if !note_busy(&se, busy) {
                        return Err(se);
                    }
                }
            }
        }
    }
    drop(init);
    Ok(Session {
        conn,
        _lock: lock,
        lock_wait_us,
    })
}

/// Opens the idle connections a worker holds: set up like any other, read once, then left
/// open until the worker exits (as apps with a reader connection do).
pub fn open_idle(spec: &RunSpec, gate: &Gate, n: u32) -> Result<Vec<Session>, SqlError> {
    (0..n)
        .map(|_| {
            let session = connect(spec, gate, Purpose::IdleReader, &mut Vec::new())?;
            gate.step(
                "idle read",
                || {
                    session
                        .conn
                        .query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                            r.get::<_, i64>(0)
                        })
                },
                sql_result,
            )
            .map_err(|e| SqlError::from_rusqlite(&e))?;
            Ok(session)
        })
        .collect()
}

pub struct Actor<'a> {
    pub spec: &'a RunSpec,
    pub worker: u32,
    pub actor: u32,
    pub guard: Guard,
    pub sink: &'a RecordSink,
    pub gate: Gate<'a>,
    jitter: ChaCha8Rng,
}

impl<'a> Actor<'a> {
    pub fn new(
        spec: &'a RunSpec,
        worker: u32,
        actor: u32,
        guard: Guard,
        sink: &'a RecordSink,
        gate: Gate<'a>,
    ) -> Self {
        Actor {
            spec,
            worker,
            actor,
            guard,
            sink,
            gate,
            jitter: stream(
                spec.seed,
                "retry-jitter",
                u64::from(worker),
                u64::from(actor),
            ),
        }
    }

    /// Runs the actor's ops in order; `session` is a connection opened before the barrier.
    pub fn run(&mut self, ops: &[&PlannedOp], mut session: Option<Session>) {
        let per_op = self.spec.scenario.workload.connection == Lifecycle::PerOp;
        let lockstep = self.gate.is_lockstep();
        for op in ops {
            if op.think_us > 0 && !lockstep {
                std::thread::sleep(Duration::from_micros(u64::from(op.think_us)));
            }
            let mut rec = self.new_record(op);
            if session.is_none() {
                match connect(self.spec, &self.gate, Purpose::Writer, &mut rec.busy) {
                    Ok(s) => {
                        rec.lock_wait_us += s.lock_wait_us;
                        session = Some(s);
                    }
                    Err(e) => {
                        rec.outcome = Outcome::Failed;
                        rec.error = Some(e);
                        self.finish(rec);
                        continue;
                    }
                }
            }
            let conn = &session.as_ref().expect("connected above").conn;
            if op.kind == OpKind::Checkpoint {
                self.checkpoint(conn, &mut rec);
            } else {
                self.write(conn, op, &mut rec);
            }
            if per_op {
                // Close, then release a connection-scoped lock.
                let s = session.take().expect("connected above");
                self.gate.step("close", || drop(s), |_| "ok".into());
            }
            self.finish(rec);
        }
    }

    fn new_record(&self, op: &PlannedOp) -> OpRecord {
        OpRecord {
            worker: self.worker,
            actor: self.actor,
            seq: op.seq,
            kind: op.kind,
            outcome: Outcome::Failed,
            reason: None,
            error: None,
            busy: Vec::new(),
            lock_wait_us: 0,
            begin_wait_us: 0,
            latency_us: 0,
            t_start_ns: monotonic_ns(),
            t_begin_ok_ns: None,
            t_commit_issued_ns: None,
            t_end_ns: 0,
            event_id: None,
            task_id: None,
            guard: None,
            checkpoint: None,
        }
    }

    fn finish(&self, mut rec: OpRecord) {
        rec.t_end_ns = monotonic_ns();
        rec.latency_us = rec.t_end_ns.saturating_sub(rec.t_start_ns) / 1000;
        self.sink.op(rec);
    }

    fn checkpoint(&self, conn: &Connection, rec: &mut OpRecord) {
        let st = &self.spec.scenario.strategy;
        let t_lock = monotonic_ns();
        let _held = if st.lock_checkpoints && st.write_lock_scope == LockScope::Transaction {
            match write_lock(&self.gate, &self.spec.db_path, st) {
                Ok(Some(Acquired::Held(h))) => Some(h),
                Ok(None) => None,
                Ok(Some(Acquired::TimedOut)) => {
                    rec.error = Some(SqlError::harness("global write lock not acquired in time"));
                    return;
                }
                Err(e) => {
                    rec.error = Some(SqlError::harness(format!("write lock: {e}")));
                    return;
                }
            }
        } else {
            None
        };
        rec.lock_wait_us += us_since(t_lock);
        let mode = self.spec.scenario.workload.checkpoint_mode.as_sql();
        let res = self.gate.step(
            "checkpoint",
            || {
                conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
                    Ok([r.get(0)?, r.get(1)?, r.get(2)?])
                })
            },
            |r| match r {
                Ok([busy, ..]) if *busy != 0 => "busy".into(),
                other => sql_result(other),
            },
        );
        match res {
            Ok(res) => {
                rec.outcome = Outcome::Done;
                rec.checkpoint = Some(res);
            }
            Err(e) => {
                rec.outcome = Outcome::Failed;
                rec.error = Some(SqlError::from_rusqlite(&e));
            }
        }
    }

    /// Whether to try again after BUSY. Free mode follows the strategy (with a seeded jitter
    /// sleep); lockstep always retries as a later step, standing in for the busy handler.
    fn retry_after_busy(
        &mut self,
        rec: &mut OpRecord,
        e: &SqlError,
        during: &str,
        attempt: u32,
    ) -> bool {
        let st = &self.spec.scenario.strategy;
        let lockstep = self.gate.is_lockstep();
        let retry = lockstep || attempt < st.retries;
        rec.busy.push(BusyEvent {
            code: e.code.clone(),
            during: during.into(),
            retried: retry,
        });
        if retry && !lockstep {
            let ms = self
                .jitter
                .random_range(st.retry_jitter_ms[0]..=st.retry_jitter_ms[1]);
            std::thread::sleep(Duration::from_millis(u64::from(ms)));
        }
        retry
    }

    /// ROLLBACK as one step; the write-lock interval ends when it is issued.
    fn rollback(&self, conn: &Connection, rec: &mut OpRecord) -> rusqlite::Result<()> {
        self.gate.step(
            "rollback",
            || {
                rec.t_commit_issued_ns.get_or_insert(monotonic_ns());
                conn.execute_batch("ROLLBACK")
            },
            sql_result,
        )
    }

    fn guard_step(&self, conn: &Connection) -> Result<Option<crate::observe::GuardReport>, String> {
        self.gate.step(
            "guard",
            || self.guard.check(conn),
            |r| match r {
                Ok(None) => "ok".into(),
                Ok(Some(_)) => "fired".into(),
                Err(e) => format!("error: {e}"),
            },
        )
    }

    fn write(&mut self, conn: &Connection, op: &PlannedOp, rec: &mut OpRecord) {
        let s = &self.spec.scenario;
        let t_lock = monotonic_ns();
        let tx_lock = if s.strategy.write_lock_scope == LockScope::Transaction {
            match write_lock(&self.gate, &self.spec.db_path, &s.strategy) {
                Ok(None) => None,
                Ok(Some(Acquired::Held(h))) => Some(h),
                Ok(Some(Acquired::TimedOut)) => {
                    rec.error = Some(SqlError::harness("global write lock not acquired in time"));
                    return;
                }
                Err(e) => {
                    rec.error = Some(SqlError::harness(format!("write lock: {e}")));
                    return;
                }
            }
        } else {
            None
        };
        rec.lock_wait_us += us_since(t_lock);

        let t_begin = monotonic_ns();
        let mut attempt = 0;
        loop {
            // Timestamps are taken inside the step: in lockstep the actor may sit parked
            // between steps while others act, and that time is not inside the lock.
            let begun = self.gate.step(
                "begin",
                || {
                    conn.execute_batch("BEGIN IMMEDIATE")
                        .map(|()| monotonic_ns())
                },
                sql_result,
            );
            match begun {
                Ok(t) => {
                    rec.t_begin_ok_ns = Some(t);
                    break;
                }
                Err(e) => {
                    let se = SqlError::from_rusqlite(&e);
                    if se.is_busy() && self.retry_after_busy(rec, &se, "begin", attempt) {
                        attempt += 1;
                        continue;
                    }
                    rec.error = Some(se);
                    return;
                }
            }
        }
        rec.begin_wait_us = rec.t_begin_ok_ns.unwrap_or(t_begin).saturating_sub(t_begin) / 1000;

        let applied = match kanban::apply(conn, &self.gate, self.spec.seed, self.worker, op) {
            Ok(a) => a,
            Err(e) => {
                rec.error = Some(SqlError::from_rusqlite(&e));
                let _ = self.rollback(conn, rec);
                return;
            }
        };
        if self.guard.is_active() && self.guard.at() == GuardAt::InTransaction {
            match self.guard_step(conn) {
                Ok(Some(report)) => {
                    // The app raises before COMMIT, so its transaction rolls back.
                    rec.guard = Some(report);
                    rec.reason = Some("guard fired inside the transaction".into());
                    rec.outcome = Outcome::RolledBack;
                    let _ = self.rollback(conn, rec);
                    return;
                }
                Ok(None) => {}
                Err(msg) => rec.reason = Some(format!("guard error: {msg}")),
            }
        }
        let (event_id, task_id) = match applied {
            Applied::Nothing(why) => {
                rec.reason = Some(why.into());
                rec.outcome = match self.rollback(conn, rec) {
                    Ok(()) => Outcome::RolledBack,
                    Err(e) => {
                        rec.error = Some(SqlError::from_rusqlite(&e));
                        Outcome::Failed
                    }
                };
                return;
            }
            Applied::Wrote { event_id, task_id } => (event_id, task_id),
        };
        rec.task_id = task_id;
        let mut attempt = 0;
        loop {
            let issued = &mut rec.t_commit_issued_ns;
            let committed = self.gate.step(
                "commit",
                || {
                    issued.get_or_insert(monotonic_ns());
                    conn.execute_batch("COMMIT")
                },
                sql_result,
            );
            match committed {
                Ok(()) => {
                    rec.outcome = Outcome::Committed;
                    rec.event_id = Some(event_id);
                    break;
                }
                Err(e) => {
                    let se = SqlError::from_rusqlite(&e);
                    if conn.is_autocommit() {
                        // The transaction ended inside a failed COMMIT: nobody knows whether
                        // it is durable. The ledger settles it by probing.
                        rec.outcome = Outcome::Ambiguous;
                        rec.event_id = Some(event_id);
                        rec.error = Some(se);
                        break;
                    }
                    if se.is_busy() && self.retry_after_busy(rec, &se, "commit", attempt) {
                        attempt += 1;
                        continue;
                    }
                    rec.error = Some(se);
                    let _ = self.rollback(conn, rec);
                    return;
                }
            }
        }
        drop(tx_lock);
        if rec.outcome == Outcome::Committed
            && self.guard.is_active()
            && self.guard.at() == GuardAt::AfterCommit
        {
            match self.guard_step(conn) {
                Ok(report) => rec.guard = report,
                Err(msg) => rec.reason = Some(format!("guard error: {msg}")),
            }
        }
    }
}
