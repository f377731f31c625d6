//! The search: greedy, per dimension, binary search toward each dimension's floor, passes
//! repeated until none of them makes the run smaller (a fixed point) or the budget runs out.

use std::path::PathBuf;
use std::time::Duration;

use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::dims::{Dim, ORDER};
use super::signature::Signature;
use super::trial::{TrialRecord, TrialRun, Trials};
use crate::report::Report;
use crate::run::event::{RunEvent, TrialOutcome};
use crate::scenario::Scenario;

/// How much the search may spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    pub max_runs: u32,
    pub max_secs: u64,
    /// Derived seeds tried (after the current one) before a candidate is rejected.
    pub reseeds: u32,
}

/// Why the search stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stop {
    /// No dimension could be made smaller: the result is 1-minimal per dimension.
    FixedPoint,
    MaxRuns,
    MaxTime,
    Interrupted,
}

/// The smallest failing run found so far.
pub struct Best {
    pub scenario: Scenario,
    pub seed: u64,
    pub report: Report,
    pub scenario_file: PathBuf,
}

pub struct Search<'a, 'c> {
    pub trials: &'a mut Trials<'c>,
    pub target: Signature,
    pub budget: Budget,
    /// The seed the search started from; derived seeds come from it.
    pub origin_seed: u64,
    pub best: Best,
    pub log: Vec<TrialRecord>,
    pub stop: Option<Stop>,
}

/// The `i`-th derived seed of `origin`, the same on every machine.
pub fn derived_seed(origin: u64, i: u32) -> u64 {
    let mut rng = crate::plan::stream(origin, "shrink-reseed", u64::from(i), 0);
    rng.random_range(0..1_000_000_000u64)
}

fn describe(s: &Scenario, dim: Dim) -> String {
    format!(
        "{}={} (workers={} ops_per_worker={})",
        dim.name(),
        dim.get(s),
        s.workload.workers,
        s.workload.ops_per_worker
    )
}

impl Search<'_, '_> {
    fn out_of_budget(&mut self) -> bool {
        if self.stop.is_some() {
            return true;
        }
        let stop =
            if crate::runner::interrupt::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
                Some(Stop::Interrupted)
            } else if self.trials.runs >= self.budget.max_runs {
                Some(Stop::MaxRuns)
            } else if self.trials.started.elapsed() >= Duration::from_secs(self.budget.max_secs) {
                Some(Stop::MaxTime)
            } else {
                None
            };
        self.stop = stop;
        stop.is_some()
    }

    /// Runs `candidate` with the current seed, then with derived seeds; accepts it (it
    /// becomes the best) when a run fails with the target signature.
    fn try_candidate(&mut self, candidate: Scenario, what: String) -> bool {
        let mut seeds = vec![self.best.seed];
        seeds.extend(
            (0..self.budget.reseeds)
                .map(|i| derived_seed(self.origin_seed, i))
                .filter(|&x| x != self.best.seed),
        );
        for seed in seeds {
            if self.out_of_budget() {
                return false;
            }
            let TrialRun {
                report,
                signature,
                error,
                scenario_file,
            } = self.trials.run(&candidate, seed);
            let accepted = signature.as_ref() == Some(&self.target);
            let steps = report
                .as_ref()
                .and_then(|r| r.lockstep.as_ref())
                .map_or(0, |l| l.steps);
            let outcome = match (&signature, accepted) {
                (_, true) => TrialOutcome::Accepted,
                (Some(s), false) => TrialOutcome::Other(s.to_string()),
                (None, _) if error.is_some() => TrialOutcome::CouldNotRun,
                (None, _) => TrialOutcome::Passed,
            };
            self.trials.reporter.event(&RunEvent::ShrinkTrial {
                run: self.trials.runs,
                secs: self.trials.started.elapsed().as_secs_f64(),
                what: &what,
                seed,
                outcome,
            });
            self.log.push(TrialRecord {
                run: self.trials.runs,
                candidate: what.clone(),
                seed,
                signature,
                accepted,
                error,
                steps,
            });
            if accepted && let Some(report) = report {
                self.best = Best {
                    scenario: candidate,
                    seed,
                    report,
                    scenario_file,
                };
                return true;
            }
        }
        false
    }

    /// Shrinks one dimension: its floor first, then a binary search between the largest
    /// value known not to reproduce and the smallest known to. True when it got smaller.
    fn shrink_dim(&mut self, dim: Dim) -> bool {
        let start = dim.get(&self.best.scenario);
        let mut lo = dim.floor(&self.best.scenario);
        if start <= lo {
            return false;
        }
        let mut hi = start;
        let mut probe = lo;
        loop {
            if self.out_of_budget() {
                break;
            }
            match dim.with(&self.best.scenario, probe) {
                Some(c) => {
                    let what = describe(&c, dim);
                    if self.try_candidate(c, what) {
                        hi = probe;
                    } else {
                        lo = probe;
                    }
                }
                // An invalid value (e.g. more kills than ops) counts as not reproducing.
                None => lo = probe,
            }
            if hi - lo <= 1 || !dim.bisect() {
                break;
            }
            probe = lo + (hi - lo) / 2;
        }
        dim.get(&self.best.scenario) < start
    }

    /// Passes over every dimension until a pass changes nothing or the budget runs out.
    pub fn run(&mut self) -> Stop {
        loop {
            let mut changed = false;
            for dim in ORDER {
                changed |= self.shrink_dim(dim);
                if self.out_of_budget() {
                    return self.stop.unwrap_or(Stop::MaxRuns);
                }
            }
            if !changed {
                return Stop::FixedPoint;
            }
        }
    }
}
