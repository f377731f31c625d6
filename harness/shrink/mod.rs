//! `walburst shrink`: from a failing (scenario, seed) to the smallest run that fails for the
//! same reason.
//!
//! # Why a deterministic greedy search, not proptest value trees
//!
//! In lockstep a run is a deterministic function of (scenario, seed), so shrinking is sound;
//! but every trial is a real multi-process run costing from a tenth of a second to tens of
//! seconds. proptest's value trees shrink one composite value by `simplify`/`complicate`
//! with no notion of a run or time budget and an order fixed by the tree's structure; here
//! the order matters for cost (shrink ops and workers first, so every later trial is cheap)
//! and the budget must be honoured between runs. So the search is a per-dimension
//! delta-debugging loop ([`search`]): for each dimension (ops per worker, workers,
//! connections, idle connections, kills, each op kind's weight, payload sizes) try its floor,
//! then binary-search between the largest value that did not reproduce and the smallest that
//! did; repeat passes until one changes nothing. The result is 1-minimal per dimension
//! (lowering any one dimension by the searched step no longer reproduces), and the same input
//! always gives the same sequence of trials, hence the same result.
//!
//! The plan is a function of (scenario, seed): fewer workers or ops is a different schedule.
//! The seed stays fixed; when a candidate does not reproduce with the current seed, up to
//! `reseeds` seeds derived from the original one (through `plan::stream`) are tried before it
//! is rejected. A candidate is accepted only if its lockstep run fails with the same
//! [`signature::Signature`] as the original.
//!
//! Not done: shrinking the recorded lockstep trace itself (dropping steps); the scheduler's
//! replay needs every recorded choice to name an actor that is waiting, so a shortened trace
//! is a different run, and the seeded scheduler already gives small traces once the scenario
//! is small.

pub mod dims;
pub mod output;
pub mod search;
pub mod signature;
pub mod trial;

use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};

pub use search::{Budget, Stop};
pub use signature::Signature;

use crate::run::event::{Reporter, RunEvent};
use crate::scenario::{Scenario, ScenarioSource};
use dims::Size;
use search::{Best, Search, derived_seed};
use trial::{TrialRecord, Trials};

/// What to shrink.
#[derive(Debug, Clone)]
pub struct ShrinkInput {
    pub scenario: Scenario,
    pub source: ScenarioSource,
    pub seed: u64,
    /// The failure to keep, when the input is a report (its signature). `None`: whatever
    /// the first lockstep run of (scenario, seed) fails with.
    pub expected: Option<Signature>,
}

pub struct ShrinkOptions {
    pub budget: Budget,
    /// Where the minimal scenario, its trace and the summary go.
    pub out_dir: PathBuf,
    pub worker_exe: PathBuf,
}

/// What a shrink found (the JSON summary, format `walburst-shrink/1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShrinkSummary {
    pub format: String,
    pub scenario: String,
    pub source: String,
    pub seed: u64,
    /// The failure every accepted run showed; `None` when the input did not reproduce.
    pub signature: Option<Signature>,
    pub reproduced: bool,
    pub before: Option<Size>,
    pub after: Option<Size>,
    /// The minimal run's seed (differs from `seed` only when a derived seed was needed).
    pub min_seed: Option<u64>,
    pub scenario_file: Option<PathBuf>,
    pub trace_file: Option<PathBuf>,
    /// The confirmation run's kept directory (database, records, trace).
    pub run_dir: Option<PathBuf>,
    pub reproduce: Option<String>,
    /// The minimal scenario, loaded from its file, failed again with the same signature.
    pub confirmed: bool,
    pub stop: Option<Stop>,
    pub runs: u32,
    pub accepted: u32,
    pub wall_secs: f64,
    pub trials: Vec<TrialRecord>,
}

pub const SUMMARY_FORMAT: &str = "walburst-shrink/1";

/// `<name>-s<seed>`: the stem of every file a shrink writes.
pub fn stem(s: &Scenario, seed: u64) -> String {
    let safe: String = s
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}-s{seed}")
}

/// The scenario every trial starts from: the input under a `-min` name, seeds = [seed].
fn starting_point(input: &ShrinkInput) -> Scenario {
    let mut s = input.scenario.clone();
    s.matrix = None;
    if !s.name.ends_with("-min") {
        s.name = format!("{}-min", s.name);
    }
    s.seeds = vec![input.seed];
    s
}

