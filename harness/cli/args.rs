//! The command line's flags: every clap derive outside `cli/mod.rs`'s commands, and their
//! conversions into the library's plain requests (nothing below `cli` knows clap;
//! `tests/house_cli.rs` checks it). The help texts are the command line's documentation: a
//! change here changes `--help`.

use std::path::PathBuf;

use clap::Args;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};

use crate::compare::CompareRequest;
use crate::compare::strategies::DEFAULT_STRATEGIES;
use crate::nightly::merge::MergeRequest;
use crate::nightly::pair::PairRequest;
use crate::nightly::{ListRequest, SweepOptions};
use crate::report::outputs::Outputs;
use crate::scenario::{DEFAULT_SCENARIO, Mode, Scale, SchedulerKind, Synchronous};

/// A parser that accepts exactly `all`'s names (listed in `--help`, with `about` where
/// given, and in the error of a value outside them) and yields the value named.
fn one_of<T: Copy + Send + Sync + 'static>(
    all: &'static [T],
    name: fn(T) -> &'static str,
    about: fn(T) -> Option<&'static str>,
) -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(all.iter().map(move |&v| {
        let p = PossibleValue::new(name(v));
        match about(v) {
            Some(text) => p.help(text),
            None => p,
        }
    }))
    .map(move |s| {
        *all.iter()
            .find(|&&v| name(v) == s)
            .expect("the parser accepts only these names")
    })
}

/// `--mode free|lockstep`.
pub fn mode() -> impl TypedValueParser<Value = Mode> {
    one_of(&Mode::ALL, Mode::name, |_| None)
}

/// `--io-sweep sync`.
pub fn io_sweep_kind() -> impl TypedValueParser<Value = super::io_sweep::IoSweep> {
    use super::io_sweep::IoSweep;
    one_of(&IoSweep::ALL, IoSweep::name, |_| None)
}

/// `--scheduler random|pct`, each with what it does in the long help.
pub fn scheduler_kind() -> impl TypedValueParser<Value = SchedulerKind> {
    one_of(&SchedulerKind::ALL, SchedulerKind::name, |k| {
        Some(k.about())
    })
}

/// `--synchronous off|normal|full|extra`.
pub fn synchronous() -> impl TypedValueParser<Value = Synchronous> {
    one_of(&Synchronous::ALL, Synchronous::as_sql, |_| None)
}

/// The scale of a run as the command line sets it (`--workers`, `--ops`, `--scheduler`,
/// `--pct-depth`): what becomes [`Scale`], then `Overrides`.
#[derive(Debug, Clone, Default, Args)]
pub struct ScaleArgs {
    /// Override the scenario's worker process count.
    #[arg(long, value_name = "N")]
    pub workers: Option<u32>,
    /// Override the ops each worker runs.
    #[arg(long, value_name = "N")]
    pub ops: Option<u32>,
    /// Lockstep scheduler, overriding the scenario's `[lockstep] scheduler`. `run` accepts
    /// it only with --mode lockstep or --check-determinism (free mode refuses it, exit 2); a
    /// plan does not depend on it.
    #[arg(long, value_name = "KIND", value_parser = scheduler_kind())]
    pub scheduler: Option<SchedulerKind>,
    /// PCT bug depth, overriding the scenario's `[lockstep] pct_depth` (like --scheduler:
    /// lockstep only).
    #[arg(long, value_name = "D")]
    pub pct_depth: Option<u32>,
}

/// Where a run's report and run directory go.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Directory for the JSON reports.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub out: PathBuf,
    /// Keep each run directory (database, records, trace, worker stderr); failed runs always
    /// keep it.
    #[arg(long)]
    pub keep: bool,
    /// Where run directories are created (default: the system temporary directory).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
}

