//! `walburst explore`: swarm testing. Draws whole scenarios from proptest strategies over the
//! configuration space ([`space`]) with a `TestRunner` driven by a ChaCha `TestRng` seeded
//! from `--seed`, runs each, judges it against the properties in [`space`], and shrinks each
//! new finding with [`crate::shrink`]. The same seed draws the same scenarios in the same
//! order; in lockstep each one runs the same way.

pub mod space;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::error::Chain;
use crate::run::event::{ExploreFinding, Reporter, RunEvent};
use crate::run::{RunRequest, run};
use crate::scenario::{Mode, Overrides, Scenario, ScenarioSource};
use crate::shrink::{self, Budget, ShrinkInput, ShrinkOptions, ShrinkSummary, signature};
use space::{Finding, Hazard, SpaceOptions};

pub struct ExploreOptions {
    pub seed: u64,
    /// Stop drawing new scenarios after this long (shrinking a finding may run past it).
    pub budget: Duration,
    /// Stop after this many drawn scenarios.
    pub max_runs: Option<u32>,
    pub mode: Mode,
    pub space: SpaceOptions,
    pub out_dir: PathBuf,
    pub worker_exe: PathBuf,
    /// The budget of each finding's shrink; `max_runs = 0` skips shrinking.
    pub shrink: Budget,
}

/// One drawn scenario and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExploreRun {
    pub index: u32,
    pub seed: u64,
    /// The settings that matter, as the run's first line prints them.
    pub settings: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hazard: Option<Hazard>,
    pub finding: Finding,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Written for findings only: `walburst run FILE --seed N [--mode lockstep]` reproduces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario_file: Option<PathBuf>,
}

/// The JSON summary, format `walburst-explore/1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExploreSummary {
    pub format: String,
    pub seed: u64,
    pub mode: Mode,
    pub no_hazards: bool,
    pub budget_secs: u64,
    pub passed: u32,
    pub known_hazards: u32,
    pub violations: u32,
    /// Runs that could not be carried out.
    pub errors: u32,
    pub runs: Vec<ExploreRun>,
    /// One shrink per distinct (finding, signature), the first time it shows.
    pub shrunk: Vec<ShrinkSummary>,
    pub wall_secs: f64,
}

pub const SUMMARY_FORMAT: &str = "walburst-explore/1";

/// The proptest runner every draw comes from: ChaCha, keyed from `seed` through
/// `plan::stream`, so a seed names the same sequence of scenarios everywhere.
pub fn runner(seed: u64) -> TestRunner {
    let mut key = [0u8; 32];
    let mut rng = crate::plan::stream(seed, "explore", 0, 0);
    for b in &mut key {
        *b = rng.random();
    }
    TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &key),
    )
}

/// The first `n` scenarios a seed draws (for `--list`-style inspection and tests).
pub fn draw(seed: u64, space: SpaceOptions, n: u32) -> anyhow::Result<Vec<(Scenario, u64)>> {
    let mut r = runner(seed);
    let strategy = space::scenario(space);
    (0..n)
        .map(|i| {
            let (mut s, seed) = strategy
                .new_tree(&mut r)
                .map_err(|e| anyhow::anyhow!("drawing scenario {i}: {e}"))?
                .current();
            s.name = format!("explore-{i:04}");
            Ok((s, seed))
        })
        .collect()
}

fn finding_key(f: &Finding) -> Option<String> {
    match f {
        Finding::Pass => None,
        Finding::KnownHazard { signature, .. } => Some(format!("hazard {signature}")),
        Finding::Violation { signature } => Some(format!("violation {signature}")),
    }
}

