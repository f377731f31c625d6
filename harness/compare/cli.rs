//! The `walburst compare` command line: its arguments and the command entry point.

use crate::cli::{EXIT_FAIL, EXIT_PASS, EXIT_USAGE, OutputArgs};
use crate::report::console::Console;
use crate::scenario::DEFAULT_SCENARIO;
use crate::scenario::Synchronous;

use super::strategies::DEFAULT_STRATEGIES;
use super::{Output, execute, prepare};

/// `walburst compare`: see `BENCHMARKS.md` for how to read its output.
#[derive(Debug, Clone, clap::Args)]
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
    #[arg(long, value_name = "MODE", value_enum)]
    pub synchronous: Option<Synchronous>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `walburst compare`: exit 0 when every run passed, 1 when one failed or could not be
/// carried out, 2 on bad input (nothing written).
pub fn command(a: CompareArgs) -> i32 {
    let prepared = match prepare(&a) {
        Ok(p) => p,
        Err(msg) => {
            eprintln!("error: {msg}");
            return EXIT_USAGE;
        }
    };
    let worker_exe = match crate::cli::worker_exe(None) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let out = Output {
        out_dir: a.output.out,
        work_dir: a.output.work_dir,
        keep: a.output.keep,
        worker_exe,
    };
    let mut console = Console::new(false);
    match execute(&prepared, &out, &mut console) {
        Ok(c) => {
            console.line("");
            console.line(c.table.trim_end());
            console.line(&format!("compare report: {}", c.json_path.display()));
            console.line(&format!("chart: {}", c.svg_path.display()));
            let failed = c.report.runs.iter().filter(|r| r.verdict != "pass").count();
            if failed == 0 {
                console.line(&format!(
                    "PASS compare {}: {} runs passed",
                    c.report.scenario,
                    c.report.runs.len()
                ));
                EXIT_PASS
            } else {
                console.line(&format!(
                    "FAIL compare {}: {failed} of {} runs did not pass (see above and {})",
                    c.report.scenario,
                    c.report.runs.len(),
                    c.json_path.display()
                ));
                EXIT_FAIL
            }
        }
        Err(e) => {
            eprintln!("error: the comparison could not be carried out: {e:#}");
            EXIT_FAIL
        }
    }
}
