//! What a sweep, a merge or a sweep pair can end in, typed. The commands return these; the
//! CLI alone turns them into exit codes (`cli::nightly_code`).

use std::path::PathBuf;

use crate::scenario::LoadError;

/// How a sweep, merge or pair that got going ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Every pair passed (or, for `list`, the listing was printed).
    Pass,
    /// A pair failed, was not run, or could not be carried out.
    Fail,
    /// Everything ran but a summary, index or JUnit file could not be written.
    Unwritten,
    /// SIGINT/SIGTERM stopped it: no further pair was started.
    Interrupted,
}

/// Why a sweep (or one of its pairs) could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A scenario, a case or the regression corpus does not load.
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("--seed runs one seed; it cannot be combined with --seeds, --base-seed or --nightly")]
    SeedWithSweep,
    #[error("--nightly derives the base seed from the date; drop --base-seed (or --nightly)")]
    NightlyWithBaseSeed,
    #[error("--seeds 0 runs nothing; allowed: 1 or more")]
    NoSeeds,
    #[error("--jobs 0 runs nothing; allowed: 1 or more")]
    NoJobs,
    #[error("--date `{0}` is not a calendar date written YYYY-MM-DD")]
    BadDate(String),
    #[error("--base-seed {base} with --seeds {seeds} runs past the largest seed")]
    SeedOverflow { base: u64, seeds: u64 },
    /// `--regressions FILE` names a file that does not exist.
    #[error(
        "{}: no such regression corpus (give an existing file, or --record-failures to start one)",
        .0.display()
    )]
    NoCorpus(PathBuf),
    /// `--trace FILE` of a pair does not read as a lockstep trace.
    #[error("--trace {}: {reason}", path.display())]
    BadTrace { path: PathBuf, reason: String },
    /// An output (`--out`, `--work-dir`, `--junit`) cannot be written; found before any run.
    #[error(transparent)]
    Output(crate::report::outputs::OutputError),
    /// Another sweep holds the run index of this `--out` (and shard).
    #[error(
        "--out {}: another sweep is writing its run index there (it holds {}); give each sweep its own --out",
        out.display(),
        lock.display()
    )]
    OutBusy { out: PathBuf, lock: PathBuf },
    /// A file or directory the sweep needs cannot be made; not bad input.
    #[error("cannot {doing} {}", path.display())]
    Io {
        doing: &'static str,
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
}

impl SweepError {
    /// Whether the input was at fault (refused before anything ran: exit 2); otherwise the
    /// machine was (exit 1).
    pub fn is_usage(&self) -> bool {
        !matches!(self, SweepError::Io { .. })
    }
}

/// Why shard results cannot be merged; always bad input (nothing is written).
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{}: cannot read", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error("{}: no sweep-index*.jsonl here (give the --out directory of a sweep)", .0.display())]
    NoIndex(PathBuf),
    #[error("{}: {reason}", path.display())]
    BadIndex { path: PathBuf, reason: String },
    #[error("{}: index format {found} (this walburst reads {expected})", path.display())]
    Format {
        path: PathBuf,
        found: String,
        expected: &'static str,
    },
    #[error("{}: does not start with a sweep header", .0.display())]
    NoHeader(PathBuf),
    #[error("{}: a second sweep header", .0.display())]
    SecondHeader(PathBuf),
    #[error(
        "{} and {} are from different sweeps ({first_hash} vs {other_hash}): merge the shards of one sweep (same command, same --date)",
        first.display(),
        other.display()
    )]
    DifferentSweeps {
        first: PathBuf,
        other: PathBuf,
        first_hash: String,
        other_hash: String,
    },
    #[error("{} is shard {index}/{count} but {} is of {expected} shards", path.display(), first.display())]
    ShardCount {
        path: PathBuf,
        index: u32,
        count: u32,
        first: PathBuf,
        expected: u32,
    },
    #[error(
        "{} is a {kind} partition but {} is a {expected} partition: merge the partitions of one kind",
        path.display(),
        first.display()
    )]
    PartitionKinds {
        path: PathBuf,
        kind: &'static str,
        first: PathBuf,
        expected: &'static str,
    },
    #[error("shard {index}/{count} appears twice: {} and {}", a.display(), b.display())]
    ShardTwice {
        index: u32,
        count: u32,
        a: PathBuf,
        b: PathBuf,
    },
    /// `--out` cannot be written.
    #[error(transparent)]
    Output(crate::report::outputs::OutputError),
}
