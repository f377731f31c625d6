//! `compare.json`: the report of a comparison and the summary of each run in it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::observe::LatencySummary;
use crate::report::Report;
use crate::scenario::ScenarioSource;

use super::StrategySummary;
use super::stats::round3;

/// How one run of a comparison ended: `pass`, `fail`, or `error` (it could not be carried
/// out, so it has no verdict of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunVerdict {
    Pass,
    Fail,
    Error,
}

impl RunVerdict {
    pub fn name(self) -> &'static str {
        match self {
            RunVerdict::Pass => "pass",
            RunVerdict::Fail => "fail",
            RunVerdict::Error => "error",
        }
    }
}

/// One run of one strategy, reduced to what the comparison shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// 1-based position in the whole comparison (the order runs happened in).
    pub run: u32,
    /// 1-based repeat, and the strategy's 1-based position within it.
    pub repeat: u32,
    pub position: u32,
    pub strategy: String,
    pub workers: u32,
    pub ops_per_worker: u32,
    pub seed: u64,
    pub verdict: RunVerdict,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_hash: Option<String>,
    pub wall_secs: f64,
    pub planned_writes: u64,
    pub committed: u64,
    pub commits_per_sec: f64,
    /// Commit latency (committed ops), milliseconds.
    pub latency_ms: LatencySummary,
    /// Time spent waiting for the global flock, summed over workers, per committed op.
    pub lock_wait_ms_per_commit: f64,
    /// Time BEGIN IMMEDIATE spent in SQLite's busy handler, summed over workers, per
    /// committed op: WAL's own lock wait, which the flock wait above does not see.
    #[serde(default)]
    pub begin_wait_ms_per_commit: f64,
    /// Every "database is locked" seen (all codes), and how many the strategy retried.
    pub busy_events: u64,
    pub busy_retries: u64,
    /// Fairness: when the first and the last worker finished, ms after the start barrier.
    pub first_worker_done_ms: f64,
    pub last_worker_done_ms: f64,
    /// Fairness: the slowest and fastest worker's own commits/s.
    pub worker_commits_per_sec_min: f64,
    pub worker_commits_per_sec_max: f64,
    pub false_corruption: u64,
    pub real_corruption: u64,
    pub sidecar_seen: bool,
    pub integrity_ok: bool,
    /// After a power loss (`[io]`): acknowledged commits, and how many of them were lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_loss_acknowledged_lost: Option<[u64; 2]>,
    /// The run's full report (in the compare directory's `runs/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<PathBuf>,
    /// The run's own page (beside its report), with its timeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_dir: Option<PathBuf>,
}

impl RunSummary {
    pub(super) fn carried_out(&self) -> bool {
        self.verdict != RunVerdict::Error
    }

    pub(super) fn from_report(base: RunSummary, r: &Report) -> RunSummary {
        let pw = &r.per_worker;
        let fold = |f: fn(&crate::observe::PerWorker) -> f64, pick: fn(f64, f64) -> f64| {
            pw.iter().map(f).reduce(pick).unwrap_or(0.0)
        };
        let committed = r.totals.committed;
        let lock_wait_ms: f64 = pw.iter().map(|w| w.lock_wait_ms_total).sum();
        let begin_wait_ms: f64 = pw.iter().map(|w| w.begin_wait_ms_total).sum();
        let per_commit = |ms: f64| {
            if committed == 0 {
                0.0
            } else {
                round3(ms / committed as f64)
            }
        };
        RunSummary {
            verdict: if r.passed() {
                RunVerdict::Pass
            } else {
                RunVerdict::Fail
            },
            failures: r
                .failures
                .iter()
                .chain(r.liveness.iter())
                .map(|f| f.to_string())
                .collect(),
            schedule_hash: Some(r.schedule_hash.clone()),
            wall_secs: r.wall_secs,
            planned_writes: r.totals.planned_writes,
            committed,
            commits_per_sec: r.totals.commits_per_sec,
            latency_ms: r.latency_ms.clone(),
            lock_wait_ms_per_commit: per_commit(lock_wait_ms),
            begin_wait_ms_per_commit: per_commit(begin_wait_ms),
            busy_events: r.busy.by_code.values().sum(),
            busy_retries: r.totals.busy_retries,
            first_worker_done_ms: fold(|w| w.finished_at_ms, f64::min),
            last_worker_done_ms: fold(|w| w.finished_at_ms, f64::max),
            worker_commits_per_sec_min: fold(|w| w.commits_per_sec, f64::min),
            worker_commits_per_sec_max: fold(|w| w.commits_per_sec, f64::max),
            false_corruption: r.corruption.false_reports,
            real_corruption: r.corruption.real,
            sidecar_seen: r.checks.sidecar_seen,
            integrity_ok: r.checks.integrity_ok(),
            power_loss_acknowledged_lost: r
                .io
                .as_ref()
                .and_then(|io| io.durability.as_ref())
                .map(|d| [d.acknowledged, d.lost]),
            run_dir: r.run_dir.clone(),
            ..base
        }
    }
}

/// A strategy as this comparison ran it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategyInfo {
    pub name: String,
    pub summary: String,
    /// The scenario file the strategy's runs used (what their `reproduce` commands name).
    pub scenario_file: PathBuf,
}

/// One worker count of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub workers: u32,
    pub ops_per_worker: u32,
    /// The schedule every strategy ran (identical by construction; checked).
    pub schedule_hash: Option<String>,
    pub same_schedule: bool,
}

/// `compare.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareReport {
    pub compare_version: u32,
    pub walburst_version: String,
    pub sqlite_version: String,
    pub scenario: String,
    pub scenario_source: ScenarioSource,
    pub seed: u64,
    pub journal_mode: String,
    pub synchronous: String,
    pub repeat: u32,
    /// How runs were ordered.
    pub order: String,
    pub strategies: Vec<StrategyInfo>,
    pub groups: Vec<Group>,
    pub notes: Vec<String>,
    pub started_at: String,
    pub finished_at: String,
    /// Every run in the order it happened.
    pub runs: Vec<RunSummary>,
    /// Per (workers, strategy), workers ascending, strategies in the order given.
    pub summary: Vec<StrategySummary>,
    /// Every run was carried out and passed.
    pub passed: bool,
    pub chart: String,
}
