//! The list-append read-modify-write (`list_write = "rewrite"` and its control
//! `rewrite-stale-retry`): a deferred transaction reads every list it touches, then writes
//! each back whole with its values appended. The two differ only in the retry after the
//! write is turned away (busy, or `SQLITE_BUSY_SNAPSHOT` once another write committed since
//! the read): `rewrite` runs the whole transaction again, reads included; the control
//! retries the write alone with the lists read before, overwriting what committed
//! meanwhile (a lost update, which the isolation checker must name).

use rusqlite::Connection;

use super::Actor;
use crate::observe::OpRecord;
use crate::observe::SqlError;
use crate::observe::clock::monotonic_ns;
use crate::observe::step::StepAction;
use crate::protocol::WorkerOp;
use crate::scenario::ListWrite;
use crate::worker::gate::{Gate, sql_result};
use crate::workload::kanban::Applied;
use crate::workload::list_rewrite;

fn begin(gate: &Gate, conn: &Connection) -> rusqlite::Result<()> {
    gate.step(
        StepAction::BeginDeferred,
        || conn.execute_batch("BEGIN DEFERRED"),
        sql_result,
    )
}

impl Actor<'_> {
    /// Reads every list the op touches inside the open deferred transaction; the record's
    /// micro-ops become those reads and the op's appends.
    fn rewrite_reads(
        &self,
        conn: &Connection,
        op: &WorkerOp,
        rec: &mut OpRecord,
    ) -> rusqlite::Result<Vec<(u64, Vec<u64>)>> {
        let mut read = Vec::new();
        for key in list_rewrite::keys(&op.list) {
            read.push((key, list_rewrite::read(conn, &self.gate, key)?));
        }
        rec.list = list_rewrite::record(&read, &op.list);
        Ok(read)
    }

    /// The transaction up to its COMMIT; `None` when it ended before (error recorded, rolled
    /// back). Its write-lock interval starts when the write returns (a deferred transaction
    /// takes the lock there), so write exclusion judges it truly.
    pub(super) fn rewrite_lists(
        &mut self,
        conn: &Connection,
        op: &WorkerOp,
        rec: &mut OpRecord,
    ) -> Option<Applied> {
        let stale = self.spec.workload.list_write == ListWrite::RewriteStaleRetry;
        let t_begin = monotonic_ns();
        let mut attempt = 0;
        let mut read = None;
        if let Err(e) = begin(&self.gate, conn) {
            rec.error = Some(SqlError::from_rusqlite(&e));
            return None;
        }
        loop {
            let lists = match read.take() {
                Some(lists) => Ok(lists),
                None => self.rewrite_reads(conn, op, rec),
            };
            let written = lists.and_then(|lists| {
                let w = list_rewrite::write(conn, &self.gate, self.worker, op, &lists);
                // The control keeps what it read for its retry; the correct shape drops it.
                if stale {
                    read = Some(lists);
                }
                w
            });
            let err = match written {
                Ok((event_id, locked)) => {
                    rec.t_begin_ok_ns = Some(locked);
                    rec.begin_wait_us = locked.saturating_sub(t_begin) / 1000;
                    return Some(Applied::Wrote {
                        event_id,
                        task_id: None,
                    });
                }
                Err(e) => SqlError::from_rusqlite(&e),
            };
            if !(err.is_busy() && self.retry_after_busy(rec, &err, "write", attempt)) {
                rec.error = Some(err);
                let _ = self.rollback(conn, rec);
                return None;
            }
            attempt += 1;
            // A new snapshot: turned away at its first write, it held no write lock.
            if !self.restart_unwritten(conn, rec, || begin(&self.gate, conn)) {
                return None;
            }
        }
    }
}
