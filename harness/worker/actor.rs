//! An actor: one connection of one worker process, running its share of the schedule.
//! Strategy (locks, retries), guard, seeded kills and op body meet here; the SQL lives in
//! `kanban`, connecting in `connect`. Every SQL-level action passes through the [`Gate`],
//! which in lockstep makes it one step.

use std::time::Duration;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rusqlite::Connection;

use super::connect::{Purpose, Session, connect};
use super::connect::{us_since, write_lock};
use super::gate::{Gate, sql_result};
use super::guard::{Guard, GuardError};
use super::sink::RecordSink;
use super::strategy::{Acquired, Held};
use crate::error::Chain;
use crate::observe::HarnessError;
use crate::observe::SqlError;
use crate::observe::clock::monotonic_ns;
use crate::observe::step::{StepAction, StepResult};
use crate::observe::{BusyEvent, OpRecord, Outcome};
use crate::plan::{OpKind, stream};
use crate::protocol::{Start, StartKill, WorkerOp};
use crate::scenario::{
    ClaimStyle, GuardAt, JournalMode, KillPoint, Lifecycle, ListReads, ListWrite, LockScope,
};
use crate::workload::kanban::{self, Applied};
use crate::workload::list_append;

mod rewrite;

pub struct Actor<'a> {
    pub spec: &'a Start,
    pub worker: u32,
    pub actor: u32,
    pub guard: Guard,
    pub sink: &'a RecordSink,
    pub gate: Gate<'a>,
    /// Seeded kills of this worker (any actor's op may carry one).
    pub kills: Vec<StartKill>,
    jitter: ChaCha8Rng,
    /// `[io.stale_read]`: this actor's read-only connection, if its ops read stale.
    stale: super::stale::StaleReads,
}

/// Names a guard step's result for the trace. An error is hashed as `error` alone: its
/// text (SQLite's message, paths) is not part of the interleaving and may vary.
pub fn guard_result(r: &Result<Option<crate::observe::GuardReport>, GuardError>) -> StepResult {
    match r {
        Ok(None) => StepResult::Ok,
        Ok(Some(_)) => StepResult::Fired,
        Err(_) => StepResult::Error {
            code: "WALBURST_GUARD".into(),
        },
    }
}

/// Announces the kill to the runner, then SIGKILLs this whole process (every actor and
/// connection with it), exactly as a crash would. The record stream stays held from the
/// announcement to the kill, so no sibling actor reports anything after it, nor gets past
/// the op it is in.
fn die(sink: &RecordSink, worker: u32, actor: u32, seq: u32, point: KillPoint) -> ! {
    use crate::protocol::WorkerMsg;
    sink.last_words(
        &WorkerMsg::Dying {
            worker,
            actor,
            seq,
            point,
        },
        || {
            let _ = rustix::process::kill_process(
                rustix::process::getpid(),
                rustix::process::Signal::KILL,
            );
        },
    )
}

