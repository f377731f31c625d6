//! Aggregates over op records: totals, latency percentiles, per-worker spread, busy codes.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::{Observations, OpRecord, Outcome};
use crate::plan::Plan;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Ops planned.
    pub planned: u64,
    /// Write transactions planned (ops other than checkpoints).
    pub planned_writes: u64,
    /// Ops that reported an outcome.
    pub ops: u64,
    pub committed: u64,
    pub rolled_back: u64,
    pub failed: u64,
    pub ambiguous: u64,
    /// Checkpoints and other non-transactional ops.
    pub done: u64,
    pub busy_retries: u64,
    pub commits_per_sec: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PerWorker {
    pub worker: u32,
    pub ops: u64,
    pub committed: u64,
    pub rolled_back: u64,
    pub failed: u64,
    pub ambiguous: u64,
    pub busy_retries: u64,
    /// Milliseconds after the start barrier at which the worker's last op ended.
    pub finished_at_ms: f64,
    pub commits_per_sec: f64,
    pub latency_ms: LatencySummary,
    pub lock_wait_ms_total: f64,
    /// Time its BEGIN IMMEDIATEs spent in SQLite's busy handler, waiting for the write lock.
    pub begin_wait_ms_total: f64,
}

/// BUSY/LOCKED by extended code.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BusySummary {
    /// Every BUSY/LOCKED seen, by code.
    pub by_code: BTreeMap<String, u64>,
    /// Of those, how many the harness retried.
    pub retried: u64,
    /// Ops that met BUSY and still committed.
    pub ops_recovered: u64,
    /// Ops that ended failed because BUSY outlived busy_timeout and retries.
    pub ops_exhausted: u64,
}

fn latency(records: impl Iterator<Item = u64>) -> LatencySummary {
    let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("histogram bounds");
    let mut any = false;
    for us in records {
        h.saturating_record(us.max(1));
        any = true;
    }
    if !any {
        return LatencySummary::default();
    }
    let ms = |v: u64| (v as f64 / 1000.0 * 1000.0).round() / 1000.0;
    LatencySummary {
        p50: ms(h.value_at_quantile(0.50)),
        p95: ms(h.value_at_quantile(0.95)),
        p99: ms(h.value_at_quantile(0.99)),
        max: ms(h.max()),
    }
}

fn per_sec(n: u64, ns: u64) -> f64 {
    if ns == 0 {
        return 0.0;
    }
    let v = n as f64 / (ns as f64 / 1e9);
    (v * 10.0).round() / 10.0
}

fn is_commit_latency(r: &OpRecord) -> bool {
    r.outcome == Outcome::Committed
}

pub fn summarize(
    obs: &Observations,
    plan: &Plan,
) -> (Totals, LatencySummary, Vec<PerWorker>, BusySummary) {
    let wall_ns = obs.t_end_ns.saturating_sub(obs.t_go_ns);
    let workers = plan.workers.len() as u32;
    let all_ops = || plan.workers.iter().flat_map(|w| w.ops.iter());
    let mut t = Totals {
        planned: all_ops().count() as u64,
        planned_writes: all_ops().filter(|op| op.kind.is_write()).count() as u64,
        ..Totals::default()
    };
    let mut busy = BusySummary::default();
    for r in &obs.records {
        t.ops += 1;
        match r.outcome {
            Outcome::Committed => t.committed += 1,
            Outcome::RolledBack => t.rolled_back += 1,
            Outcome::Failed => t.failed += 1,
            Outcome::Ambiguous => t.ambiguous += 1,
            Outcome::Done => t.done += 1,
        }
        for b in &r.busy {
            *busy.by_code.entry(b.code.clone()).or_default() += 1;
            if b.retried {
                busy.retried += 1;
                t.busy_retries += 1;
            }
        }
        if !r.busy.is_empty() {
            match r.outcome {
                Outcome::Committed => busy.ops_recovered += 1,
                Outcome::Failed if r.error.as_ref().is_some_and(|e| e.is_busy()) => {
                    busy.ops_exhausted += 1
                }
                _ => {}
            }
        }
    }
    t.commits_per_sec = per_sec(t.committed, wall_ns);
    let lat = latency(
        obs.records
            .iter()
            .filter(|r| is_commit_latency(r))
            .map(|r| r.latency_us),
    );
    let per_worker = (0..workers)
        .map(|w| {
            let mine: Vec<&OpRecord> = obs.records.iter().filter(|r| r.worker == w).collect();
            let count = |o: Outcome| mine.iter().filter(|r| r.outcome == o).count() as u64;
            let last_end = mine.iter().map(|r| r.t_end_ns).max().unwrap_or(obs.t_go_ns);
            let active_ns = last_end.saturating_sub(obs.t_go_ns);
            let committed = count(Outcome::Committed);
            PerWorker {
                worker: w,
                ops: mine.len() as u64,
                committed,
                rolled_back: count(Outcome::RolledBack),
                failed: count(Outcome::Failed),
                ambiguous: count(Outcome::Ambiguous),
                busy_retries: mine
                    .iter()
                    .map(|r| r.busy.iter().filter(|b| b.retried).count() as u64)
                    .sum(),
                finished_at_ms: (active_ns as f64 / 1e5).round() / 10.0,
                commits_per_sec: per_sec(committed, active_ns),
                latency_ms: latency(
                    mine.iter()
                        .filter(|r| is_commit_latency(r))
                        .map(|r| r.latency_us),
                ),
                lock_wait_ms_total: (mine.iter().map(|r| r.lock_wait_us).sum::<u64>() as f64
                    / 100.0)
                    .round()
                    / 10.0,
                begin_wait_ms_total: (mine.iter().map(|r| r.begin_wait_us).sum::<u64>() as f64
                    / 100.0)
                    .round()
                    / 10.0,
            }
        })
        .collect();
    (t, lat, per_worker, busy)
}
