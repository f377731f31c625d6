//! `walburst run SCENARIO --io-sweep sync`: crash at every sync. A first run with the fault
//! VFS counting records how many syncs each worker process made of each file kind; then one
//! run per sync point loses power right after that sync returned (and right before it),
//! each judged by the durability oracle and integrity like any power-loss run. The summary
//! names every point that lost acknowledged commits or damaged the database, with the one
//! `walburst run ... --power-loss-at wW:FILE:N:WHEN` that reproduces it.
//!
//! A point is (worker, file kind, n-th sync of that kind in that process, before|after). In
//! lockstep the scheduler orders every SQL step (connection close and checkpoints included)
//! from the seed, so each process makes the same syncs in the same order on every repeat:
//! a point names the same moment every time, and its run reports the lockstep step it fell
//! in. In free mode the n-th sync of a process is still well defined, but which commit it
//! belongs to depends on the OS's interleaving: a repeat loses power at the same count, not
//! necessarily at the same moment (the summary says `exact: false`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::check::verdict::VerdictKind;
pub use crate::report::sync_sweep::{PointResult, SUMMARY_FORMAT, SyncSweepSummary};
use crate::run::event::{Reporter, RunEvent, Silent};
use crate::run::{RunError, RunRequest, reproduce_command, run};
use crate::scenario::sync_point::{SYNC_FILES, SyncPoint};
use crate::scenario::{IoAction, IoOp, IoWhen, Mode, Overrides, Scenario, ScenarioSource};

/// What a sweep may spend; the summary says when it cut the sweep short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepBudget {
    /// At most this many power-loss runs: with more, evenly spaced points are run (every
    /// k-th, so the cut spans every worker and the whole run, not only its start).
    Runs(u32),
    /// Stop starting runs after this long (points in order).
    Time(Duration),
}

impl SweepBudget {
    pub const DEFAULT_RUNS: u32 = 400;
}

pub struct SyncSweepRequest {
    pub scenario: Scenario,
    pub source: ScenarioSource,
    pub overrides: Overrides,
    pub seed: u64,
    pub mode: Mode,
    pub budget: SweepBudget,
    /// Which sides of each sync lose power: `after`, `before`, or both (after first).
    pub whens: Vec<IoWhen>,
    /// Where the summary goes (`sync-sweep-<scenario>-s<seed>.json`).
    pub out_dir: PathBuf,
    /// Parent of the sweep's own work directory (the system's temporary directory).
    pub work_dir: Option<PathBuf>,
    /// Keep every point's run directory (otherwise the sweep's work directory is removed).
    pub keep: bool,
    pub worker_exe: PathBuf,
}

/// Why a sweep cannot start: its scenario already decides where power is lost.
#[derive(Debug, thiserror::Error)]
pub enum SyncSweepError {
    #[error(
        "{source_name}: the scenario already has a power-loss point ([io] points or --power-loss-at); allowed with --io-sweep: a scenario without one (the sweep places its own)"
    )]
    HasPowerLoss { source_name: String },
    /// Every point run would lose power with the workers' own schema setup in flight (see
    /// `scenario::io_faults::validate`).
    #[error(
        "{source_name}: `[workload] setup = \"race\"`: the workers create the database themselves, so a power loss before their schema commit leaves no database (not damage, but nothing the durability oracle can judge); allowed with --io-sweep: `setup = \"runner\"` (the default)"
    )]
    RaceSetup { source_name: String },
    #[error("cannot create the sweep's work directory in {}", dir.display())]
    WorkDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The recording run could not be carried out at all.
    #[error("the recording run could not be carried out")]
    Recording(#[source] RunError),
    #[error("cannot write the sweep summary {}", path.display())]
    Summary {
        path: PathBuf,
        #[source]
        source: crate::report::WriteError,
    },
}

impl SyncSweepError {
    /// Bad input (exit 2): nothing was run.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            SyncSweepError::HasPowerLoss { .. } | SyncSweepError::RaceSetup { .. }
        )
    }
}

/// Every sync point the recording run's counters list, in (worker, file, n, side) order.
pub fn points_of(
    counters: &std::collections::BTreeMap<u32, crate::observe::io::IoCounts>,
    whens: &[IoWhen],
) -> Vec<SyncPoint> {
    let mut out = Vec::new();
    for (&worker, counts) in counters {
        for file in SYNC_FILES {
            for nth in 1..=counts.get(file, IoOp::Sync) {
                for &when in whens {
                    out.push(SyncPoint {
                        worker,
                        file,
                        nth,
                        when,
                    });
                }
            }
        }
    }
    out
}

