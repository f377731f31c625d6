//! `[io.stale_read]` in the built-in worker (`scenario/stale_read.rs` says why): the chosen
//! worker's read-only list-append transactions, from the chosen seq on, run their reads in
//! one `BEGIN DEFERRED` transaction on an extra read-only connection of the actor, whose
//! wal-index the fault VFS freezes (`vfs/frozen.rs`) when `freeze` is on. The op then commits
//! its ledger row on the actor's own connection as every other op does, with its reads
//! already filled in, so its record's interval covers the read transaction.

use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::gate::{Gate, sql_result};
use crate::observe::step::{StepAction, StepResult};
use crate::plan::OpKind;
use crate::plan::list_append::{self as list_append_plan, ListMop};
use crate::protocol::{Start, WorkerOp};
use crate::scenario::StaleTarget;
use crate::workload::list_append;

/// One actor's stale reads: whether its ops qualify, and its read-only connection once
/// opened (kept for the rest of the run: its frozen copy is the old snapshot).
pub struct StaleReads {
    target: Option<StaleTarget>,
    conn: Option<Connection>,
}

impl StaleReads {
    pub fn new(spec: &Start, worker: u32) -> Self {
        let target = spec
            .io
            .stale_read
            .map(|s| list_append_plan::stale_target(&s, spec.seed, spec.workers))
            .filter(|t| t.worker == worker);
        StaleReads { target, conn: None }
    }

    /// Whether `op` reads through the stale connection: a list transaction of the chosen
    /// worker, at or after the chosen seq, that appends nothing.
    pub fn applies(&self, op: &WorkerOp, list: &[ListMop]) -> bool {
        self.target.is_some_and(|t| {
            op.kind == OpKind::ListTxn
                && op.seq >= t.from_seq
                && !list.is_empty()
                && list.iter().all(|m| matches!(m, ListMop::Read { .. }))
        })
    }

    /// Runs every read of `list` in one read transaction on the stale connection (opened on
    /// first use: in lockstep the open and each statement are steps).
    pub fn read(
        &mut self,
        spec: &Start,
        gate: &Gate,
        list: &mut [ListMop],
    ) -> rusqlite::Result<()> {
        let freeze = self.target.is_some_and(|t| t.freeze);
        if self.conn.is_none() {
            let busy_ms = if spec.is_lockstep() {
                0
            } else {
                spec.sqlite.busy_timeout_ms
            };
            let c = gate.step(
                StepAction::Open,
                || open_read_only(spec, busy_ms, freeze),
                sql_result,
            )?;
            self.conn = Some(c);
        }
        let conn = self.conn.as_ref().expect("opened above");
        gate.step(
            StepAction::BeginDeferred,
            || conn.execute_batch("BEGIN DEFERRED"),
            sql_result,
        )?;
        let read = list_append::read_before_begin(conn, gate, list);
        let end = if read.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = gate.step(
            if read.is_ok() {
                StepAction::Commit
            } else {
                StepAction::Rollback
            },
            || conn.execute_batch(end),
            sql_result,
        );
        read.and(ended)
    }

    /// Closes the stale connection (a step in lockstep, like every close).
    pub fn close(&mut self, gate: &Gate) {
        if let Some(c) = self.conn.take() {
            gate.step(StepAction::Close, || drop(c), |_| StepResult::Ok);
        }
    }
}

/// A read-only connection through the fault VFS (registered: `[io.stale_read]` wants it),
/// frozen or not. Read-only, it can neither write nor checkpoint on close; the database is
/// already in WAL mode (the runner set it up), so no pragma is needed beyond the wait.
fn open_read_only(spec: &Start, busy_ms: u32, freeze: bool) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let vfs = super::vfs::active().unwrap_or("unix");
    let open = || Connection::open_with_flags_and_vfs(&spec.db_path, flags, vfs);
    let conn = if freeze {
        super::vfs::frozen::open(open)?
    } else {
        open()?
    };
    conn.busy_timeout(Duration::from_millis(u64::from(busy_ms)))?;
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )?;
    Ok(conn)
}
