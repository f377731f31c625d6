//! The command line: parsing (clap derive) and dispatch. Exit codes: 0 pass, 1 fail,
//! 2 bad usage or input.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::report::console::Console;
use crate::run::{RunRequest, run};
use crate::scenario::{self, DEFAULT_SCENARIO, LoadError, Mode, Overrides, SchedulerKind};

pub const EXIT_PASS: i32 = 0;
pub const EXIT_FAIL: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
/// SIGINT/SIGTERM stopped a run (the shell convention for SIGINT).
pub const EXIT_INTERRUPTED: i32 = 130;

/// From here on SIGINT/SIGTERM stop the current run cleanly: workers killed, an
/// `interrupted` report written, the run directory kept.
pub fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| {
        crate::exec::procs::INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
    });
}

fn interrupted() -> bool {
    crate::exec::procs::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}

#[derive(Debug, Parser)]
#[command(
    name = "walburst",
    version,
    about = "Seeded multi-process SQLite write bursts: false vs real corruption, lost writes, lock strategies",
    long_about = "walburst launches real worker processes that run seeded write schedules against one \
SQLite file, then checks the database (integrity_check, quick_check), the ledger of every write \
(no lost, phantom or duplicate rows), write exclusion, lock sidecars and the app-level corruption \
guards, and writes a JSON report. The same seed always gives the same schedule. Workers are \
walburst's own, or your app through an adapter that speaks the worker protocol (a scenario's \
[worker] table; see PROTOCOL.md).\n\n\
Exit status: 0 every run passed, 1 a run failed, 2 bad usage or input.",
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
    List(crate::nightly::ListArgs),
    /// Merge sweep shard results into one summary JSON, JUnit file and markdown summary.
    Merge(crate::nightly::merge::MergeArgs),
    /// Re-run exactly what a report describes and say whether it reproduced.
    Replay(ReplayArgs),
    /// Run the same seeded schedule under several lock strategies and compare them side by side.
    Compare(crate::compare::CompareArgs),
    /// Search for the smallest lockstep run that fails for the same reason as a report (or a
    /// scenario and seed), and write it as a scenario file.
    Shrink(crate::shrink::cli::ShrinkArgs),
    /// Swarm testing: draw whole scenarios from a seeded generator, run each, judge them
    /// against properties every configuration must keep, and shrink what fails.
    Explore(crate::explore::cli::ExploreArgs),
    /// Internal: one worker process of a run (started by `walburst run`).
    #[command(hide = true)]
    Worker(WorkerArgs),
    /// Internal: one (case, seed) of a sweep (started by `walburst run` sweeps).
    #[command(hide = true)]
    SweepPair(crate::nightly::pair::PairArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ScaleArgs {
    /// Override the scenario's worker process count (recorded in the report).
    #[arg(long, value_name = "N")]
    pub workers: Option<u32>,
    /// Override the ops each worker runs (recorded in the report).
    #[arg(long, value_name = "N")]
    pub ops: Option<u32>,
    /// Lockstep scheduler, overriding the scenario's `[lockstep] scheduler`.
    #[arg(long, value_enum, value_name = "KIND")]
    pub scheduler: Option<SchedulerKind>,
    /// PCT bug depth, overriding the scenario's `[lockstep] pct_depth`.
    #[arg(long, value_name = "D")]
    pub pct_depth: Option<u32>,
}

impl ScaleArgs {
    fn overrides(&self) -> Overrides {
        Overrides {
            workers: self.workers,
            ops: self.ops,
            scheduler: self.scheduler,
            pct_depth: self.pct_depth,
        }
    }
}

#[derive(Debug, Args)]
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
    /// Print only the seed and verdict lines.
    #[arg(long, short)]
    pub quiet: bool,
    /// `free`: processes race as the OS schedules them. `lockstep`: one SQL step at a time,
    /// chosen by the seeded scheduler, so the interleaving itself is reproducible.
    #[arg(long, value_enum, default_value = "free")]
    pub mode: Mode,
    /// Run each seed twice in lockstep and compare trace and content hashes.
    #[arg(long)]
    pub check_determinism: bool,
    /// The executable started as each worker (default: this walburst binary).
    #[arg(long, value_name = "PATH", hide = true)]
    pub worker_exe: Option<PathBuf>,
    #[command(flatten)]
    pub scale: ScaleArgs,
    #[command(flatten)]
    pub sweep: crate::nightly::SweepArgs,
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
    #[command(flatten)]
    pub output: OutputArgs,
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

/// The built-in worker takes no arguments: it reads the protocol's `start` message from
/// stdin (PROTOCOL.md).
#[derive(Debug, Args)]
pub struct WorkerArgs {}

/// Prints to stdout; a closed pipe (`walburst plan ... | head`) ends the command quietly.
fn print_out(text: &str) -> i32 {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|_| out.flush()) {
        Ok(()) => EXIT_PASS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => EXIT_PASS,
        Err(e) => {
            eprintln!("error: cannot write to stdout: {e}");
            EXIT_FAIL
        }
    }
}

