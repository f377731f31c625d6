//! Nightly CI: scenario matrices, seed sweeps, sharding, JUnit, the regression corpus,
//! progress events and merging shard results. The workflow is described in `NIGHTLY.md`.
//!
//! A sweep runs (case, seed) pairs: [`matrix`] expands a scenario's `[matrix]` into cases,
//! [`sweep`] crosses them with seeds, prepends the [`corpus`] of regressions, picks this
//! machine's [`shard`], runs every pair as a child `walburst sweep-pair` process (so that
//! output, crashes and `--jobs` stay per pair), says what it does as [`event`]s (the CLI's
//! reporter renders them; nothing here prints), and writes the run
//! index, a [`summary`] and [`junit`] XML. [`merge`] puts shard results back together.

pub mod corpus;
mod error;
pub mod event;
pub mod junit;
pub use crate::scenario::matrix;
pub mod merge;
pub mod page;
pub mod pair;
pub mod shard;
pub mod summary;
pub mod sweep;

pub use error::{Ended, MergeError, SweepError};

use std::path::{Path, PathBuf};

use crate::scenario::{self, Invalid, LoadError, LoadProblem, Overrides, Scenario, ScenarioSource};
use matrix::{Case, Expansion};

/// `walburst run` flags that make a run a sweep (see `NIGHTLY.md`).
#[derive(Debug, Clone, Default)]
pub struct SweepOptions {
    /// Sweep: run N seeds for every case, from --base-seed (default 1) upwards.
    pub seeds: Option<u32>,
    /// First seed of a sweep.
    pub base_seed: Option<u64>,
    /// Derive the base seed from the UTC date (YYYYMMDD x 1000) and print it first.
    pub nightly: bool,
    /// With --nightly: this UTC date instead of today's, so that every shard agrees.
    pub date: Option<String>,
    /// Run only shard K of N of the (case, seed) pairs (deterministic round robin; the
    /// same as --partition slice:K/N).
    pub shard: Option<shard::Shard>,
    /// Write a JUnit XML file: one testcase per (case, seed).
    pub junit: Option<PathBuf>,
    /// The regression corpus run first (default: regressions.toml beside the first
    /// scenario file, or scenarios/regressions.toml).
    pub regressions: Option<PathBuf>,
    /// Do not run the regression corpus.
    pub no_regressions: bool,
    /// Append every (case, seed) that failed to the regression corpus.
    pub record_failures: bool,
    /// Run N pairs at once (default 1). Concurrent runs compete for fsync and CPU and distort
    /// each other's timing and race frequencies.
    pub jobs: Option<u32>,
    /// Print the pairs this sweep (or shard) would run, with their reproduce commands, and
    /// exit without running or writing anything.
    pub dry_run: bool,
}

impl SweepOptions {
    /// Whether any sweep flag was given.
    pub fn any(&self) -> bool {
        self.seeds.is_some()
            || self.base_seed.is_some()
            || self.nightly
            || self.shard.is_some()
            || self.junit.is_some()
            || self.regressions.is_some()
            || self.no_regressions
            || self.record_failures
            || self.jobs.is_some()
            || self.dry_run
    }
}

/// `walburst list [FILE]`.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    /// A scenario (shipped name or TOML file): list its cases, with the matrix expanded.
    pub scenario: Option<String>,
}

/// What `walburst run` hands the sweep engine: the run arguments as plain data, so a sweep
/// can be driven without the command line (the CLI builds this; nothing here imports it).
#[derive(Debug, Clone)]
pub struct SweepRequest {
    /// Scenario names or files; `FILE#CASE` names one case of a `[matrix]`.
    pub scenarios: Vec<String>,
    /// One seed instead of the scenarios' own.
    pub seed: Option<u64>,
    pub output: crate::report::outputs::Outputs,
    /// `--mode`; `None`: each case's default (`scenario::run_mode`).
    pub mode: Option<scenario::Mode>,
    pub check_determinism: bool,
    pub worker_exe: Option<std::path::PathBuf>,
    pub scale: scenario::Scale,
    pub sweep: SweepOptions,
}

/// Whether `walburst run` must run as a sweep: a sweep flag, or a scenario with a matrix
/// named without a case. (Specs that fail to load are left to the ordinary path, which
/// reports them.)
pub fn is_sweep(args: &SweepRequest) -> bool {
    args.sweep.any()
        || args.scenarios.iter().any(|spec| {
            split_case(spec).1.is_none()
                && scenario::load(spec, &Overrides::default())
                    .is_ok_and(|(s, _)| s.matrix.is_some())
        })
}

/// `FILE#CASE` -> (`FILE`, Some(`CASE`)).
pub fn split_case(spec: &str) -> (&str, Option<&str>) {
    match spec.rsplit_once('#') {
        Some((base, case)) => (base, Some(case)),
        None => (spec, None),
    }
}

