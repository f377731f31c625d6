//! The summary of a sync sweep (`walburst run SCENARIO --io-sweep sync`, `io_sweep`), format
//! `walburst-sync-sweep/1`: each sync point's run, and the points that lost acknowledged
//! commits or damaged the database. Here, below `run`, so its progress events can carry it.

use serde::{Deserialize, Serialize};

use crate::check::verdict::VerdictKind;
use crate::scenario::Mode;
use crate::scenario::sync_point::SyncPoint;

/// How one point's run came out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointResult {
    pub point: SyncPoint,
    /// Lockstep: the step in flight when power was lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<u64>,
    /// The schedule's op of the worker when power was lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u32>,
    /// The point was reached and power was lost (otherwise nothing was judged).
    pub fired: bool,
    /// The run's verdict; `None`: the run could not be carried out (`error`).
    pub verdict: Option<VerdictKind>,
    /// The run's primary failure, when it did not pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    pub acknowledged: u64,
    /// Acknowledged commits lost, and torn (part of a commit survived).
    pub lost: u64,
    pub torn: u64,
    /// integrity_check (or quick_check) not ok after recovery, or the ledger unreadable.
    pub damaged: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub damage: Option<String>,
    pub reproduce: String,
    pub secs: f64,
    /// The run could not be carried out (no report): why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl PointResult {
    /// Lost or tore acknowledged commits, or left the database damaged.
    pub fn losing(&self) -> bool {
        self.lost > 0 || self.torn > 0 || self.damaged
    }

    pub fn passed(&self) -> bool {
        self.verdict == Some(VerdictKind::Pass)
    }
}

/// The JSON summary, format `walburst-sync-sweep/1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncSweepSummary {
    pub format: String,
    pub scenario: String,
    pub seed: u64,
    pub mode: Mode,
    pub settings: String,
    /// Whether a point names the same moment on every repeat (lockstep).
    pub exact: bool,
    /// The recording run's verdict, and its syncs per worker and file kind.
    pub recording_verdict: VerdictKind,
    pub syncs: std::collections::BTreeMap<u32, std::collections::BTreeMap<String, u64>>,
    /// Sync points found (each with `whens.len()` sides), runs that budget allowed, runs made.
    pub sync_points: u64,
    pub runs_possible: u64,
    pub runs: u64,
    /// How the budget cut the sweep, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_cut: Option<String>,
    pub interrupted: bool,
    pub judged: u64,
    pub passed: u64,
    pub failed: u64,
    pub losing: Vec<PointResult>,
    pub points: Vec<PointResult>,
    pub wall_secs: f64,
}

pub const SUMMARY_FORMAT: &str = "walburst-sync-sweep/1";

impl SyncSweepSummary {
    /// Every run passed and at least one point was judged.
    pub fn passed(&self) -> bool {
        self.recording_verdict == VerdictKind::Pass && self.judged > 0 && self.failed == 0
    }
}