/// `walburst run` flags that make a run a sweep (see `NIGHTLY.md`).
#[derive(Debug, Clone, Default, Args)]
pub struct SweepArgs {
    /// Sweep: run N seeds for every case, from --base-seed (default 1) upwards.
    #[arg(long, value_name = "N", help_heading = "Sweeps (NIGHTLY.md)")]
    pub seeds: Option<u32>,
    /// First seed of a sweep.
    #[arg(long, value_name = "S", help_heading = "Sweeps (NIGHTLY.md)")]
    pub base_seed: Option<u64>,
    /// Derive the base seed from the UTC date (YYYYMMDD x 1000) and print it first.
    #[arg(long, help_heading = "Sweeps (NIGHTLY.md)")]
    pub nightly: bool,
    /// With --nightly: this UTC date instead of today's, so that every shard agrees.
    #[arg(
        long,
        value_name = "YYYY-MM-DD",
        requires = "nightly",
        help_heading = "Sweeps (NIGHTLY.md)"
    )]
    pub date: Option<String>,
    /// Run only shard K of N of the (case, seed) pairs (deterministic round robin; the
    /// same as --partition slice:K/N).
    #[arg(long, value_name = "K/N", help_heading = "Sweeps (NIGHTLY.md)")]
    pub shard: Option<crate::nightly::shard::Shard>,
    /// Write a JUnit XML file: one testcase per (case, seed).
    #[arg(long, value_name = "FILE", help_heading = "Sweeps (NIGHTLY.md)")]
    pub junit: Option<PathBuf>,
    /// The regression corpus run first (default: regressions.toml beside the first
    /// scenario file, or scenarios/regressions.toml).
    #[arg(long, value_name = "FILE", help_heading = "Sweeps (NIGHTLY.md)")]
    pub regressions: Option<PathBuf>,
    /// Do not run the regression corpus.
    #[arg(
        long,
        conflicts_with = "regressions",
        help_heading = "Sweeps (NIGHTLY.md)"
    )]
    pub no_regressions: bool,
    /// Append every (case, seed) that failed to the regression corpus.
    #[arg(long, help_heading = "Sweeps (NIGHTLY.md)")]
    pub record_failures: bool,
    /// Run N pairs at once (default 1). Concurrent runs compete for fsync and CPU and distort
    /// each other's timing and race frequencies.
    #[arg(long, value_name = "N", help_heading = "Sweeps (NIGHTLY.md)")]
    pub jobs: Option<u32>,
    /// Print the pairs this sweep (or shard) would run, with their reproduce commands, and
    /// exit without running or writing anything.
    #[arg(long, help_heading = "Sweeps (NIGHTLY.md)")]
    pub dry_run: bool,
}

/// `walburst list [FILE]`.
#[derive(Debug, Clone, Default, Args)]
pub struct ListArgs {
    /// A scenario (shipped name or TOML file): list its cases, with the matrix expanded.
    #[arg(value_name = "SCENARIO")]
    pub scenario: Option<String>,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard result directories (each a sweep's --out, holding sweep-index*.jsonl), or
    /// index files themselves.
    #[arg(value_name = "DIR", required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where merged-summary.json, merged-junit.xml and merged-summary.md go.
    #[arg(long, value_name = "DIR", default_value = "reports/merged")]
    pub out: PathBuf,
    /// Print only the failures and the totals.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct PairArgs {
    /// The case: a shipped name, a file, or `FILE#CASE`.
    #[arg(long)]
    pub spec: String,
    #[arg(long)]
    pub seed: u64,
    #[arg(long, value_parser = mode(), default_value = "free")]
    pub mode: Mode,
    #[arg(long)]
    pub check_determinism: bool,
    /// A recorded lockstep trace (`trace.jsonl`) to replay step by step.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Where to write the result JSON.
    #[arg(long)]
    pub result: PathBuf,
    /// The executable started as each worker (default: this binary).
    #[arg(long)]
    pub worker_exe: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub scale: ScaleArgs,
}

/// `walburst compare`: see `BENCHMARKS.md` for how to read its output.
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// A shipped scenario name or a path to a scenario TOML file.
    #[arg(value_name = "SCENARIO", default_value = DEFAULT_SCENARIO)]
    pub scenario: String,
    /// The seed (default: the scenario's first seed); every strategy runs its schedule.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Comma-separated strategies: wal, wal-per-op, flock-tx, flock-conn, flock-poll,
    /// flock-ckpt (see BENCHMARKS.md). Ratios are against the first.
    #[arg(long, value_name = "LIST", default_value = DEFAULT_STRATEGIES)]
    pub strategies: String,
    /// Runs of each strategy; the order alternates between repeats (A B, B A, ...).
    #[arg(long, value_name = "R", default_value_t = 3)]
    pub repeat: u32,
    /// Worker process counts to compare at, comma-separated (default: the scenario's).
    #[arg(long, value_name = "N[,N...]", value_delimiter = ',')]
    pub workers: Vec<u32>,
    /// Override the ops each worker runs.
    #[arg(long, value_name = "N")]
    pub ops: Option<u32>,
    /// Override `[sqlite] synchronous` for every strategy: off, normal, full or extra.
    #[arg(long, value_name = "MODE", value_parser = synchronous())]
    pub synchronous: Option<Synchronous>,
    /// Run the whole comparison once per SQLite release (`walburst sqlite list`), e.g.
    /// 3.50.2,3.54.1: one table each, then one line per release.
    #[arg(long, value_name = "V1,V2", value_delimiter = ',', value_parser = crate::releases::version::parse_offered)]
    pub sqlite: Vec<crate::releases::SqliteVersion>,
    #[command(flatten)]
    pub output: OutputArgs,
}