/// A scenario expanded into its cases, overrides applied to each.
pub struct Suite {
    pub base: Scenario,
    pub source: ScenarioSource,
    pub expansion: Expansion,
}

impl Suite {
    /// The scenario source that names one case on a command line (`FILE#CASE`).
    pub fn case_source(&self, case: &Case) -> ScenarioSource {
        if case.suffix.is_empty() {
            return self.source.clone();
        }
        match &self.source {
            ScenarioSource::Embedded(n) => ScenarioSource::Embedded(format!("{n}#{}", case.suffix)),
            ScenarioSource::File(p) => {
                ScenarioSource::File(PathBuf::from(format!("{}#{}", p.display(), case.suffix)))
            }
        }
    }

    pub fn find(&self, wanted: &str) -> Option<&Case> {
        self.expansion
            .cases
            .iter()
            .find(|c| c.suffix == wanted || c.name == wanted)
    }
}

/// Loads a scenario (no `#CASE`) and expands its matrix; overrides apply to every case.
pub fn load_suite(spec: &str, overrides: &Overrides) -> Result<Suite, LoadError> {
    let (base, source) = scenario::load(spec, overrides)?;
    let mut expansion = matrix::expand(&base).map_err(|m| LoadError::new(&source, m))?;
    for case in &mut expansion.cases {
        overrides.apply(&mut case.scenario);
        // Each case is a scenario of its own and is validated as one (its name grew by the
        // case suffix, its settings by the matrix values and the overrides).
        scenario::validate(&case.scenario).map_err(|m| {
            let with = if overrides.is_empty() {
                String::new()
            } else {
                format!(" with {}", overrides.as_args().join(" "))
            };
            let case = case.name.clone();
            LoadError::new(
                &source,
                Invalid::Case {
                    case,
                    with,
                    problem: Box::new(m),
                },
            )
        })?;
    }
    Ok(Suite {
        base,
        source,
        expansion,
    })
}

/// Resolves one runnable scenario: a plain scenario, or `FILE#CASE` (one case of a
/// matrix). A matrix scenario named without a case is an error here.
pub fn load_case(
    spec: &str,
    overrides: &Overrides,
) -> Result<(Scenario, ScenarioSource), LoadError> {
    let (base_spec, wanted) = split_case(spec);
    let suite = load_suite(base_spec, overrides)?;
    match wanted {
        None if suite.base.matrix.is_some() => Err(LoadError::new(
            &suite.source,
            LoadProblem::NeedsCase {
                spec: base_spec.to_string(),
                cases: suite.expansion.cases.len(),
            },
        )),
        None => {
            let case = &suite.expansion.cases[0];
            Ok((case.scenario.clone(), suite.source.clone()))
        }
        Some(w) => match suite.find(w) {
            Some(case) => Ok((case.scenario.clone(), suite.case_source(case))),
            None => Err(LoadError::new(
                &suite.source,
                LoadProblem::NoSuchCase {
                    spec: base_spec.to_string(),
                    wanted: w.to_string(),
                    some: (suite.expansion.cases.iter())
                        .take(8)
                        .map(|c| c.suffix.clone())
                        .collect(),
                    total: suite.expansion.cases.len(),
                },
            )),
        },
    }
}

/// `walburst list FILE`: every case with its settings, folding and expectations, one line
/// each.
pub fn list_cases(spec: &str) -> Result<Vec<String>, LoadError> {
    let suite = load_suite(split_case(spec).0, &Overrides::default())?;
    let x = &suite.expansion;
    let width = x.cases.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let mut out = Vec::new();
    for case in &x.cases {
        let mut line = format!("{:<width$}  {}", case.name, case.scenario.key_settings());
        for (axis, vals) in &case.folded {
            let v: Vec<String> = vals.iter().map(|v| v.display()).collect();
            line.push_str(&format!("  [folds {}={}]", axis.key(), v.join(",")));
        }
        let e = matrix::expect_summary(&case.scenario.expect);
        if !e.is_empty() {
            line.push_str(&format!("  expect: {e}"));
        }
        out.push(line);
    }
    if suite.base.matrix.is_some() {
        out.push(format!(
            "{} cases from {} combinations ({} excluded, {} folded); run one with `walburst run {}#CASE`",
            x.cases.len(),
            x.combinations,
            x.excluded,
            x.folded,
            split_case(spec).0,
        ));
    }
    Ok(out)
}

/// Whether SIGINT/SIGTERM arrived (the handler `walburst run` installs sets it): a sweep
/// then starts no further pair.
pub(crate) fn interrupted() -> bool {
    crate::runner::interrupt::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// The directory part of a path, `.` when it has none.
pub(crate) fn dir_of(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
