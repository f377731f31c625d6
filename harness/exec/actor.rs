//! An actor: one connection of one worker process, running its share of the schedule.
//! Strategy (locks, retries), guard and op body meet here; the SQL lives in `kanban`.

use std::time::Duration;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rusqlite::Connection;

use super::clock::monotonic_ns;
use super::guard::Guard;
use super::kanban::{self, Applied};
use super::protocol::RunSpec;
use super::sink::RecordSink;
use super::sqlite::{self, SqlError};
use super::strategy::{self, Acquired, Held};
use crate::observe::{BusyEvent, OpRecord, Outcome};
use crate::plan::{OpKind, PlannedOp, stream};
use crate::scenario::{GuardAt, Lifecycle, LockScope, Setup, WriteLock};

/// An open connection plus the connection-scoped write lock it was opened under.
pub struct Session {
    pub conn: Connection,
    _lock: Option<Held>,
    /// Time spent waiting for a connection-scoped write lock while opening.
    pub lock_wait_us: u64,
}

pub struct Actor<'a> {
    pub spec: &'a RunSpec,
    pub worker: u32,
    pub actor: u32,
    pub guard: Guard,
    pub sink: &'a RecordSink,
    jitter: ChaCha8Rng,
}

/// Whether connections may be opened before the start barrier: only when opening takes no
/// lock that another worker could hold for the whole run, and there is no setup race to run.
pub fn may_connect_early(spec: &RunSpec) -> bool {
    let s = &spec.scenario;
    s.workload.setup == Setup::Runner
        && !(s.strategy.write_lock == WriteLock::Flock
            && s.strategy.write_lock_scope == LockScope::Connection)
}

/// What a connection is for: writers take a connection-scoped write lock, readers do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Writer,
    IdleReader,
}

/// Opens a connection as the field app does: connection-scoped write lock (if any), the
/// first-connect lock around setup, settings, and (when racing) the schema.
pub fn connect(
    spec: &RunSpec,
    purpose: Purpose,
    busy: &mut Vec<BusyEvent>,
) -> Result<Session, SqlError> {
    let s = &spec.scenario;
    let db = &spec.db_path;
    let t_lock = monotonic_ns();
    let lock = if purpose == Purpose::Writer && s.strategy.write_lock_scope == LockScope::Connection
    {
        match strategy::write_lock(db, &s.strategy)
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
    let init = strategy::init_lock(db, &s.strategy)
        .map_err(|e| SqlError::harness(format!("init lock: {e}")))?;
    let conn = sqlite::open(db, &s.sqlite, s.sqlite.busy_timeout_ms).map_err(|e| {
        let se = SqlError::from_rusqlite(&e);
        if se.is_busy() {
            busy.push(BusyEvent {
                code: se.code.clone(),
                during: "connect".into(),
                retried: false,
            });
        }
        se
    })?;
    if s.workload.setup == Setup::Race {
        kanban::create_schema(&conn).map_err(|e| SqlError::from_rusqlite(&e))?;
    }
    drop(init);
    Ok(Session {
        conn,
        _lock: lock,
        lock_wait_us,
    })
}

fn us_since(t0: u64) -> u64 {
    monotonic_ns().saturating_sub(t0) / 1000
}

impl<'a> Actor<'a> {
    pub fn new(
        spec: &'a RunSpec,
        worker: u32,
        actor: u32,
        guard: Guard,
        sink: &'a RecordSink,
    ) -> Self {
        Actor {
            spec,
            worker,
            actor,
            guard,
            sink,
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
        for op in ops {
            if op.think_us > 0 {
                std::thread::sleep(Duration::from_micros(u64::from(op.think_us)));
            }
            let mut rec = self.new_record(op);
            if session.is_none() {
                match connect(self.spec, Purpose::Writer, &mut rec.busy) {
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
                session = None; // close, then release a connection-scoped lock
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
        let mode = self.spec.scenario.workload.checkpoint_mode.as_sql();
        match conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
            Ok([r.get(0)?, r.get(1)?, r.get(2)?])
        }) {
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

    /// Sleeps for a seeded jitter when the strategy allows another attempt.
    fn retry_after_busy(
        &mut self,
        rec: &mut OpRecord,
        e: &SqlError,
        during: &str,
        attempt: u32,
    ) -> bool {
        let st = &self.spec.scenario.strategy;
        let retry = attempt < st.retries;
        rec.busy.push(BusyEvent {
            code: e.code.clone(),
            during: during.into(),
            retried: retry,
        });
        if retry {
            let ms = self
                .jitter
                .random_range(st.retry_jitter_ms[0]..=st.retry_jitter_ms[1]);
            std::thread::sleep(Duration::from_millis(u64::from(ms)));
        }
        retry
    }

    fn write(&mut self, conn: &Connection, op: &PlannedOp, rec: &mut OpRecord) {
        let s = &self.spec.scenario;
        let t_lock = monotonic_ns();
        let tx_lock = if s.strategy.write_lock_scope == LockScope::Transaction {
            match strategy::write_lock(&self.spec.db_path, &s.strategy) {
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
            match conn.execute_batch("BEGIN IMMEDIATE") {
                Ok(()) => break,
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
        rec.begin_wait_us = us_since(t_begin);
        rec.t_begin_ok_ns = Some(monotonic_ns());

        let applied = match kanban::apply(conn, self.spec.seed, self.worker, op) {
            Ok(a) => a,
            Err(e) => {
                rec.error = Some(SqlError::from_rusqlite(&e));
                rec.t_commit_issued_ns = Some(monotonic_ns());
                let _ = conn.execute_batch("ROLLBACK");
                return;
            }
        };
        if self.guard.is_active() && self.guard.at() == GuardAt::InTransaction {
            match self.guard.check(conn) {
                Ok(Some(report)) => {
                    // The app raises before COMMIT, so its transaction rolls back.
                    rec.guard = Some(report);
                    rec.reason = Some("guard fired inside the transaction".into());
                    rec.outcome = Outcome::RolledBack;
                    rec.t_commit_issued_ns = Some(monotonic_ns());
                    let _ = conn.execute_batch("ROLLBACK");
                    return;
                }
                Ok(None) => {}
                Err(msg) => rec.reason = Some(format!("guard error: {msg}")),
            }
        }
        let (event_id, task_id) = match applied {
            Applied::Nothing(why) => {
                rec.reason = Some(why.into());
                rec.t_commit_issued_ns = Some(monotonic_ns());
                rec.outcome = match conn.execute_batch("ROLLBACK") {
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
        rec.t_commit_issued_ns = Some(monotonic_ns());
        let mut attempt = 0;
        loop {
            match conn.execute_batch("COMMIT") {
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
                    let _ = conn.execute_batch("ROLLBACK");
                    return;
                }
            }
        }
        drop(tx_lock);
        if rec.outcome == Outcome::Committed
            && self.guard.is_active()
            && self.guard.at() == GuardAt::AfterCommit
        {
            match self.guard.check(conn) {
                Ok(report) => rec.guard = report,
                Err(msg) => rec.reason = Some(format!("guard error: {msg}")),
            }
        }
    }
}

/// Opens the idle connections a worker holds: set up like any other, read once, then left
/// open until the worker exits (as apps with a reader connection do).
pub fn open_idle(spec: &RunSpec, n: u32) -> Result<Vec<Session>, SqlError> {
    (0..n)
        .map(|_| {
            let session = connect(spec, Purpose::IdleReader, &mut Vec::new())?;
            session
                .conn
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                    r.get::<_, i64>(0)
                })
                .map_err(|e| SqlError::from_rusqlite(&e))?;
            Ok(session)
        })
        .collect()
}