impl<'a> Actor<'a> {
    pub fn new(
        spec: &'a Start,
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
            kills: Vec::new(),
            stale: super::stale::StaleReads::new(spec, worker),
            jitter: stream(
                spec.seed,
                "retry-jitter",
                u64::from(worker),
                u64::from(actor),
            ),
        }
    }

    /// Dies here if a seeded kill is planned for this op at this point.
    fn maybe_die(&self, seq: u32, point: KillPoint) {
        if self
            .kills
            .iter()
            .any(|k| k.actor == self.actor && k.seq == seq && k.point == point)
        {
            die(self.sink, self.worker, self.actor, seq, point);
        }
    }

    /// Runs the actor's ops in order; `session` is a connection opened before the barrier.
    pub fn run(&mut self, ops: &[&WorkerOp], mut session: Option<Session>) {
        let per_op = self.spec.workload.connection == Lifecycle::PerOp;
        let lockstep = self.gate.is_lockstep();
        for op in ops {
            if op.think_us > 0 && !lockstep {
                std::thread::sleep(Duration::from_micros(u64::from(op.think_us)));
            }
            if self
                .kills
                .iter()
                .any(|k| k.seq == op.seq && k.point == KillPoint::Hang)
            {
                // Test-only: an op that never finishes, holding no lock; only the liveness
                // watchdog can end it.
                loop {
                    std::thread::sleep(Duration::from_secs(3600));
                }
            }
            if self
                .kills
                .iter()
                .any(|k| k.seq == op.seq && k.point == KillPoint::Panic)
            {
                // Test-only: a bug in an actor; the worker must fail naming it.
                panic!("test-only kill point `panic` at op seq {}", op.seq);
            }
            super::vfs::set_current_op(self.actor, op.seq);
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
            match op.kind {
                OpKind::Checkpoint => self.checkpoint(conn, &mut rec),
                OpKind::ReadSnapshot => {
                    super::reader::read_snapshot(self.spec, &self.gate, conn, op, &mut rec)
                }
                _ => self.write(conn, op, &mut rec),
            }
            if per_op {
                self.maybe_die(op.seq, KillPoint::Close);
                // Close, then release a connection-scoped lock.
                let s = session.take().expect("connected above");
                self.gate
                    .step(StepAction::Close, || drop(s), |_| StepResult::Ok);
            }
            self.finish(rec);
            if !per_op {
                // Persistent connections close when the worker ends; dying now leaves this
                // one open, as a crash at close would.
                self.maybe_die(op.seq, KillPoint::Close);
            }
        }
        self.stale.close(&self.gate);
        // In lockstep the last close (which may checkpoint and delete -wal) is a step like
        // any other, never concurrent with another actor's step.
        if let Some(s) = session.take() {
            super::connect::close(&self.gate, s);
        }
    }

    fn new_record(&self, op: &WorkerOp) -> OpRecord {
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
            guard_error: None,
            checkpoint: None,
            list: op.list.clone(),
            reads: Vec::new(),
            wal_frames: None,
            claim_read: None,
        }
    }

    fn finish(&self, mut rec: OpRecord) {
        rec.t_end_ns = monotonic_ns();
        rec.latency_us = rec.t_end_ns.saturating_sub(rec.t_start_ns) / 1000;
        self.sink.op(rec);
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
        let st = &self.spec.strategy;
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

    /// A deferred transaction turned away before it wrote starts over on a new snapshot:
    /// ROLLBACK, then `begin`, each a step. It held no write lock, so this rollback ends no
    /// write-lock interval and sets no commit time. `false` (the error recorded): it could not.
    fn restart_unwritten(
        &self,
        conn: &Connection,
        rec: &mut OpRecord,
        begin: impl FnOnce() -> rusqlite::Result<()>,
    ) -> bool {
        let again = self
            .gate
            .step(
                StepAction::Rollback,
                || conn.execute_batch("ROLLBACK"),
                sql_result,
            )
            .and_then(|()| begin());
        match again {
            Ok(()) => true,
            Err(e) => {
                rec.error = Some(SqlError::from_rusqlite(&e));
                false
            }
        }
    }

    /// ROLLBACK as one step; the write-lock interval ends when it is issued.
    fn rollback(&self, conn: &Connection, rec: &mut OpRecord) -> rusqlite::Result<()> {
        self.gate.step(
            StepAction::Rollback,
            || {
                rec.t_commit_issued_ns.get_or_insert(monotonic_ns());
                conn.execute_batch("ROLLBACK")
            },
            sql_result,
        )
    }

    fn guard_step(
        &self,
        conn: &Connection,
    ) -> Result<Option<crate::observe::GuardReport>, GuardError> {
        self.gate
            .step(StepAction::Guard, || self.guard.check(conn), guard_result)
    }

    /// Takes the strategy's global write lock around one transaction (when `wanted` and the
    /// strategy has one), charging the wait to the op; `Err` when it could not be taken (the
    /// op's error says why and the op ends).
    fn transaction_lock(&self, wanted: bool, rec: &mut OpRecord) -> Result<Option<Held>, ()> {
        if !wanted {
            return Ok(None);
        }
        let t_lock = monotonic_ns();
        let held = match write_lock(&self.gate, &self.spec.db_path, &self.spec.strategy) {
            Ok(None) => Ok(None),
            Ok(Some(Acquired::Held(h))) => Ok(Some(h)),
            Ok(Some(Acquired::TimedOut)) => {
                rec.error = Some(SqlError::harness(HarnessError::WriteLockTimeout));
                Err(())
            }
            Err(e) => {
                rec.error = Some(SqlError::harness(HarnessError::WriteLockIo(e.to_string())));
                Err(())
            }
        };
        rec.lock_wait_us += us_since(t_lock);
        held
    }

    /// `BEGIN IMMEDIATE` (retried while busy, as the strategy says), then the op's body;
    /// `None` when the op ended there (its error recorded, its transaction rolled back).
    fn begin_and_apply(
        &mut self,
        conn: &Connection,
        op: &WorkerOp,
        rec: &mut OpRecord,
    ) -> Option<Applied> {
        let t_begin = monotonic_ns();
        let mut attempt = 0;
        loop {
            // Timestamps are taken inside the step: in lockstep the actor may sit parked
            // between steps while others act, and that time is not inside the lock.
            let begun = self.gate.step(
                StepAction::Begin,
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
                    return None;
                }
            }
        }
        rec.begin_wait_us = rec.t_begin_ok_ns.unwrap_or(t_begin).saturating_sub(t_begin) / 1000;

        let applied = if op.kind == OpKind::ListTxn {
            list_append::apply(conn, &self.gate, self.worker, op, &mut rec.list)
        } else {
            kanban::apply(conn, &self.gate, self.worker, op).and_then(|a| self.mirror(conn, op, a))
        };
        match applied {
            Ok(a) => Some(a),
            Err(e) => {
                rec.error = Some(SqlError::from_rusqlite(&e));
                let _ = self.rollback(conn, rec);
                None
            }
        }
    }

    /// `attach = "aux"`: an op that wrote its kanban rows also writes its mirror row in the
    /// attached database, in the same transaction, so its COMMIT spans both files.
    fn mirror(&self, conn: &Connection, op: &WorkerOp, a: Applied) -> rusqlite::Result<Applied> {
        if self.spec.workload.attach == crate::scenario::Attach::Aux
            && matches!(a, Applied::Wrote { .. })
        {
            crate::workload::mirror::mirror(conn, &self.gate, self.worker, op)?;
        }
        Ok(a)
    }

    /// `claim = "read-then-write"`, the racy claim of the `[[invariants]]` negative
    /// control: a deferred transaction reads the oldest ready task, then updates it by id
    /// alone. When the update is turned away (busy, or `SQLITE_BUSY_SNAPSHOT` once another
    /// claim committed) it rolls back and retries the update in a new deferred transaction
    /// without reading again, so it can claim a task another worker claimed meanwhile. Its
    /// write-lock interval starts when the update returns (that is when SQLite takes the
    /// lock in a deferred transaction), so write exclusion still judges it truly.
    fn claim_read_then_write(
        &mut self,
        conn: &Connection,
        op: &WorkerOp,
        rec: &mut OpRecord,
    ) -> Option<Applied> {
        let t_begin = monotonic_ns();
        let begin = |gate: &Gate| {
            gate.step(
                StepAction::BeginDeferred,
                || conn.execute_batch("BEGIN DEFERRED"),
                sql_result,
            )
        };
        if let Err(e) = begin(&self.gate) {
            rec.error = Some(SqlError::from_rusqlite(&e));
            return None;
        }
        let id = match kanban::ready_task(conn, &self.gate) {
            Ok(Some(id)) => id,
            Ok(None) => return Some(Applied::Nothing("no ready task to claim")),
            Err(e) => {
                rec.error = Some(SqlError::from_rusqlite(&e));
                let _ = self.rollback(conn, rec);
                return None;
            }
        };
        let mut attempt = 0;
        loop {
            let err = match kanban::claim_by_id(conn, &self.gate, self.worker, op, &id) {
                Ok((0, _)) => return Some(Applied::Nothing("the task read is gone")),
                Ok((_, t)) => {
                    rec.t_begin_ok_ns = Some(t);
                    break;
                }
                Err(e) => e,
            };
            let se = SqlError::from_rusqlite(&err);
            if !(se.is_busy() && self.retry_after_busy(rec, &se, "claim", attempt)) {
                rec.error = Some(se);
                let _ = self.rollback(conn, rec);
                return None;
            }
            attempt += 1;
            // The retry re-reads nothing: a new snapshot, the same task id.
            if !self.restart_unwritten(conn, rec, || begin(&self.gate)) {
                return None;
            }
        }
        rec.begin_wait_us = rec.t_begin_ok_ns.unwrap_or(t_begin).saturating_sub(t_begin) / 1000;
        match kanban::record_claim(conn, &self.gate, self.worker, op, id) {
            Ok(a) => Some(a),
            Err(e) => {
                rec.error = Some(SqlError::from_rusqlite(&e));
                let _ = self.rollback(conn, rec);
                None
            }
        }
    }

    fn write(&mut self, conn: &Connection, op: &WorkerOp, rec: &mut OpRecord) {
        let scoped = self.spec.strategy.write_lock_scope == LockScope::Transaction;
        let Ok(tx_lock) = self.transaction_lock(scoped, rec) else {
            return;
        };

        if self.stale.applies(op, &rec.list)
            && let Err(e) = self.stale.read(self.spec, &self.gate, &mut rec.list)
        {
            rec.error = Some(SqlError::from_rusqlite(&e));
            return;
        }
        if op.kind == OpKind::ListTxn
            && self.spec.workload.list_reads == ListReads::BeforeBegin
            && let Err(e) = list_append::read_before_begin(conn, &self.gate, &mut rec.list)
        {
            rec.error = Some(SqlError::from_rusqlite(&e));
            return;
        }
        let racy_claim =
            op.kind == OpKind::ClaimTask && self.spec.workload.claim == ClaimStyle::ReadThenWrite;
        let rewrite =
            op.kind == OpKind::ListTxn && self.spec.workload.list_write != ListWrite::Append;
        let applied = if racy_claim {
            self.claim_read_then_write(conn, op, rec)
        } else if rewrite {
            self.rewrite_lists(conn, op, rec)
        } else {
            self.begin_and_apply(conn, op, rec)
        };
        let Some(applied) = applied else {
            return;
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
                Err(e) => rec.guard_error = Some(Chain(&e).to_string()),
            }
        }
        // Inside the transaction, whether or not it would commit.
        self.maybe_die(op.seq, KillPoint::MidTransaction);
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
                StepAction::Commit,
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
                    rec.wal_frames = self.wal_frames();
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
        if rec.outcome == Outcome::Committed {
            self.maybe_die(op.seq, KillPoint::AfterCommit);
        }
        if rec.outcome == Outcome::Committed
            && self.guard.is_active()
            && self.guard.at() == GuardAt::AfterCommit
        {
            match self.guard_step(conn) {
                Ok(report) => rec.guard = report,
                Err(e) => rec.guard_error = Some(Chain(&e).to_string()),
            }
        }
    }
}

// The checkpoint op (and the WAL size it reports), in a file of its own.
#[path = "actor_checkpoint.rs"]
mod checkpoint;