/// Explores until the budget runs out; the summary lists every run and every shrink.
pub fn explore(
    opts: &ExploreOptions,
    reporter: &mut dyn Reporter,
) -> anyhow::Result<ExploreSummary> {
    let started = Instant::now();
    let dir = opts.out_dir.join(format!("explore-s{}", opts.seed));
    std::fs::create_dir_all(&dir)?;
    let mut r = runner(opts.seed);
    let strategy = space::scenario(opts.space);
    let mut summary = ExploreSummary {
        format: SUMMARY_FORMAT.into(),
        seed: opts.seed,
        mode: opts.mode,
        no_hazards: opts.space.no_hazards,
        budget_secs: opts.budget.as_secs(),
        passed: 0,
        known_hazards: 0,
        violations: 0,
        errors: 0,
        runs: Vec::new(),
        shrunk: Vec::new(),
        wall_secs: 0.0,
    };
    let mut shrunk_keys = BTreeSet::new();
    for index in 0u32.. {
        if opts.max_runs.is_some_and(|m| index >= m)
            || started.elapsed() >= opts.budget
            || crate::runner::interrupt::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
        {
            break;
        }
        let (mut s, seed) = strategy
            .new_tree(&mut r)
            .map_err(|e| anyhow::anyhow!("drawing scenario {index}: {e}"))?
            .current();
        s.name = format!("explore-{index:04}");
        // What runs is what the file says: the scenario as it reads back from its TOML.
        let s = shrink::dims::valid(&s).ok_or_else(|| {
            anyhow::anyhow!("the space drew an invalid scenario (a bug in explore/space.rs): {s:?}")
        })?;
        let file = dir.join(format!("{}.toml", s.name));
        shrink::trial::write_scenario(&file, &s)?;
        let req = RunRequest {
            scenario: s.clone(),
            source: ScenarioSource::File(file.clone()),
            overrides: Overrides::default(),
            seed,
            out_dir: None,
            keep: false,
            work_dir: Some(dir.join("runs")),
            worker_exe: opts.worker_exe.clone(),
            mode: opts.mode,
            replay: None,
        };
        let (finding, error) = match run(&req, reporter) {
            // An interrupted run is no finding and no pass: stop here.
            Ok(o) if o.report.interrupted() => {
                reporter.event(&RunEvent::ExploreInterrupted { index });
                break;
            }
            Ok(o) => (space::judge(&s, signature::of(&o.report)), None),
            Err(e) => (Finding::Pass, Some(Chain(&e).to_string())),
        };
        let word = match (&finding, &error) {
            (_, Some(_)) => ExploreFinding::CouldNotRun,
            (Finding::Pass, _) => ExploreFinding::Pass,
            (Finding::KnownHazard { signature, .. }, _) => {
                ExploreFinding::KnownHazard(signature.to_string())
            }
            (Finding::Violation { signature }, _) => {
                ExploreFinding::Violation(signature.to_string())
            }
        };
        reporter.event(&RunEvent::ExploreRun {
            index,
            secs: started.elapsed().as_secs_f64(),
            seed,
            settings: &s.key_settings(),
            finding: word,
        });
        match (&finding, &error) {
            (_, Some(_)) => summary.errors += 1,
            (Finding::Pass, _) => summary.passed += 1,
            (Finding::KnownHazard { .. }, _) => summary.known_hazards += 1,
            (Finding::Violation { .. }, _) => summary.violations += 1,
        }
        let keep_file = finding != Finding::Pass || error.is_some();
        if !keep_file {
            std::fs::remove_file(&file)?;
        }
        let key = finding_key(&finding);
        summary.runs.push(ExploreRun {
            index,
            seed,
            settings: s.key_settings(),
            hazard: space::hazard(&s),
            finding: finding.clone(),
            error,
            scenario_file: keep_file.then(|| file.clone()),
        });
        let expected = match &finding {
            Finding::KnownHazard { signature, .. } | Finding::Violation { signature } => {
                signature.clone()
            }
            Finding::Pass => continue,
        };
        if opts.shrink.max_runs == 0 || !shrunk_keys.insert(key.unwrap_or_default()) {
            continue;
        }
        let input = ShrinkInput {
            scenario: s,
            source: ScenarioSource::File(file),
            seed,
            expected: Some(expected),
        };
        let sopts = ShrinkOptions {
            budget: opts.shrink,
            out_dir: dir.clone(),
            worker_exe: opts.worker_exe.clone(),
        };
        let (sum, _) = shrink::shrink(&input, &sopts, reporter)?;
        let path = shrink::output::summary_path(&dir, &sum);
        crate::report::write_json_atomic(&path, &sum)?;
        let interrupted =
            crate::runner::interrupt::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst);
        let kept = dir.join(format!("explore-{index:04}.toml"));
        match (&sum.before, &sum.after, &sum.reproduce) {
            // An interrupt concludes nothing: never "did not reproduce".
            _ if interrupted => {
                reporter.event(&RunEvent::ExploreShrinkInterrupted { index, file: &kept })
            }
            (Some(b), Some(a), Some(r)) => reporter.event(&RunEvent::ExploreShrunk {
                index,
                before: b.line(),
                after: a.line(),
                reproduce: r,
            }),
            _ => reporter.event(&RunEvent::ExploreNotReproduced {
                index,
                seed,
                reseeds: opts.shrink.reseeds,
                file: &kept,
            }),
        }
        summary.shrunk.push(sum);
    }
    summary.wall_secs = (started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
    Ok(summary)
}