/// Shrinks `input`; the summary says what was found. Errors only when nothing could run.
pub fn shrink(
    input: &ShrinkInput,
    opts: &ShrinkOptions,
    reporter: &mut dyn Reporter,
) -> anyhow::Result<(ShrinkSummary, Option<Best>)> {
    let started = Instant::now();
    let start = starting_point(input);
    let work_dir = opts
        .out_dir
        .join(format!("{}.work", stem(&input.scenario, input.seed)));
    std::fs::create_dir_all(&work_dir)?;
    let mut trials = Trials {
        worker_exe: opts.worker_exe.clone(),
        work_dir,
        reporter,
        runs: 0,
        started,
    };
    let mut summary = ShrinkSummary {
        format: SUMMARY_FORMAT.into(),
        scenario: input.scenario.name.clone(),
        source: input.source.as_arg(),
        seed: input.seed,
        signature: None,
        reproduced: false,
        before: None,
        after: None,
        min_seed: None,
        scenario_file: None,
        trace_file: None,
        run_dir: None,
        reproduce: None,
        confirmed: false,
        stop: None,
        runs: 0,
        accepted: 0,
        wall_secs: 0.0,
        trials: Vec::new(),
    };
    // The original, in lockstep: the failure to keep, with the seed or a derived one.
    let mut origin = None;
    let seeds = std::iter::once(input.seed)
        .chain((0..opts.budget.reseeds).map(|i| derived_seed(input.seed, i)));
    for seed in seeds {
        let t = trials.run(&start, seed);
        let steps = t
            .report
            .as_ref()
            .and_then(|r| r.lockstep.as_ref())
            .map_or(0, |l| l.steps);
        let wanted = match (&input.expected, &t.signature) {
            (Some(e), Some(s)) => e == s,
            (None, Some(_)) => true,
            _ => false,
        };
        trials.reporter.event(&RunEvent::ShrinkOriginal {
            run: trials.runs,
            seed,
            signature: t.signature.as_ref().map(ToString::to_string),
        });
        summary.trials.push(TrialRecord {
            run: trials.runs,
            candidate: "original".into(),
            seed,
            signature: t.signature.clone(),
            accepted: wanted,
            error: t.error.clone(),
            steps,
        });
        // An interrupted original concludes nothing: not "not reproduced", not a reseed.
        if crate::runner::interrupt::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
            summary.stop = Some(Stop::Interrupted);
            summary.runs = trials.runs;
            summary.wall_secs = started.elapsed().as_secs_f64();
            return Ok((summary, None));
        }
        if let (true, Some(report), Some(sig)) = (wanted, t.report, t.signature) {
            summary.before = Some(Size::of(&start, steps));
            origin = Some((
                sig,
                Best {
                    scenario: start.clone(),
                    seed,
                    report,
                    scenario_file: t.scenario_file,
                },
            ));
            break;
        }
    }
    let Some((target, best)) = origin else {
        summary.runs = trials.runs;
        summary.wall_secs = started.elapsed().as_secs_f64();
        return Ok((summary, None));
    };
    summary.reproduced = true;
    summary.signature = Some(target.clone());
    let mut search = Search {
        trials: &mut trials,
        target,
        budget: opts.budget,
        origin_seed: input.seed,
        best,
        log: Vec::new(),
        stop: None,
    };
    let stop = search.run();
    let (best, log) = (search.best, search.log);
    summary.stop = Some(stop);
    summary.accepted = log.iter().filter(|t| t.accepted).count() as u32;
    summary.trials.extend(log);
    summary.min_seed = Some(best.seed);
    summary.after = Some(Size::of(
        &best.scenario,
        best.report.lockstep.as_ref().map_or(0, |l| l.steps),
    ));
    // After Ctrl-C no confirmation run: it would only be interrupted too.
    if stop != Stop::Interrupted {
        output::finish(&mut summary, &best, &mut trials, &opts.out_dir)?;
    }
    summary.runs = trials.runs;
    summary.wall_secs = (started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
    Ok((summary, Some(best)))
}
