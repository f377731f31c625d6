//! The command line: parsing (clap derive) and dispatch. Exit codes: 0 pass, 1 fail,
//! 2 bad usage or input.

use std::path::PathBuf;

use crate::error::Chain;
use clap::{Args, Parser, Subcommand};

// First: its `outln!`/`out!` are in scope for the modules declared after it.
#[macro_use]
mod out;

mod adapter;
pub mod args;
mod compare;
mod explore;
mod io_sweep;
mod known_bugs_measure;
mod nightly;
mod shrink;
mod sqlite;

use crate::reporter::Console;
use crate::run::event::{Reporter, RunEvent};
use crate::run::{RunRequest, run};
use crate::scenario::{self, DEFAULT_SCENARIO, LoadError, Mode, Overrides};

use crate::exit::worker_exe;
pub use crate::exit::{EXIT_FAIL, EXIT_INTERRUPTED, EXIT_PASS, EXIT_UNWRITTEN, EXIT_USAGE};
use crate::signals::{install_interrupt_handler, interrupted};
pub use args::{OutputArgs, ScaleArgs};

#[derive(Debug, Parser)]
#[command(
    name = "walburst",
    version,
    about = "Seeded multi-process SQLite write bursts: false vs real corruption, lost writes, lock strategies",
    long_about = "walburst launches real worker processes that run seeded write schedules against one \
SQLite file, then checks the database (integrity_check, quick_check), the ledger of every write \
(no lost, phantom or duplicate rows), write exclusion, lock sidecars and the app-level corruption \
guards, and writes a JSON report with an HTML page beside it (verdict, failures, checks, a \
timeline of every transaction, latency views). The same seed always gives the same schedule. Workers are \
walburst's own, or your app through an adapter that speaks the worker protocol (a scenario's \
[worker] table; see PROTOCOL.md).\n\n\
Exit status: 0 every run passed, 1 a run failed, 2 bad usage or input (nothing run), 3 a \
report, summary or JUnit file could not be written after the run (the run directory is kept and \
its path printed), 130 interrupted by SIGINT/SIGTERM, 141 stdout closed before everything was \
printed (`| head`: the command stops quietly).",
    after_help = "Examples:\n  walburst run                         run the default scenario (pr-45525-burst)\n  walburst run smoke --seed 3          one seed of the CI smoke scenario\n  walburst run my.toml --workers 4     a scenario file, scaled down\n  walburst plan pr-45525-burst --seed 7\n  walburst list"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios against real worker processes and write a report per run.
    Run(RunArgs),
    /// Print the seeded schedule of a scenario as JSON, with its schedule_hash.
    Plan(PlanArgs),
    /// List the shipped scenarios, or the cases of one scenario (its [matrix] expanded).
    List(args::ListArgs),
    /// Merge sweep shard results into one summary JSON, JUnit file and markdown summary.
    Merge(args::MergeArgs),
    /// Re-run exactly what a report describes and say whether it reproduced.
    Replay(ReplayArgs),
    /// Run the same seeded schedule under several lock strategies and compare them side by side.
    Compare(args::CompareArgs),
    /// Draw a run's HTML page (and timeline SVG) from its JSON report and kept run directory.
    ///
    /// Exit status: 0 drawn, 1 the page or SVG could not be written, 2 the report could not
    /// be read.
    Report(ReportArgs),
    /// Search for the smallest lockstep run that fails for the same reason as a report (or a
    /// scenario and seed), and write it as a scenario file.
    Shrink(shrink::ShrinkArgs),
    /// Swarm testing: draw whole scenarios from a seeded generator, run each, judge them
    /// against properties every configuration must keep, and shrink what fails.
    Explore(explore::ExploreArgs),
    /// The SQLite releases walburst can run on (`list`), and preparing them (`prepare`).
    Sqlite(sqlite::SqliteArgs),
    /// For adapter authors: `check` drives a worker program through the protocol (handshake,
    /// ops, a kill, lockstep) and names every rule of PROTOCOL.md it breaks.
    Adapter(adapter::AdapterArgs),
    /// Internal: one worker process of a run (started by `walburst run`).
    #[command(hide = true)]
    Worker(WorkerArgs),
    /// Internal: one (case, seed) of a sweep (started by `walburst run` sweeps).
    #[command(hide = true)]
    SweepPair(args::PairArgs),
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Shipped scenario names (see `walburst list`) or paths to scenario TOML files;
    /// `FILE#CASE` names one case of a [matrix] (`walburst list FILE`).
    #[arg(value_name = "SCENARIO", default_value = DEFAULT_SCENARIO)]
    pub scenarios: Vec<String>,
    /// Run this seed instead of the scenario's own `seeds`.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Print only the seed and verdict lines (a sweep: only the pairs that did not pass, the
    /// recap and the last line).
    #[arg(long, short)]
    pub quiet: bool,
    /// `free`: processes race as the OS schedules them. `lockstep`: one SQL step at a time,
    /// chosen by the seeded scheduler, so the interleaving itself is reproducible. Default:
    /// free, except for a scenario whose steps exist only in lockstep (`[lockstep] points =
    /// "shm"`, `action = "yield"` io points), which runs in lockstep.
    #[arg(long, value_parser = args::mode())]
    pub mode: Option<Mode>,
    /// Run each seed twice in lockstep and compare trace and content hashes.
    #[arg(long)]
    pub check_determinism: bool,
    /// The executable started as each worker (default: this walburst binary).
    #[arg(long, value_name = "PATH", hide = true)]
    pub worker_exe: Option<PathBuf>,
    #[command(flatten)]
    pub scale: ScaleArgs,
    /// Lose power at one sync point: `w1:wal:3:after` is right after worker 1's third sync
    /// of -wal (`before`: right before it; file main, wal or journal). Adds that power-loss
    /// point to the scenario's [io]; what `--io-sweep sync` prints to reproduce a point.
    #[arg(long, value_name = "wW:FILE:N:WHEN", help_heading = "Sync sweeps")]
    pub power_loss_at: Option<scenario::sync_point::SyncPoint>,
    /// Crash at every sync: one run with the fault VFS counting every sync of every file
    /// (main, wal, journal) of every worker process, then one run per sync point with power
    /// lost right after it and one right before it, each judged by the durability oracle and
    /// integrity. Prints each point's run, then the losing points (acknowledged commits lost
    /// or the database damaged) each with its `--power-loss-at` reproduce command, and writes
    /// `sync-sweep-SCENARIO-sSEED.json` to --out. Use --mode lockstep: then a point is the
    /// same moment on every repeat (free mode: the n-th sync of a process, not an exact
    /// moment). One scenario, one seed (--seed, or its first).
    #[arg(long, value_name = "sync", value_parser = args::io_sweep_kind(), help_heading = "Sync sweeps")]
    pub io_sweep: Option<io_sweep::IoSweep>,
    /// What a sweep may spend: a number of runs (default 400; with more points, evenly
    /// spaced ones are run) or a duration (`10m`: points in order until then). The summary
    /// says when the budget cut the sweep.
    #[arg(long, value_name = "N|DURATION", value_parser = io_sweep::parse_budget, requires = "io_sweep", help_heading = "Sync sweeps")]
    pub budget: Option<crate::io_sweep::SweepBudget>,
    /// Run each seed once per SQLite release (`walburst sqlite list`), e.g. 3.50.2,3.54.1,
    /// and print their verdicts side by side. A release not yet prepared is prepared first
    /// (about 1-2 minutes each, cached under target/walburst-sqlite/).
    #[arg(long, value_name = "V1,V2", value_delimiter = ',', value_parser = crate::releases::version::parse_offered)]
    pub sqlite: Vec<crate::releases::SqliteVersion>,
    /// Run only partition K of N of a sweep's (case, seed) pairs, as cargo-nextest does:
    /// `slice:K/N` (round robin: what --shard K/N does), `hash:K/N` (by a hash of each pair,
    /// which keeps its partition when the sweep grows), or `KIND:ci`, which reads K and N from
    /// the CI's variables (GitLab's CI_NODE_INDEX/CI_NODE_TOTAL, CircleCI's, Buildkite's).
    #[arg(
        long,
        value_name = "KIND:K/N",
        conflicts_with = "shard",
        help_heading = "Sweeps (NIGHTLY.md)"
    )]
    pub partition: Option<crate::nightly::shard::PartitionSpec>,
    #[command(flatten)]
    pub sweep: args::SweepArgs,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// A shipped scenario name or a path to a scenario TOML file.
    #[arg(value_name = "SCENARIO", default_value = DEFAULT_SCENARIO)]
    pub scenario: String,
    /// The seed (default: the scenario's first seed).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Print compact JSON on one line instead of pretty JSON.
    #[arg(long)]
    pub compact: bool,
    #[command(flatten)]
    pub scale: ScaleArgs,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A report written by `walburst run` (in lockstep, its kept run directory's trace is
    /// replayed step by step when present).
    #[arg(value_name = "REPORT.json")]
    pub report: PathBuf,
    /// Replay a free run in lockstep: one transaction at a time in the commit order it
    /// observed (needs the report's kept run directory).
    #[arg(long)]
    pub lockstep: bool,
    /// Run the worker program the report names. A report is evidence, not code: one whose
    /// scenario has a `[worker]` (an external program) is replayed only with this flag,
    /// after reading the command it prints.
    #[arg(long)]
    pub trust_report: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A report written by `walburst run`; its kept run directory (`run_dir`) supplies the
    /// op records, lockstep trace and events the timeline is drawn from.
    #[arg(value_name = "REPORT.json")]
    pub report: PathBuf,
    /// Where the HTML page goes (default: beside the report, `.json` -> `.html`).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Also write the timeline alone as an SVG file.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
}

