//! `[io.stale_read]`: one worker's read-only list-append transactions read through a
//! wal-index frozen in the past (issue 24 item 5). What a broken `-shm` coordination (the
//! lock hazard, the WAL-reset bug) does to a reader is serve it an old snapshot after a newer
//! commit was acknowledged; this fault does exactly that and nothing else, so the isolation
//! checker's real-time edges must name it.
//!
//! The smallest honest fault: the chosen worker opens one extra connection, read-only, whose
//! `xShmMap` the fault VFS answers with a private copy of each wal-index region taken when the
//! connection first maps it (`worker/vfs/frozen.rs`). Its read transactions then find the
//! header, `mxFrame` and hash tables as they were then, and read those frames from the real
//! WAL: a consistent, old snapshot. Only that worker's transactions that append nothing (every
//! micro-op a read) run their reads there, in one `BEGIN DEFERRED` transaction; the rest of
//! each (its ledger row) commits on the worker's own connection as usual. The database is not
//! harmed: the frozen connection is read-only (it cannot write, nor checkpoint on close), and
//! with `wal_autocheckpoint = 0` and no checkpoint ops nothing overwrites the frames it still
//! sees (a checkpoint that trusted the real read marks could backfill past its snapshot into
//! the database file, or restart the WAL under it: garbage, a different failure).

use serde::{Deserialize, Serialize};

use super::{Invalid, JournalMode, ListReads, Nth, Profile, Scenario};

/// The fault and its knobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaleRead {
    /// The worker whose read-only transactions read stale; absent: drawn from the run's seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<u32>,
    /// From which of its ops (seq) on: `n`, or `[lo, hi]` drawn from the run's seed. The
    /// snapshot is frozen at the first read-only transaction from there.
    pub from_seq: Nth,
    /// `false`: the same routing through a read-only connection that reads the live
    /// wal-index (the fault's control, which must pass).
    #[serde(default = "yes")]
    pub freeze: bool,
}

fn yes() -> bool {
    true
}

/// Which worker reads stale, and from which seq: a function of the seed alone
/// (`plan::list_append::stale_target`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaleTarget {
    pub worker: u32,
    pub from_seq: u32,
    pub freeze: bool,
}

/// Refused (exit 2) wherever the fault cannot be what it says: a stale snapshot served to
/// read-only list-append transactions, with nothing able to overwrite the frames it sees.
pub fn validate(s: &Scenario) -> Result<(), Invalid> {
    let Some(st) = &s.io.stale_read else {
        return Ok(());
    };
    let need = |what: &str, allowed: &str| -> Result<(), Invalid> {
        Err(Invalid::field(
            what.to_string(),
            format!("cannot be combined with [io.stale_read]; allowed: {allowed}"),
        ))
    };
    if s.worker.is_some() {
        return Err(Invalid::table(
            "io.stale_read",
            "reads through the built-in worker's frozen connection; leave out [worker]",
        ));
    }
    if s.workload.profile != Profile::ListAppend {
        return need(
            "workload.profile",
            "\"list-append\" (its read-only transactions are what reads stale)",
        );
    }
    if s.workload.list_reads != ListReads::InTransaction {
        return need("workload.list_reads", "\"in-transaction\"");
    }
    if s.sqlite.journal_mode != JournalMode::Wal {
        return need(
            "sqlite.journal_mode",
            "\"wal\" (the stale snapshot is an old wal-index; a rollback journal has none)",
        );
    }
    if s.sqlite.wal_autocheckpoint != 0 {
        return need(
            "sqlite.wal_autocheckpoint",
            "0 (a checkpoint would backfill or restart the WAL under the frozen snapshot: garbage, not a stale read)",
        );
    }
    let [lo, hi] = st.from_seq.bounds();
    if lo > hi || hi >= u64::from(s.workload.ops_per_worker) {
        return Err(Invalid::range(
            "io.stale_read.from_seq",
            format!("[{lo}, {hi}]"),
            format!(
                "n or [lo, hi] with lo <= hi < workload.ops_per_worker ({})",
                s.workload.ops_per_worker
            ),
        ));
    }
    if let Some(w) = st.worker.filter(|&w| w >= s.workload.workers) {
        return Err(Invalid::range(
            "io.stale_read.worker",
            w,
            format!("0..{}", s.workload.workers),
        ));
    }
    Ok(())
}
