//! Scenario: what a run is asked to do, as written in a TOML file.
//!
//! Every field has a default so that a scenario file states only what makes it
//! different; `deny_unknown_fields` everywhere so that a typo is an error, not a
//! silently ignored setting. Field-by-field docs: `scenarios/README.md`.

pub mod cohort;
mod embedded;
mod expect;
mod faults;
mod invalid;
mod invariants;
pub mod io_device;
mod io_faults;
mod ledger;
mod load;
pub mod matrix;
mod range;
pub mod release;
pub mod stale_read;
mod strategy;
pub mod sync_point;
mod validate;
mod worker;
mod workload;

pub use embedded::{DEFAULT_SCENARIO, EmbeddedScenario, embedded, find_embedded};
pub use expect::{
    Expect, Expectation, IntegrityExpectation, JudgedCheck, SidecarExpectation,
    WalGrowthExpectation,
};
pub use faults::{Faults, KillPoint, Tamper};
pub use invalid::Invalid;
pub use invariants::{Invariant, MAX_INVARIANTS};
pub use io_faults::{
    FileKind, IoAction, IoFaults, IoOp, IoPhase, IoPoint, IoWhen, MAX_STOP_MS, Nth,
};
pub use ledger::{LedgerTable, OP_KIND_NAMES, RowCheck};
pub use load::{LoadError, LoadProblem, Overrides, Scale, ScenarioSource, load, parse_str, syntax};
pub use stale_read::{StaleRead, StaleTarget};
pub use strategy::{InitLock, LockScope, LockWait, Strategy, WriteLock};
pub use validate::{check_mode, lockstep_only, run_mode, validate};
pub use worker::{CohortCommand, SCENARIO_DIR_VAR, WorkerCommand, WorkerTable};
pub use workload::{
    Attach, CheckpointMode, ClaimStyle, DEFAULT_READER_HOLD_MS, Lifecycle, ListReads, ListWrite,
    OpMix, Profile, READS_PER_SNAPSHOT, ReaderTxn, Setup, Workload,
};

use serde::{Deserialize, Serialize};

/// Upper bounds enforced by validation; beyond them a run is a mistake, not an experiment.
pub const MAX_WORKERS: u32 = 512;
pub const MAX_OPS_PER_WORKER: u32 = 1_000_000;
pub const MAX_TOTAL_OPS: u64 = 10_000_000;
pub const MAX_PAYLOAD_BYTES: u32 = 1 << 20;
pub const MAX_CONNECTIONS_PER_WORKER: u32 = 16;
pub const MAX_IDLE_CONNECTIONS: u32 = 16;
pub const MAX_THINK_TIME_US: u32 = 10_000_000;
/// The longest a reader holds its read transaction open between two reads.
pub const MAX_READER_HOLD_MS: u32 = 10_000;
/// A scenario's name becomes part of report and run-directory file names (with a seed, a
/// timestamp and a matrix case suffix); this keeps them well under the 255-byte limit of
/// one file name.
pub const MAX_NAME_LEN: usize = 120;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Seeds run when the command line names none.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    #[serde(default)]
    pub sqlite: SqliteConfig,
    #[serde(default)]
    pub workload: Workload,
    #[serde(default)]
    pub strategy: Strategy,
    #[serde(default)]
    pub guard: GuardKind,
    #[serde(default)]
    pub guard_at: GuardAt,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub faults: Faults,
    /// Exact I/O fault points and power loss through the fault VFS (`[io]`).
    #[serde(default, skip_serializing_if = "IoFaults::is_off")]
    pub io: IoFaults,
    #[serde(default)]
    pub lockstep: Lockstep,
    #[serde(default)]
    pub expect: Expect,
    /// The worker program; `None`: the built-in worker (PROTOCOL.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<WorkerTable>,
    /// An app-defined ledger; `None`: the built-in kanban ledger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger: Option<LedgerTable>,
    /// The app's invariants: queries that must return no rows after the run
    /// (`observe::invariants`, judged by `check`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invariants: Vec<Invariant>,
    /// Axes expanded into named cases (`harness/scenario/matrix/`, `NIGHTLY.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<matrix::Matrix>,
}