/// The built-in worker takes no arguments: it reads the protocol's `start` message from
/// stdin (PROTOCOL.md).
#[derive(Debug, Args)]
pub struct WorkerArgs {}

/// Prints a command's whole output; a closed pipe (`walburst plan ... | head`) ends the
/// command quietly (`out.rs`).
fn print_out(text: &str) -> i32 {
    outln!("{text}");
    EXIT_PASS
}

fn usage_error(e: LoadError) -> i32 {
    errln!("error: {}", Chain(&e));
    EXIT_USAGE
}

pub fn main_with(cli: Cli) -> i32 {
    match cli.command {
        Command::Worker(_) => crate::worker::worker_main(),
        Command::List(args::ListArgs {
            scenario: Some(spec),
        }) => nightly::list(&spec),
        Command::List(_) => {
            let mut text = String::new();
            for e in scenario::embedded() {
                let s =
                    scenario::parse_str(e.toml, &scenario::ScenarioSource::Embedded(e.name.into()))
                        .expect("shipped scenarios are valid (tested)");
                let first = s.description.split(". ").next().unwrap_or("").trim();
                let default = if e.name == DEFAULT_SCENARIO {
                    " (default)"
                } else {
                    ""
                };
                text.push_str(&format!(
                    "{:<30} {}{default}\n",
                    e.name,
                    first.trim_end_matches('.')
                ));
            }
            print_out(text.trim_end())
        }
        Command::Plan(a) => {
            let (s, _) = match crate::nightly::load_case(&a.scenario, &a.scale.overrides()) {
                Ok(x) => x,
                Err(e) => return usage_error(e),
            };
            let seed = a.seed.unwrap_or(s.seeds[0]);
            let plan = crate::plan::build(&s, seed);
            let text = if a.compact {
                serde_json::to_string(&plan)
            } else {
                serde_json::to_string_pretty(&plan)
            };
            print_out(&text.expect("plan serializes"))
        }
        Command::Run(a) => run_command(a),
        Command::Replay(a) => replay_command(a),
        Command::Compare(a) => compare::command(a),
        Command::Report(a) => report_command(a),
        Command::Merge(a) => {
            let mut console = Console::new(a.quiet);
            nightly::merge(crate::nightly::merge::merge_command(a.into(), &mut console))
        }
        Command::SweepPair(a) => nightly::sweep(crate::nightly::pair::pair_main(
            a.into(),
            &mut Console::new(false),
        )),
        Command::Shrink(a) => shrink::command(a),
        Command::Explore(a) => explore::command(a),
        Command::Sqlite(a) => sqlite::command(a),
        Command::Adapter(a) => adapter::command(a),
    }
}