/// The runs a budget of `n` runs allows out of `total`: all, or `n` evenly spaced ones.
pub fn evenly(total: usize, n: usize) -> Vec<usize> {
    if n >= total {
        return (0..total).collect();
    }
    (0..n).map(|i| i * total / n).collect()
}

/// Runs the sweep; emits its progress through `reporter` (each point's own run is silent).
pub fn sweep(
    req: &SyncSweepRequest,
    reporter: &mut dyn Reporter,
) -> Result<SyncSweepSummary, SyncSweepError> {
    let started = Instant::now();
    if req
        .scenario
        .io
        .points
        .iter()
        .any(|p| p.action == IoAction::PowerLoss)
    {
        return Err(SyncSweepError::HasPowerLoss {
            source_name: req.source.to_string(),
        });
    }
    if req.scenario.workload.setup == crate::scenario::Setup::Race {
        return Err(SyncSweepError::RaceSetup {
            source_name: req.source.to_string(),
        });
    }
    let parent = req.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let work = std::fs::create_dir_all(&parent)
        .and_then(|_| {
            tempfile::Builder::new()
                .prefix("walburst-sync-sweep-")
                .tempdir_in(&parent)
        })
        .map_err(|source| SyncSweepError::WorkDir {
            dir: parent.clone(),
            source,
        })?;
    let run_req = |scenario: Scenario, overrides: Overrides| RunRequest {
        scenario,
        source: req.source.clone(),
        overrides,
        seed: req.seed,
        out_dir: None,
        keep: req.keep,
        work_dir: Some(work.path().to_path_buf()),
        worker_exe: req.worker_exe.clone(),
        mode: req.mode,
        replay: None,
    };
    // The recording run: the same scenario, the fault VFS only counting.
    let mut counting = req.scenario.clone();
    counting.io.counters = true;
    let recorded = run(&run_req(counting, req.overrides.clone()), &mut Silent)
        .map_err(SyncSweepError::Recording)?
        .report;
    let counters = recorded
        .io
        .as_ref()
        .map(|io| io.counters.clone())
        .unwrap_or_default();
    let all = points_of(&counters, &req.whens);
    let chosen: Vec<SyncPoint> = match req.budget {
        SweepBudget::Runs(n) => evenly(all.len(), n as usize)
            .into_iter()
            .map(|i| all[i])
            .collect(),
        SweepBudget::Time(_) => all.clone(),
    };
    let mut summary = SyncSweepSummary {
        format: SUMMARY_FORMAT.into(),
        scenario: req.scenario.name.clone(),
        seed: req.seed,
        mode: req.mode,
        settings: req.scenario.key_settings(),
        exact: req.mode == Mode::Lockstep,
        recording_verdict: recorded.verdict,
        syncs: syncs_of(&counters),
        sync_points: (all.len() / req.whens.len().max(1)) as u64,
        runs_possible: all.len() as u64,
        runs: 0,
        budget_cut: (chosen.len() < all.len()).then(|| {
            format!(
                "budget of {} runs: every {:.1}th of {} runs",
                chosen.len(),
                all.len() as f64 / chosen.len().max(1) as f64,
                all.len()
            )
        }),
        interrupted: false,
        judged: 0,
        passed: 0,
        failed: 0,
        losing: Vec::new(),
        points: Vec::new(),
        wall_secs: 0.0,
    };
    reporter.event(&RunEvent::SyncSweepRecorded {
        summary: &summary,
        recording: &recorded,
    });
    if recorded.passed() {
        run_points(req, &chosen, &run_req, &started, &mut summary, reporter);
    }
    summary.wall_secs = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    summary.losing = summary
        .points
        .iter()
        .filter(|p| p.losing())
        .cloned()
        .collect();
    if req.keep {
        let _ = work.keep();
    }
    let path = req.out_dir.join(format!(
        "sync-sweep-{}-s{}.json",
        crate::report::file_safe(&summary.scenario),
        req.seed
    ));
    crate::report::write_json_atomic(&path, &summary).map_err(|source| {
        SyncSweepError::Summary {
            path: path.clone(),
            source,
        }
    })?;
    reporter.event(&RunEvent::SyncSweepDone {
        summary: &summary,
        path: &path,
    });
    Ok(summary)
}

