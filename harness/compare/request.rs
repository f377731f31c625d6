//! What a comparison is asked to do (also `walburst compare`'s arguments: the CLI flattens
//! this struct; the command itself lives in `cli::compare`).

use crate::report::outputs::OutputArgs;
use crate::scenario::DEFAULT_SCENARIO;
use crate::scenario::Synchronous;

use super::strategies::DEFAULT_STRATEGIES;

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
