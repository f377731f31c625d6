//! `[workload]`: what each worker runs (sizes, the op mix, the profile and its own fields).

use serde::{Deserialize, Serialize};

use super::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Workload {
    /// Schema and operations; only "kanban" exists today.
    pub profile: Profile,
    pub workers: u32,
    pub ops_per_worker: u32,
    pub mix: OpMix,
    pub checkpoint_mode: CheckpointMode,
    /// The checkpointer role: workers `0..checkpointers` run only `checkpoint` ops (in
    /// `checkpoint_mode`, back to back on their own schedule), as litestream and many apps'
    /// maintenance threads do; the others draw from `mix`. 0 = none.
    #[serde(skip_serializing_if = "is_zero")]
    pub checkpointers: u32,
    /// Inclusive range of payload sizes in bytes (task bodies, comments, results).
    #[serde(deserialize_with = "range::exactly_two")]
    pub payload_bytes: [u32; 2],
    /// Inclusive range of pauses before each op, in microseconds; [0, 0] is a tight burst.
    #[serde(deserialize_with = "range::exactly_two")]
    pub think_time_us: [u32; 2],
    pub connection: Lifecycle,
    pub connections_per_worker: u32,
    pub idle_connections: u32,
    pub setup: Setup,
    /// `list-append` only: where a transaction's reads run. `before-begin` is a deliberately
    /// non-isolated variant, a negative control for the isolation checker.
    pub list_reads: ListReads,
    /// `list-append` only: how a transaction writes its lists. `rewrite` and
    /// `rewrite-stale-retry` read each list and write it back whole (a read-modify-write in a
    /// deferred transaction); the second is the lost-update negative control.
    #[serde(skip_serializing_if = "ListWrite::is_append")]
    pub list_write: ListWrite,
    /// How `claim_task` claims a task (built-in worker, kanban). `read-then-write` is a
    /// deliberately racy claim, a negative control for `[[invariants]]`.
    #[serde(skip_serializing_if = "ClaimStyle::is_compare_and_swap")]
    pub claim: ClaimStyle,
    /// The reader role (built-in worker, kanban): workers `checkpointers..checkpointers +
    /// readers` run only `read_snapshot` ops, each one read transaction that reads the board
    /// [`READS_PER_SNAPSHOT`] times while the writers commit. 0 = none.
    #[serde(skip_serializing_if = "is_zero")]
    pub readers: u32,
    /// Inclusive range of milliseconds a reader holds its read transaction open between two
    /// reads (free mode; drawn per op from the seed). Lockstep ignores it: there the
    /// scheduler places other actors' steps between the reads.
    #[serde(
        deserialize_with = "range::exactly_two",
        skip_serializing_if = "is_default_hold"
    )]
    pub reader_hold_ms: [u32; 2],
    /// How a reader's reads share a transaction. `restart-between-reads` is a deliberately
    /// broken reader, the negative control of the snapshot-stability check.
    #[serde(skip_serializing_if = "ReaderTxn::is_one_snapshot")]
    pub reader_txn: ReaderTxn,
    /// A second database ATTACHed to every connection (built-in worker, kanban, rollback
    /// journal): each write transaction also writes a row to it, so SQLite commits the two
    /// files through a super-journal, and the ledger judges them all or nothing together.
    #[serde(skip_serializing_if = "Attach::is_none")]
    pub attach: Attach,
}

/// Which database, if any, every connection ATTACHes beside the main one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Attach {
    /// One database per connection, as before.
    #[default]
    None,
    /// `aux.db` beside the main database, attached as schema `aux`
    /// (`protocol::aux_db_path`): every write op mirrors its (worker, seq) into
    /// `aux.task_mirror` in the same transaction.
    Aux,
}

impl Attach {
    pub fn is_none(&self) -> bool {
        *self == Attach::None
    }
}

/// Reads of one `read_snapshot` op: at least two, so the stability check has a pair.
pub const READS_PER_SNAPSHOT: u32 = 3;
/// The default `reader_hold_ms`.
pub const DEFAULT_READER_HOLD_MS: [u32; 2] = [1, 20];

fn is_default_hold(r: &[u32; 2]) -> bool {
    *r == DEFAULT_READER_HOLD_MS
}

/// How a `read_snapshot` op's reads share a transaction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReaderTxn {
    /// Every read inside one `BEGIN DEFERRED` read transaction: one snapshot, so every read
    /// must return the same board (SQLite's isolation; threadtest3's "Isolation failure").
    #[default]
    OneSnapshot,
    /// Test-only: COMMIT and BEGIN again between two reads, yet report them as one read
    /// transaction; the snapshot-stability check must catch it by name.
    RestartBetweenReads,
}

