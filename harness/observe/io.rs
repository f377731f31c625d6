//! What the fault VFS observed (`[io]` scenarios): calls counted per file kind, the fault
//! points that fired, the stalls, and whether power was lost.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::scenario::{FileKind, IoAction, IoOp, IoPhase};

/// One worker process's counts: file kind -> op -> calls (kinds and ops never called are
/// left out). `in_checkpoint` holds the part of `total` made between
/// `SQLITE_FCNTL_CKPT_START` and `SQLITE_FCNTL_CKPT_DONE`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoCounts {
    pub total: BTreeMap<String, BTreeMap<String, u64>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub in_checkpoint: BTreeMap<String, BTreeMap<String, u64>>,
}

impl IoCounts {
    /// Calls of `op` on `kind`, in total.
    pub fn get(&self, kind: FileKind, op: IoOp) -> u64 {
        self.total
            .get(kind.name())
            .and_then(|m| m.get(op.name()))
            .copied()
            .unwrap_or(0)
    }

    /// Adds another worker's (or incarnation's) counts.
    pub fn add(&mut self, other: &IoCounts) {
        for (mine, theirs) in [
            (&mut self.total, &other.total),
            (&mut self.in_checkpoint, &other.in_checkpoint),
        ] {
            for (k, ops) in theirs {
                let m = mine.entry(k.clone()).or_default();
                for (op, n) in ops {
                    *m.entry(op.clone()).or_default() += n;
                }
            }
        }
    }
}

/// A point that fired, as the worker announced it (and the runner completed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiredPoint {
    /// Index in `io.points`.
    pub point: u32,
    pub file: FileKind,
    pub op: IoOp,
    pub phase: IoPhase,
    /// The occurrence that fired (drawn from the seed when `nth` is a range).
    pub nth: u64,
    pub action: IoAction,
    pub worker: u32,
    pub pid: u32,
    /// The connection and op of the schedule that made the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u32>,
    /// Whether SQLite was copying checkpoint pages at the time.
    pub in_checkpoint: bool,
    /// Lockstep: the step in flight when it fired (set by the runner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u64>,
    /// CLOCK_MONOTONIC ns, and the size of `-wal` then (stat by path, no descriptor).
    pub t_ns: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wal_bytes: Option<u64>,
}

/// A `stop` point's stall: what the rest of the run did meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StallReport {
    pub worker: u32,
    pub point: u32,
    pub stop_ms: u32,
    /// Commits of other workers that ended while this one stalled.
    pub commits_by_others: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wal_bytes_before: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wal_bytes_after: Option<u64>,
    /// Another worker still ended an op after the stall: it had work it could have done.
    pub others_active_after: bool,
}

/// What the runner collected from the fault VFS of every worker.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IoObserved {
    pub fired: Vec<FiredPoint>,
    /// (worker, point, t_ns, wal bytes) when a stall ended.
    pub resumed: Vec<(u32, u32, u64, Option<u64>)>,
    /// Per worker, summed over its incarnations that reported.
    pub counters: BTreeMap<u32, IoCounts>,
    /// A power-loss point fired and the runner cut every worker.
    pub power_lost: bool,
}

/// What power loss undid in one file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileUndo {
    /// Logged changes to the file (writes, truncates, creation, unlink).
    pub changes: u64,
    /// Whether any sync of the file completed (everything before its start is durable).
    pub synced: bool,
    pub writes_undone: u64,
    pub bytes_restored: u64,
    pub truncates_undone: u64,
    pub creation_undone: bool,
    pub unlinks_undone: u64,
}

/// What the power loss did to the files, for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PowerLossReport {
    pub log_records: u64,
    pub log_bytes: u64,
    /// The log ended inside a record (a worker died appending): that record was ignored.
    pub log_torn_tail: bool,
    /// By file name.
    pub files: BTreeMap<String, FileUndo>,
    pub shm_discarded: bool,
    /// `[io.device]` without atomic writes: how the unsynced writes' sectors came apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tearing: Option<TearReport>,
}

/// What tearing did to the sectors of unsynced writes (each a seeded choice).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TearReport {
    pub sector_size: u64,
    /// Whether a torn sector could come back garbled whole (no power-safe overwrite).
    pub garble: bool,
    /// The write's new bytes survived in the sector.
    pub sectors_kept: u64,
    /// The sector's old bytes came back.
    pub sectors_restored: u64,
    /// The whole sector came back as garbage, bytes outside the write included.
    pub sectors_garbled: u64,
}

impl PowerLossReport {
    /// Writes undone over every file.
    pub fn writes_undone(&self) -> u64 {
        self.files.values().map(|f| f.writes_undone).sum()
    }
}