fn syncs_of(
    counters: &std::collections::BTreeMap<u32, crate::observe::io::IoCounts>,
) -> std::collections::BTreeMap<u32, std::collections::BTreeMap<String, u64>> {
    counters
        .iter()
        .map(|(&w, c)| {
            let per: std::collections::BTreeMap<String, u64> = SYNC_FILES
                .into_iter()
                .map(|k| (k.name().to_string(), c.get(k, IoOp::Sync)))
                .filter(|(_, n)| *n > 0)
                .collect();
            (w, per)
        })
        .collect()
}

fn run_points(
    req: &SyncSweepRequest,
    chosen: &[SyncPoint],
    run_req: &dyn Fn(Scenario, Overrides) -> RunRequest,
    started: &Instant,
    summary: &mut SyncSweepSummary,
    reporter: &mut dyn Reporter,
) {
    for (i, &point) in chosen.iter().enumerate() {
        if let SweepBudget::Time(limit) = req.budget
            && started.elapsed() >= limit
        {
            summary.budget_cut = Some(format!(
                "time budget of {}: {} of {} runs made",
                humantime::format_duration(limit),
                i,
                chosen.len()
            ));
            break;
        }
        if crate::runner::interrupt::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
            summary.interrupted = true;
            break;
        }
        let overrides = Overrides {
            power_loss_at: Some(point),
            ..req.overrides.clone()
        };
        let mut scenario = req.scenario.clone();
        overrides.apply(&mut scenario);
        let t = Instant::now();
        let result = judge_point(
            point,
            run(&run_req(scenario, overrides.clone()), &mut Silent),
        );
        let result = PointResult {
            secs: (t.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
            reproduce: reproduce_command(&req.source, req.seed, req.mode, &overrides),
            ..result
        };
        summary.runs += 1;
        if result.fired {
            summary.judged += 1;
        }
        if result.passed() {
            summary.passed += 1;
        } else {
            summary.failed += 1;
        }
        reporter.event(&RunEvent::SyncSweepPoint {
            n: i as u64 + 1,
            total: chosen.len() as u64,
            result: &result,
        });
        summary.points.push(result);
    }
}

/// What one point's run showed (its timing and reproduce command are filled in after).
fn judge_point(point: SyncPoint, outcome: Result<crate::run::RunOutcome, RunError>) -> PointResult {
    let mut r = PointResult {
        point,
        step: None,
        seq: None,
        fired: false,
        verdict: None,
        failure: None,
        acknowledged: 0,
        lost: 0,
        torn: 0,
        damaged: false,
        damage: None,
        reproduce: String::new(),
        secs: 0.0,
        error: None,
    };
    let report = match outcome {
        Ok(o) => o.report,
        Err(e) => {
            r.error = Some(crate::error::Chain(&e).to_string());
            return r;
        }
    };
    r.verdict = Some(report.verdict);
    r.failure = (report.verdict != VerdictKind::Pass)
        .then(|| report.primary().map(|f| f.to_string()))
        .flatten();
    if let Some(io) = &report.io {
        if let Some(f) = io.fired.iter().find(|f| f.action == IoAction::PowerLoss) {
            r.fired = io.power_loss.is_some();
            r.step = f.step;
            r.seq = f.seq;
        }
        if let Some(d) = &io.durability {
            r.acknowledged = d.acknowledged;
            r.lost = d.lost;
            r.torn = d.torn;
        }
    }
    let c = &report.checks;
    let damage = [
        (c.integrity_check != "ok").then(|| format!("integrity_check: {}", c.integrity_check)),
        (c.quick_check != "ok").then(|| format!("quick_check: {}", c.quick_check)),
        c.ledger_error.as_ref().map(|e| format!("ledger: {e}")),
    ];
    r.damage = damage.into_iter().flatten().next();
    r.damaged = r.damage.is_some();
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_of_runs_takes_evenly_spaced_ones_across_the_whole_list() {
        assert_eq!(evenly(3, 10), vec![0, 1, 2]);
        assert_eq!(evenly(10, 4), vec![0, 2, 5, 7]);
        assert_eq!(evenly(10, 0), Vec::<usize>::new());
    }
}