impl ReaderTxn {
    pub fn is_one_snapshot(&self) -> bool {
        *self == ReaderTxn::OneSnapshot
    }
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            profile: Profile::Kanban,
            workers: 20,
            ops_per_worker: 220,
            mix: OpMix::creates_only(),
            checkpoint_mode: CheckpointMode::Passive,
            checkpointers: 0,
            payload_bytes: [64, 512],
            think_time_us: [0, 0],
            connection: Lifecycle::Persistent,
            connections_per_worker: 1,
            idle_connections: 0,
            setup: Setup::Runner,
            list_reads: ListReads::InTransaction,
            list_write: ListWrite::Append,
            claim: ClaimStyle::CompareAndSwap,
            readers: 0,
            reader_hold_ms: DEFAULT_READER_HOLD_MS,
            reader_txn: ReaderTxn::OneSnapshot,
            attach: Attach::None,
        }
    }
}

/// Keeps a zero count out of serialized scenarios, so that adding the field changed no
/// existing scenario's text (run.json, reports, shrink output).
fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    Kanban,
    /// Elle's list-append workload: transactions of appends to and reads of keyed lists,
    /// judged by the isolation checker (`check::isolation`).
    ListAppend,
}

/// Where a `list-append` transaction's reads run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ListReads {
    /// Inside the write transaction, between its appends: serializable.
    #[default]
    InTransaction,
    /// Each read in its own autocommit statement before `BEGIN IMMEDIATE`, reported as part
    /// of the transaction: not isolated, so the checker must find anomalies.
    BeforeBegin,
}

/// How a `list-append` transaction writes its lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ListWrite {
    /// `INSERT` one row per appended value inside `BEGIN IMMEDIATE`: SQLite appends.
    #[default]
    Append,
    /// A read-modify-write in a deferred transaction: read each list the transaction touches
    /// (table `list_registers`, the whole list in one row), then write each back with the
    /// transaction's values appended. When the write is turned away (busy, or a stale
    /// snapshot) the whole transaction runs again, reads included: serializable.
    Rewrite,
    /// The same read-modify-write, but a write turned away is retried alone in a new deferred
    /// transaction with the lists read before (nothing is read again), so it overwrites
    /// what another process committed meanwhile: a lost update, the negative control of the
    /// isolation checker's G-single.
    RewriteStaleRetry,
}

impl ListWrite {
    pub fn is_append(&self) -> bool {
        *self == ListWrite::Append
    }
}

/// How a `claim_task` op claims the oldest ready task.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClaimStyle {
    /// The field app's claim: inside `BEGIN IMMEDIATE`, read the task, then update it only
    /// if it is still ready and unlocked. A task is claimed once.
    #[default]
    CompareAndSwap,
    /// A deliberately racy claim: a deferred transaction reads the task, then updates it by
    /// id alone; when the update is turned away (busy, or a stale snapshot) it rolls back and
    /// retries the update in a new transaction without reading again. Two workers can claim
    /// one task: a negative control for `[[invariants]]`.
    ReadThenWrite,
}

impl ClaimStyle {
    pub fn is_compare_and_swap(&self) -> bool {
        *self == ClaimStyle::CompareAndSwap
    }
}

/// Relative weights of the operations a worker draws; zero disables one. A weight left out
/// of a `[workload.mix]` table is 0; a scenario without the table creates tasks only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpMix {
    #[serde(default)]
    pub create_task: u32,
    #[serde(default)]
    pub claim_task: u32,
    #[serde(default)]
    pub heartbeat: u32,
    #[serde(default)]
    pub add_comment: u32,
    #[serde(default)]
    pub complete_task: u32,
    #[serde(default)]
    pub gc_events: u32,
    #[serde(default)]
    pub checkpoint: u32,
}

impl OpMix {
    pub fn creates_only() -> Self {
        OpMix {
            create_task: 1,
            claim_task: 0,
            heartbeat: 0,
            add_comment: 0,
            complete_task: 0,
            gc_events: 0,
            checkpoint: 0,
        }
    }

    /// Weights in the fixed order of [`crate::plan::OpKind::ALL`]; the plan draws from this.
    pub fn weights(&self) -> [u32; 7] {
        [
            self.create_task,
            self.claim_task,
            self.heartbeat,
            self.add_comment,
            self.complete_task,
            self.gc_events,
            self.checkpoint,
        ]
    }
}

impl Default for OpMix {
    fn default() -> Self {
        OpMix::creates_only()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckpointMode {
    Passive,
    Full,
    Restart,
    Truncate,
}

impl CheckpointMode {
    pub fn as_sql(self) -> &'static str {
        match self {
            CheckpointMode::Passive => "PASSIVE",
            CheckpointMode::Full => "FULL",
            CheckpointMode::Restart => "RESTART",
            CheckpointMode::Truncate => "TRUNCATE",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Lifecycle {
    /// One connection per actor for the whole run.
    Persistent,
    /// Open, run one op, close: what many CLI tools do.
    PerOp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Setup {
    /// The runner creates the schema and sets the journal mode before workers start.
    Runner,
    /// Every connection runs the schema and journal-mode setup, racing the others.
    Race,
}
