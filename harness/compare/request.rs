//! What a comparison is asked to do, as plain data (`walburst compare`'s flags are
//! `cli::args::CompareArgs`, which converts into it; the command itself lives in
//! `cli::compare`).

use crate::report::outputs::Outputs;
use crate::scenario::Synchronous;

/// `walburst compare`: see `BENCHMARKS.md` for how to read its output.
#[derive(Debug, Clone)]
pub struct CompareRequest {
    /// A shipped scenario name or a path to a scenario TOML file.
    pub scenario: String,
    /// The seed (default: the scenario's first seed); every strategy runs its schedule.
    pub seed: Option<u64>,
    /// Comma-separated strategies: wal, wal-per-op, flock-tx, flock-conn, flock-poll,
    /// flock-ckpt (see BENCHMARKS.md). Ratios are against the first.
    pub strategies: String,
    /// Runs of each strategy; the order alternates between repeats (A B, B A, ...).
    pub repeat: u32,
    /// Worker process counts to compare at, comma-separated (default: the scenario's).
    pub workers: Vec<u32>,
    /// Override the ops each worker runs.
    pub ops: Option<u32>,
    /// Override `[sqlite] synchronous` for every strategy: off, normal, full or extra.
    pub synchronous: Option<Synchronous>,
    /// Run the whole comparison once per SQLite release (`walburst sqlite list`), e.g.
    /// 3.50.2,3.54.1: one table each, then one line per release.
    pub sqlite: Vec<crate::releases::SqliteVersion>,
    pub output: Outputs,
}