/// The executable started as each worker: `explicit`, or this walburst binary. `Err` holds
/// the exit code after the error has been printed.
pub fn worker_exe(explicit: Option<PathBuf>) -> Result<PathBuf, i32> {
    explicit
        .map_or_else(std::env::current_exe, Ok)
        .map_err(|e| {
            eprintln!("error: cannot find walburst's own executable to start workers: {e}");
            EXIT_FAIL
        })
}

fn usage_error(e: LoadError) -> i32 {
    eprintln!("error: {e}");
    EXIT_USAGE
}

pub fn main_with(cli: Cli) -> i32 {
    match cli.command {
        Command::Worker(_) => crate::exec::worker::worker_main(),
        Command::List(l) if l.scenario.is_some() => crate::nightly::list_command(&l),
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
        Command::Compare(a) => crate::compare::command(a),
        Command::Merge(a) => crate::nightly::merge::merge_command(a),
        Command::SweepPair(a) => crate::nightly::pair::pair_main(a),
        Command::Shrink(a) => crate::shrink::cli::command(a),
        Command::Explore(a) => crate::explore::cli::command(a),
    }
}

fn replay_command(a: ReplayArgs) -> i32 {
    let report = match crate::replay::read_report(&a.report) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let worker_exe = match worker_exe(None) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let opts = crate::replay::ReplayOptions {
        lockstep: a.lockstep,
        out_dir: a.output.out,
        work_dir: a.output.work_dir,
        keep: a.output.keep,
        worker_exe,
    };
    let mut console = Console::new(false);
    install_interrupt_handler();
    match crate::replay::replay(&report, &opts, &mut console) {
        Ok(true) => EXIT_PASS,
        Ok(false) => EXIT_FAIL,
        Err(e) => {
            eprintln!("error: the replay could not be carried out: {e:#}");
            EXIT_FAIL
        }
    }
}

fn run_command(a: RunArgs) -> i32 {
    let overrides = a.scale.overrides();
    if a.mode == Mode::Free
        && !a.check_determinism
        && (overrides.scheduler.is_some() || overrides.pct_depth.is_some())
    {
        eprintln!(
            "error: --scheduler and --pct-depth apply only with --mode lockstep (or --check-determinism)"
        );
        return EXIT_USAGE;
    }
    if crate::nightly::is_sweep(&a) {
        return crate::nightly::sweep::run_sweep(&a);
    }
    // Load and validate everything before running anything: bad input writes nothing.
    let mut loaded = Vec::new();
    for spec in &a.scenarios {
        match crate::nightly::load_case(spec, &overrides) {
            Ok(x) => loaded.push(x),
            Err(e) => return usage_error(e),
        }
    }
    let worker_exe = match worker_exe(a.worker_exe.clone()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut console = Console::new(a.quiet);
    install_interrupt_handler();
    // A determinism check only means something when the interleaving is the seed's.
    let mode = if a.check_determinism {
        Mode::Lockstep
    } else {
        a.mode
    };
    let (mut passed, mut failed) = (0u32, 0u32);
    for (s, source) in loaded {
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
                run(&req, &mut console).map(|o| o.report.passed())
            };
            if interrupted() {
                return EXIT_INTERRUPTED;
            }
            match outcome {
                Ok(true) => passed += 1,
                Ok(false) => failed += 1,
                Err(e) => {
                    failed += 1;
                    console.line(&format!(
                        "FAIL {} seed={seed}: the run could not be carried out: {e:#}; reproduce: {}",
                        s.name,
                        crate::run::reproduce_command(&source, seed, mode, &overrides)
                    ));
                }
            }
        }
    }
    if passed + failed > 1 {
        console.line(&format!("{passed} passed, {failed} failed"));
    }
    if failed == 0 { EXIT_PASS } else { EXIT_FAIL }
}