fn default_seeds() -> Vec<u64> {
    vec![1]
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SqliteConfig {
    pub journal_mode: JournalMode,
    pub synchronous: Synchronous,
    pub wal_autocheckpoint: u32,
    pub busy_timeout_ms: u32,
    pub journal_size_limit: i64,
    pub secure_delete: bool,
    pub cell_size_check: bool,
    /// Whether the last connection to close checkpoints (SQLite's default); false sets
    /// SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, leaving committed pages in `-wal`.
    pub checkpoint_on_close: bool,
    /// Only honoured when the database file is created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    /// `PRAGMA mmap_size` in bytes (0: no memory-mapped I/O); absent: SQLite's default.
    /// Production reports tie mmap to a transient WAL race turning into lasting damage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mmap_size: Option<u64>,
    /// The SQLite release to run on (`walburst sqlite list`); absent: the bundled one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<release::SqliteVersion>,
    /// Workers on other releases than the run's (`[[sqlite.cohort]]`, `cohort.rs`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cohort: Vec<cohort::Cohort>,
}

impl Default for SqliteConfig {
    /// The field app's "kanban" profile (BRIEF section 2) with the fix's autocheckpoint.
    fn default() -> Self {
        SqliteConfig {
            journal_mode: JournalMode::Wal,
            synchronous: Synchronous::Full,
            wal_autocheckpoint: 1000,
            busy_timeout_ms: 120_000,
            journal_size_limit: 8_388_608,
            secure_delete: true,
            cell_size_check: true,
            checkpoint_on_close: true,
            page_size: None,
            mmap_size: None,
            version: None,
            cohort: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JournalMode {
    Wal,
    Delete,
    Truncate,
    Persist,
    /// The app chooses (an external `[worker]` only): walburst never sets a journal mode,
    /// the report records what the app's connections set, and the checks judge that mode.
    App,
}

impl JournalMode {
    /// The mode's name as SQLite spells it; `app` is walburst's own word and is never sent
    /// to SQLite (see [`JournalMode::fixed`]).
    pub fn as_sql(self) -> &'static str {
        match self {
            JournalMode::Wal => "wal",
            JournalMode::Delete => "delete",
            JournalMode::Truncate => "truncate",
            JournalMode::Persist => "persist",
            JournalMode::App => "app",
        }
    }

    /// The mode walburst sets on its connections, or `None` when the app chooses.
    pub fn fixed(self) -> Option<JournalMode> {
        (self != JournalMode::App).then_some(self)
    }

    /// The mode SQLite answers for `name` (`PRAGMA journal_mode`'s answer, any case);
    /// `memory` and `off` keep no journal on disk and count as rollback modes here.
    pub fn from_sqlite(name: &str) -> Option<JournalMode> {
        match name.to_ascii_lowercase().as_str() {
            "wal" => Some(JournalMode::Wal),
            "delete" | "memory" | "off" => Some(JournalMode::Delete),
            "truncate" => Some(JournalMode::Truncate),
            "persist" => Some(JournalMode::Persist),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Synchronous {
    Off,
    Normal,
    Full,
    Extra,
}

impl Synchronous {
    /// Every value, in the order the command line lists them.
    pub const ALL: [Synchronous; 4] = [
        Synchronous::Off,
        Synchronous::Normal,
        Synchronous::Full,
        Synchronous::Extra,
    ];

    pub fn as_sql(self) -> &'static str {
        match self {
            Synchronous::Off => "off",
            Synchronous::Normal => "normal",
            Synchronous::Full => "full",
            Synchronous::Extra => "extra",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GuardKind {
    #[default]
    None,
    HeaderProbe,
    HeaderProbeFd,
    PageCount,
    WalAware,
}

impl GuardKind {
    pub fn name(self) -> &'static str {
        match self {
            GuardKind::None => "none",
            GuardKind::HeaderProbe => "header-probe",
            GuardKind::HeaderProbeFd => "header-probe-fd",
            GuardKind::PageCount => "page-count",
            GuardKind::WalAware => "wal-aware",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GuardAt {
    #[default]
    AfterCommit,
    InTransaction,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// The whole run (workers started to last worker exited); past it workers are killed.
    pub run_timeout_secs: u32,
    /// How long workers may take to connect and reach the start barrier.
    pub start_timeout_secs: u32,
    /// Free mode: a worker that reports nothing for this long is stuck; it is killed and
    /// the run fails for liveness (0: twice busy_timeout, at least 60 s).
    pub stall_timeout_secs: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            run_timeout_secs: 600,
            start_timeout_secs: 60,
            stall_timeout_secs: 0,
        }
    }
}

/// How `--mode lockstep` picks the next actor to step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lockstep {
    pub scheduler: SchedulerKind,
    /// PCT's bug depth d: d - 1 priority change points.
    pub pct_depth: u32,
    /// Step budget; past it the run fails for liveness (0: automatic, see `step_budget`).
    pub max_steps: u64,
    /// Seconds one granted step may take before the worker is declared stuck.
    pub step_timeout_secs: u32,
    /// Where a step may be interleaved: between SQL statements, or also at every
    /// shared-memory call SQLite makes on the database (`shm`).
    #[serde(skip_serializing_if = "LockstepPoints::is_statement")]
    pub points: LockstepPoints,
}

/// The granularity of lockstep: which moments are steps the coordinator grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LockstepPoints {
    /// One step per SQL-level action (open, begin, a statement, commit, a checkpoint, ...).
    #[default]
    Statement,
    /// Also inside SQL: every `xShmLock` acquire/release of the database's `-shm` (with its
    /// slot), every `xShmBarrier`, the checkpoint's `CKPT_START`/first backfill write/
    /// `CKPT_DONE` and its `xUnfetch(db, 0, NULL)`, and the WAL-header write pause the step in
    /// the built-in worker's fault VFS until the coordinator grants its resume.
    Shm,
}

impl LockstepPoints {
    /// Every value, in the order error messages list them.
    pub const ALL: [LockstepPoints; 2] = [LockstepPoints::Statement, LockstepPoints::Shm];

    pub fn name(self) -> &'static str {
        match self {
            LockstepPoints::Statement => "statement",
            LockstepPoints::Shm => "shm",
        }
    }

    pub fn is_statement(&self) -> bool {
        *self == LockstepPoints::Statement
    }
}

impl Default for Lockstep {
    fn default() -> Self {
        Lockstep {
            scheduler: SchedulerKind::Random,
            pct_depth: 3,
            max_steps: 0,
            step_timeout_secs: 30,
            points: LockstepPoints::Statement,
        }
    }
}

/// How many more steps the automatic step budget allows at `points = "shm"`.
pub const SHM_STEPS_PER_STATEMENT_STEP: u64 = 16;

impl Lockstep {
    /// The steps a run may take before lockstep declares a livelock. Retries of actors
    /// waiting for a lock (a BUSY the coordinator cannot rule out as futile) compete with the
    /// holder's steps, so the steps per op can grow with the number of actors (`smoke`
    /// without its init lock at 96 workers x 2 ops: 62,692 steps for 192 ops, 1.7 per op per
    /// actor, over the old flat 256 per op; flock waiters on a lock known held are skipped). Automatic: per planned op 16 steps per actor,
    /// at least 256, and at least 1000 in all.
    pub fn step_budget(&self, total_ops: u64, actors: u64) -> u64 {
        if self.max_steps > 0 {
            self.max_steps
        } else {
            let per_op = actors.saturating_mul(16).max(256);
            // Below SQL every op is many steps: each of its shm calls, and each retry of a
            // shm lock a paused actor holds (measured in docs/wal-reset-window.md).
            let per_op = match self.points {
                LockstepPoints::Statement => per_op,
                LockstepPoints::Shm => per_op.saturating_mul(SHM_STEPS_PER_STATEMENT_STEP),
            };
            total_ops.saturating_mul(per_op).max(1000)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchedulerKind {
    /// Uniform over the actors waiting to step.
    Random,
    /// Probabilistic concurrency testing: priorities with change points.
    Pct,
}

impl SchedulerKind {
    /// Every kind, in the order the command line lists them.
    pub const ALL: [SchedulerKind; 2] = [SchedulerKind::Random, SchedulerKind::Pct];

    /// The name used in scenario files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SchedulerKind::Random => "random",
            SchedulerKind::Pct => "pct",
        }
    }

    /// What it does, in a few words (the command line's help lists it with the name).
    pub fn about(self) -> &'static str {
        match self {
            SchedulerKind::Random => "Uniform over the actors waiting to step",
            SchedulerKind::Pct => {
                "Probabilistic concurrency testing: priorities with change points"
            }
        }
    }
}

/// Free-running processes, or one SQL step at a time under a seeded scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    #[default]
    Free,
    Lockstep,
}

impl Mode {
    /// Every mode, in the order the command line lists them.
    pub const ALL: [Mode; 2] = [Mode::Free, Mode::Lockstep];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Free => "free",
            Mode::Lockstep => "lockstep",
        }
    }
}

impl Limits {
    pub fn stall_timeout(&self, busy_timeout_ms: u32) -> std::time::Duration {
        let secs = if self.stall_timeout_secs > 0 {
            u64::from(self.stall_timeout_secs)
        } else {
            (u64::from(busy_timeout_ms) * 2 / 1000).max(60)
        };
        std::time::Duration::from_secs(secs)
    }
}

impl Scenario {
    /// The program each worker runs, resolved against `source`'s directory.
    pub fn worker_command(
        &self,
        source: &ScenarioSource,
        builtin_exe: &std::path::Path,
    ) -> Result<WorkerCommand, Invalid> {
        match &self.worker {
            None => Ok(WorkerCommand::builtin(builtin_exe)),
            Some(t) => worker::resolve(t, &source.dir()),
        }
    }

    pub fn total_ops(&self) -> u64 {
        u64::from(self.workload.workers) * u64::from(self.workload.ops_per_worker)
    }

    /// One line of the settings that matter most, for the first line of a run.
    pub fn key_settings(&self) -> String {
        let s = &self.sqlite;
        let w = &self.workload;
        format!(
            "journal_mode={} synchronous={} wal_autocheckpoint={} workers={} ops_per_worker={} connection={} write_lock={} guard={}",
            s.journal_mode.as_sql(),
            s.synchronous.as_sql(),
            s.wal_autocheckpoint,
            w.workers,
            w.ops_per_worker,
            match w.connection {
                Lifecycle::Persistent => "persistent",
                Lifecycle::PerOp => "per-op",
            },
            match self.strategy.write_lock {
                WriteLock::None => "none",
                WriteLock::Flock => "flock",
            },
            self.guard.name(),
        ) + &s
            .mmap_size
            .map(|m| format!(" mmap_size={m}"))
            .unwrap_or_default()
            + &s.version
                .map(|v| format!(" sqlite={v}"))
                .unwrap_or_default()
            + &s.cohort_setting()
            + &self.worker_setting()
    }

    /// ` worker=<program> <script>` for an external worker (file names only), else nothing.
    fn worker_setting(&self) -> String {
        let Some(w) = &self.worker else {
            return String::new();
        };
        let names: Vec<&str> = w
            .command
            .iter()
            .take(2)
            .map(|a| a.rsplit('/').next().unwrap_or(a))
            .collect();
        format!(" worker={}", names.join(" "))
    }
}