fn report_command(a: ReportArgs) -> i32 {
    let report = match crate::replay::read_report(&a.report) {
        Ok(r) => r,
        Err(e) => {
            errln!("error: {}", Chain(&e));
            return EXIT_USAGE;
        }
    };
    let files = crate::render::load_run_dir(&report);
    let data = crate::render::RunData {
        report: &report,
        records: &files.records,
        trace: &files.trace,
        times: files.times.as_ref(),
    };
    let html = a
        .html
        .unwrap_or_else(|| crate::render::html_path_for(&a.report));
    for n in &files.notes {
        errln!("note: {n}");
    }
    match crate::render::write_run_page(&data, &files.notes, &html, a.svg.as_deref()) {
        Ok(r) => {
            let svg = r
                .svg
                .map_or(String::new(), |p| format!("; timeline: {}", p.display()));
            print_out(&format!(
                "page: {}{svg} (drawn in {:.0} ms)",
                r.html.display(),
                r.millis
            ))
        }
        Err(e) => {
            errln!("error: cannot draw {}: {}", a.report.display(), Chain(&*e));
            EXIT_FAIL
        }
    }
}

fn replay_command(a: ReplayArgs) -> i32 {
    let report = match crate::replay::read_report(&a.report) {
        Ok(r) => r,
        Err(e) => {
            errln!("error: {}", Chain(&e));
            return EXIT_USAGE;
        }
    };
    // Evidence is never run as code unasked: the worker command comes from the report file.
    if let Some(w) = &report.scenario.worker
        && !a.trust_report
    {
        errln!(
            "error: {}: the report's scenario runs an external worker program: {:?}{}; replaying it runs that program. Read it, then pass --trust-report",
            a.report.display(),
            w.command,
            w.cwd
                .as_deref()
                .map(|c| format!(" (in {c})"))
                .unwrap_or_default()
        );
        return EXIT_USAGE;
    }
    if let Err(m) =
        crate::report::outputs::check_run_dirs(&a.output.out, a.output.work_dir.as_deref())
    {
        errln!("error: {}", Chain(&m));
        return EXIT_USAGE;
    }
    let worker_exe = match worker_exe(None) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let opts = crate::replay::ReplayOptions {
        report_path: a.report.clone(),
        lockstep: a.lockstep,
        out_dir: a.output.out,
        work_dir: a.output.work_dir,
        keep: a.output.keep,
        worker_exe,
    };
    let mut console = Console::new(false);
    install_interrupt_handler();
    let outcome = crate::replay::replay(&report, &opts, &mut console);
    if interrupted() {
        return EXIT_INTERRUPTED;
    }
    match outcome {
        Ok(true) => EXIT_PASS,
        Ok(false) => EXIT_FAIL,
        Err(crate::replay::ReplayError::Run(crate::run::RunError::Unwritten(_))) => EXIT_UNWRITTEN,
        Err(e) => {
            errln!("error: the replay could not be carried out: {}", Chain(&e));
            EXIT_FAIL
        }
    }
}

