//! The reader role (`workload.readers`): a `read_snapshot` op is one read transaction that
//! reads the board [`READS_PER_SNAPSHOT`] times, holding its snapshot open in between while
//! the writers commit. In free mode it sleeps a seeded time between reads; in lockstep each
//! read is a step, so the scheduler places other actors' commits between them. Its record
//! carries every read for `check::snapshot`, which fails the run when two reads of one
//! snapshot differ (SQLite's threadtest3 calls it "Isolation failure").

use std::time::Duration;

use rand::RngExt;
use rusqlite::Connection;

use super::gate::{Gate, sql_result};
use crate::observe::step::StepAction;
use crate::observe::{OpRecord, Outcome, SqlError};
use crate::plan::stream;
use crate::protocol::{Start, WorkerOp};
use crate::scenario::{READS_PER_SNAPSHOT, ReaderTxn};
use crate::workload::reads::read_board;

/// How long the reader holds its snapshot before read `index` (free mode): a function of
/// (seed, worker, seq, index) alone, within `reader_hold_ms`.
pub fn hold(spec: &Start, worker: u32, seq: u32, index: u32) -> Duration {
    let [lo, hi] = spec.workload.reader_hold_ms;
    let mut rng = stream(
        spec.seed,
        "reader-hold",
        u64::from(worker),
        u64::from(seq) * 16 + u64::from(index),
    );
    Duration::from_millis(u64::from(rng.random_range(lo..=hi)))
}

/// Runs one `read_snapshot` op on `conn`: BEGIN DEFERRED, the reads, COMMIT. The deliberately
/// broken `restart-between-reads` reader commits and begins again before every read after the
/// first, yet reports all its reads as one transaction.
pub fn read_snapshot(
    spec: &Start,
    gate: &Gate,
    conn: &Connection,
    op: &WorkerOp,
    rec: &mut OpRecord,
) {
    let begin = || {
        gate.step(
            StepAction::BeginDeferred,
            || conn.execute_batch("BEGIN DEFERRED"),
            sql_result,
        )
    };
    let commit = || {
        gate.step(
            StepAction::Commit,
            || conn.execute_batch("COMMIT"),
            sql_result,
        )
    };
    let restart = spec.workload.reader_txn == ReaderTxn::RestartBetweenReads;
    let mut body = || -> rusqlite::Result<()> {
        begin()?;
        for index in 0..READS_PER_SNAPSHOT {
            if index > 0 {
                if !gate.is_lockstep() {
                    std::thread::sleep(hold(spec, rec.worker, op.seq, index));
                }
                if restart {
                    commit()?;
                    begin()?;
                }
            }
            rec.reads.push(read_board(conn, gate)?);
        }
        commit()
    };
    match body() {
        Ok(()) => rec.outcome = Outcome::Done,
        Err(e) => {
            rec.outcome = Outcome::Failed;
            rec.error = Some(SqlError::from_rusqlite(&e));
            if !conn.is_autocommit() {
                let _ = gate.step(
                    StepAction::Rollback,
                    || conn.execute_batch("ROLLBACK"),
                    sql_result,
                );
            }
        }
    }
}