impl From<ScaleArgs> for Scale {
    fn from(a: ScaleArgs) -> Scale {
        Scale {
            workers: a.workers,
            ops: a.ops,
            scheduler: a.scheduler,
            pct_depth: a.pct_depth,
        }
    }
}

impl ScaleArgs {
    pub fn overrides(&self) -> crate::scenario::Overrides {
        Scale::from(self.clone()).overrides()
    }
}

impl From<OutputArgs> for Outputs {
    fn from(a: OutputArgs) -> Outputs {
        Outputs {
            out: a.out,
            keep: a.keep,
            work_dir: a.work_dir,
        }
    }
}

impl From<SweepArgs> for SweepOptions {
    fn from(a: SweepArgs) -> SweepOptions {
        SweepOptions {
            seeds: a.seeds,
            base_seed: a.base_seed,
            nightly: a.nightly,
            date: a.date,
            shard: a.shard,
            junit: a.junit,
            regressions: a.regressions,
            no_regressions: a.no_regressions,
            record_failures: a.record_failures,
            jobs: a.jobs,
            dry_run: a.dry_run,
        }
    }
}

impl From<ListArgs> for ListRequest {
    fn from(a: ListArgs) -> ListRequest {
        ListRequest {
            scenario: a.scenario,
        }
    }
}

impl From<MergeArgs> for MergeRequest {
    fn from(a: MergeArgs) -> MergeRequest {
        MergeRequest {
            dirs: a.dirs,
            out: a.out,
        }
    }
}

impl From<PairArgs> for PairRequest {
    fn from(a: PairArgs) -> PairRequest {
        PairRequest {
            spec: a.spec,
            seed: a.seed,
            mode: a.mode,
            check_determinism: a.check_determinism,
            trace: a.trace,
            result: a.result,
            worker_exe: a.worker_exe,
            output: a.output.into(),
            scale: a.scale.into(),
        }
    }
}

impl From<CompareArgs> for CompareRequest {
    fn from(a: CompareArgs) -> CompareRequest {
        CompareRequest {
            scenario: a.scenario,
            seed: a.seed,
            strategies: a.strategies,
            repeat: a.repeat,
            workers: a.workers,
            ops: a.ops,
            synchronous: a.synchronous,
            sqlite: a.sqlite,
            output: a.output.into(),
        }
    }
}

/// `walburst compare`'s flags (after the command name) as its request, as the command line
/// parses them: for tests that refuse bad input the way the command does.
pub fn compare_request(flags: &[&str]) -> Result<CompareRequest, clap::Error> {
    use clap::Parser;
    #[derive(clap::Parser)]
    struct Compare {
        #[command(flatten)]
        a: CompareArgs,
    }
    let argv = std::iter::once("compare").chain(flags.iter().copied());
    Ok(Compare::try_parse_from(argv)?.a.into())
}