impl RunArgs {
    /// The sweep engine's request: the same arguments as plain data, `--partition` resolved
    /// (from the CI's variables only when it says `KIND:ci`).
    fn sweep_request(
        &self,
    ) -> Result<crate::nightly::SweepRequest, crate::nightly::shard::CiPartitionError> {
        let mut a = self.clone();
        if let Some(spec) = a.partition {
            a.sweep.shard = Some(spec.resolve(|k| std::env::var(k).ok())?);
        }
        Ok(crate::nightly::SweepRequest {
            scenarios: a.scenarios,
            seed: a.seed,
            output: a.output.into(),
            mode: a.mode,
            check_determinism: a.check_determinism,
            worker_exe: a.worker_exe,
            scale: a.scale.into(),
            sweep: a.sweep.into(),
        })
    }
}

fn run_command(a: RunArgs) -> i32 {
    let overrides = Overrides {
        power_loss_at: a.power_loss_at,
        ..a.scale.overrides()
    };
    if a.io_sweep.is_some() {
        return io_sweep::command(&a, overrides);
    }
    let request = match a.sweep_request() {
        Ok(r) => r,
        Err(e) => {
            errln!("error: {}", Chain(&e));
            return EXIT_USAGE;
        }
    };
    if crate::nightly::is_sweep(&request) {
        if !a.sqlite.is_empty() {
            errln!(
                "error: --sqlite runs single scenarios; for a sweep, add a `sqlite = [...]` axis to the scenario's [matrix]"
            );
            return EXIT_USAGE;
        }
        let mut console = Console::new(a.quiet);
        return nightly::sweep(crate::nightly::sweep::run_sweep(&request, &mut console));
    }
    // Load and validate everything before running anything: bad input writes nothing.
    // With --sqlite, each scenario is loaded once per release (the release is an override).
    let releases: Vec<Option<crate::releases::SqliteVersion>> = if a.sqlite.is_empty() {
        vec![None]
    } else {
        a.sqlite.iter().copied().map(Some).collect()
    };
    let mut loaded = Vec::new();
    for spec in &a.scenarios {
        for &release in &releases {
            let overrides = Overrides {
                sqlite: release,
                ..overrides.clone()
            };
            match crate::nightly::load_case(spec, &overrides) {
                Ok((s, source)) => loaded.push((s, source, overrides)),
                Err(e) => return usage_error(e),
            }
        }
    }
    // Each scenario's mode: the one asked for, or lockstep where its steps exist only there
    // (a determinism check runs in lockstep).
    let asked = if a.check_determinism {
        Some(Mode::Lockstep)
    } else {
        a.mode
    };
    let mut modes = Vec::with_capacity(loaded.len());
    for (s, source, _) in &loaded {
        match crate::scenario::run_mode(s, asked) {
            Ok(m) => modes.push(m),
            Err(e) => return usage_error(LoadError::new(source, e)),
        }
    }
    if modes.contains(&Mode::Free)
        && (overrides.scheduler.is_some() || overrides.pct_depth.is_some())
    {
        errln!(
            "error: --scheduler and --pct-depth apply only with --mode lockstep (or --check-determinism)"
        );
        return EXIT_USAGE;
    }
    if let Err(m) =
        crate::report::outputs::check_run_dirs(&a.output.out, a.output.work_dir.as_deref())
    {
        errln!("error: {}", Chain(&m));
        return EXIT_USAGE;
    }
    let mut side_by_side = crate::run::delegate::SideBySide::default();
    let worker_exe = match worker_exe(a.worker_exe.clone()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut console = Console::new(a.quiet);
    install_interrupt_handler();
    let (mut passed, mut failed, mut unwritten) = (0u32, 0u32, 0u32);
    for ((s, source, overrides), mode) in loaded.into_iter().zip(modes) {
        let seeds = a.seed.map(|x| vec![x]).unwrap_or_else(|| s.seeds.clone());
        for seed in seeds {
            let req = RunRequest {
                scenario: s.clone(),
                source: source.clone(),
                overrides: overrides.clone(),
                seed,
                out_dir: Some(a.output.out.clone()),
                keep: a.output.keep,
                work_dir: a.output.work_dir.clone(),
                worker_exe: worker_exe.clone(),
                mode,
                replay: None,
            };
            let outcome = if a.check_determinism {
                crate::determinism::check(&req, &mut console)
            } else {
                run(&req, &mut console).map(|o| {
                    side_by_side.add(&o);
                    o.report.passed()
                })
            };
            if interrupted() {
                return EXIT_INTERRUPTED;
            }
            match outcome {
                Ok(true) => passed += 1,
                Ok(false) => failed += 1,
                // Already said, with the kept run directory and the verdict line.
                Err(crate::run::RunError::Unwritten(_)) => unwritten += 1,
                Err(e) => {
                    failed += 1;
                    side_by_side.add_error(&s, seed, &e);
                    console.event(&RunEvent::NotCarriedOut {
                        scenario: &s.name,
                        seed,
                        error: Chain(&e).to_string(),
                        reproduce: &crate::run::reproduce_command(&source, seed, mode, &overrides),
                    });
                }
            }
        }
    }
    if !a.sqlite.is_empty() {
        side_by_side.print(&mut console);
    }
    if unwritten > 0 {
        if passed + failed + unwritten > 1 {
            console.line(&format!(
                "{passed} passed, {failed} failed, {unwritten} ended without a written report (exit {EXIT_UNWRITTEN})"
            ));
        }
        return EXIT_UNWRITTEN;
    }
    if passed + failed > 1 {
        console.line(&format!("{passed} passed, {failed} failed"));
    }
    if failed == 0 { EXIT_PASS } else { EXIT_FAIL }
}
