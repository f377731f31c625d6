//! Observations: what workers report about each op, and what the runner saw of them.
//! These are the raw history; checks and reports are computed from them.

pub mod clock;
pub mod invariants;
pub mod io;
pub mod lockstep;
mod sql_error;
pub mod step;
mod summary;

pub use sql_error::{HarnessError, SqlError, code_name, primary_code};

pub use summary::{BusySummary, LatencySummary, PerWorker, Totals, summarize};

use serde::{Deserialize, Serialize};

use crate::plan::OpKind;

/// One actor of a run: (worker, connection index within the worker).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ActorId {
    pub worker: u32,
    pub actor: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// COMMIT returned OK.
    Committed,
    /// The op ended its transaction with ROLLBACK (nothing to do, or a guard fired inside it).
    RolledBack,
    /// The op did not commit (an error before COMMIT, or a COMMIT that left the transaction
    /// open and was rolled back).
    Failed,
    /// Nobody knows: COMMIT failed after the transaction had ended. The ledger settles it.
    Ambiguous,
    /// A non-transactional op (checkpoint) or a read transaction (`read_snapshot`) ran.
    Done,
}

impl Outcome {
    /// As written in records and reports.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Committed => "committed",
            Outcome::RolledBack => "rolled_back",
            Outcome::Failed => "failed",
            Outcome::Ambiguous => "ambiguous",
            Outcome::Done => "done",
        }
    }
}

/// One "database is locked" seen by an op, and whether the op then got past it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusyEvent {
    pub code: String,
    /// `connect`, `begin` or `commit`.
    pub during: String,
    /// Whether the harness retried (per the strategy) after it.
    pub retried: bool,
}

/// An app-level guard that fired: the "torn-extend detected" message of the field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardReport {
    pub guard: String,
    /// `after-commit` or `in-transaction`.
    pub at: String,
    pub claimed_pages: u64,
    pub file_pages: u64,
    pub deficit: u64,
    pub page_size: u64,
    pub file_size: u64,
    pub journal_mode: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpRecord {
    pub worker: u32,
    pub actor: u32,
    pub seq: u32,
    pub kind: OpKind,
    pub outcome: Outcome,
    /// Why a rollback happened (`nothing to claim`, `guard fired`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<SqlError>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub busy: Vec<BusyEvent>,
    /// Time spent waiting for the strategy's global write lock.
    #[serde(default)]
    pub lock_wait_us: u64,
    /// Time BEGIN IMMEDIATE took (SQLite's busy handler waiting for the write lock).
    #[serde(default)]
    pub begin_wait_us: u64,
    /// From the op's start (after its think time) to the end of COMMIT/ROLLBACK.
    #[serde(default)]
    pub latency_us: u64,
    /// CLOCK_MONOTONIC nanoseconds.
    pub t_start_ns: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t_begin_ok_ns: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t_commit_issued_ns: Option<u64>,
    pub t_end_ns: u64,
    /// `task_events.id` the op inserted: with per-worker seqs, the observed commit order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<GuardReport>,
    /// The guard could not look (a stat, open, read or PRAGMA failed): it vouches for
    /// nothing, so it is counted (`checks.guard_errors`), never taken as a guard that passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard_error: Option<String>,
    /// `PRAGMA wal_checkpoint` result: (busy, log frames, checkpointed frames).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<[i64; 3]>,
    /// A `list_txn`'s micro-ops as run: each read with what it returned (`None` when it
    /// never ran). The isolation checker's history.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub list: Vec<crate::plan::list_append::ListMop>,
    /// A `read_snapshot`'s reads, in order, all inside one read transaction (the
    /// snapshot-stability check's input).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reads: Vec<SnapshotRead>,
    /// Frames the `-wal` file has room for, from its size right after this op's COMMIT (or
    /// checkpoint): the WAL's high-water mark then (the checkpoint-starvation check's input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wal_frames: Option<u64>,
    /// A `claim_task`'s read of the task it claimed, as an external worker's app reports
    /// it: the isolation checker's claims history takes the claim's read from here
    /// (`check::isolation::claims`). The built-in worker sends none: its claim SQL picks only
    /// a ready, unclaimed task, which is what the checker then takes it to have read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_read: Option<ClaimRead>,
}

/// What a claim read of its task before claiming it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRead {
    pub task_id: String,
    /// The task's `claim_lock` as read: `null` when no claim held it (ready), else the
    /// holding claim's `w<worker>:<seq>` (`w003:17`), as the kanban schema writes it.
    pub claim_lock: Option<String>,
}

/// One read of the board inside a reader's read transaction: what it returned, and when
/// (monotonic nanoseconds, after the read returned).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRead {
    /// `count(*)` of `tasks`.
    pub tasks: i64,
    /// `count(*)` of `task_events`.
    pub events: i64,
    /// A checksum of every task's `status`, `updated_at` and `heartbeat_at`: changes with
    /// every claim, heartbeat and completion.
    pub checksum: i64,
    pub t_ns: u64,
}

impl SnapshotRead {
    /// What was read, without when: two reads of one snapshot must agree on this.
    pub fn values(&self) -> (i64, i64, i64) {
        (self.tasks, self.events, self.checksum)
    }
}

/// How a worker process ended, as the runner saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerExit {
    pub worker: u32,
    pub pid: u32,
    /// The worker said it finished its schedule.
    pub finished: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Killed by the runner (deadline); `None` when it exited on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub killed_because: Option<String>,
    /// A fatal error the worker reported, or the tail of its stderr.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// No incarnation of this worker was sent `go`: none of its ops ran ("not run", never
    /// "ambiguous"), and any row carrying its identity is a phantom.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub never_started: bool,
    /// Processes the worker started that were still running after it exited (its process
    /// group); the runner killed them. A liveness failure: they could have written on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children_outlived: Vec<u32>,
    /// The worker sent `fatal` (its message is `error`): it failed, whatever it did next.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub fatal: bool,
    pub records: u64,
    /// The runner killed it for breaking the worker protocol (PROTOCOL.md, "Named failures").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_failure: Option<ProtocolFailure>,
    /// What the worker said in its `hello`: `rust`, `python`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub implementation: Option<String>,
    /// The SQLite the worker's code links (the app's, not walburst's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqlite_version: Option<String>,
    /// What the app's connections actually ran with, as the adapter read them (`settings`
    /// messages of every incarnation): each distinct answer once, at most
    /// [`MAX_SETTINGS`]. Empty: the adapter reported none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<AppSettings>,
    /// `settings` messages received (also those equal to one already kept, or past the cap).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub settings_reports: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Distinct effective settings kept per worker; more distinct answers are counted only.
pub const MAX_SETTINGS: usize = 16;

/// One connection's effective settings as the app's process read them back from SQLite
/// (PROTOCOL.md, `settings`): what ran, not what the scenario asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AppSettings {
    /// `sqlite3_libversion()` of the library the process loaded.
    pub sqlite_version: String,
    /// `PRAGMA journal_mode`'s answer, lower case (`None`: could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_mode: Option<String>,
    /// `off`, `normal`, `full` or `extra`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synchronous: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wal_autocheckpoint: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub busy_timeout_ms: Option<i64>,
    /// `normal` or `exclusive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locking_mode: Option<String>,
    /// `PRAGMA mmap_size`'s answer in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mmap_size: Option<i64>,
}

impl AppSettings {
    /// `journal_mode=delete synchronous=full ...`: the fields that were read.
    pub fn describe(&self) -> String {
        let opt = |k: &str, v: Option<String>| v.map(|v| format!("{k}={v}"));
        [
            opt("journal_mode", self.journal_mode.clone()),
            opt("synchronous", self.synchronous.clone()),
            opt(
                "wal_autocheckpoint",
                self.wal_autocheckpoint.map(|v| v.to_string()),
            ),
            opt(
                "busy_timeout_ms",
                self.busy_timeout_ms.map(|v| v.to_string()),
            ),
            opt("locking_mode", self.locking_mode.clone()),
            opt("mmap_size", self.mmap_size.map(|v| v.to_string())),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
    }
}

impl WorkerExit {
    /// Takes one `settings` report into account (each distinct answer kept once, bounded).
    pub fn note_settings(&mut self, s: AppSettings) {
        self.settings_reports += 1;
        if !self.settings.contains(&s) && self.settings.len() < MAX_SETTINGS {
            self.settings.push(s);
        }
    }
}

/// How a worker broke the protocol; `killed_because` has the details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtocolFailure {
    /// Its `hello` named another protocol version.
    VersionMismatch,
    /// A line on stdout that is not a protocol message.
    NonProtocolOutput,
    /// A protocol message out of place (not hello first, an unknown or repeated op, ...).
    Violation,
    /// Its `hello` named another SQLite version than the release the run asked for.
    SqliteMismatch,
}

/// A seeded SIGKILL that landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillEvent {
    pub worker: u32,
    pub actor: u32,
    pub seq: u32,
    pub point: crate::scenario::KillPoint,
    pub pid: u32,
    /// A successor process continued the worker's schedule.
    pub respawned: bool,
    /// With respawn: the op seqs the successor skipped (each actor's op in flight when the
    /// process died). They never report an outcome; every other planned op must.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<u32>,
}

/// Everything the execution stage hands to the checks.
#[derive(Debug, Clone, Default)]
pub struct Observations {
    pub records: Vec<OpRecord>,
    pub workers: Vec<WorkerExit>,
    /// When the start barrier opened, and when the last worker exited (monotonic ns).
    pub t_go_ns: u64,
    pub t_end_ns: u64,
    /// Every file name that appeared in the database directory during the run.
    pub files_seen: Vec<String>,
    /// Why `files_seen` cannot be trusted (the watch failed or dropped events).
    pub watch_error: Option<String>,
    /// Liveness problems (deadlines) that are not a single worker's fault.
    pub liveness: Vec<String>,
    /// Seeded kills that landed, in the order they did.
    pub kills: Vec<KillEvent>,
    /// SIGINT/SIGTERM stopped the run.
    pub interrupted: bool,
    /// Lockstep mode: the trace, its hash and the breaches the coordinator saw.
    pub lockstep: Option<lockstep::LockstepOutcome>,
    /// What the fault VFS reported (`[io]` scenarios only).
    pub io: io::IoObserved,
    /// Timed marks for the timeline (files appearing, kills, respawns, stalls), in the
    /// order the runner saw them.
    pub events: Vec<RunEvent>,
    /// Lockstep runs of a scenario with `[[invariants]]`: the invariants queried at the
    /// run's quiescent points.
    pub invariants_during: Option<invariants::InvariantsDuring>,
}

/// Something that happened to the run at a known time, outside any op record: drawn as a
/// mark on the timeline; no check reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunEvent {
    /// CLOCK_MONOTONIC nanoseconds, when the runner saw it.
    pub t_ns: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<u32>,
    pub kind: RunEventKind,
    /// In words: the file's name, why a worker was killed, the kill point.
    pub detail: String,
    /// Lockstep only: how many steps the coordinator had recorded when the runner saw the
    /// event, so it came after trace step `steps_done - 1` (the step axis draws it there).
    /// A kill, respawn or runner kill is seen while the run waits to settle, before any
    /// further step is granted: exact and the same on every replay. A file is stamped by
    /// the watch when it first sees the name: it appeared during step `steps_done` at the
    /// latest. Absent in free mode and in run directories written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps_done: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunEventKind {
    /// A name appeared in the database directory (first sight, within the watch's poll).
    FileAppeared,
    /// A seeded SIGKILL took a worker process (seen when its pipe closed).
    KillLanded,
    /// A successor process took over a killed worker's schedule.
    Respawned,
    /// The watchdog killed a worker that said nothing for the stall timeout.
    Stalled,
    /// The runner killed a worker for another reason (run deadline, lockstep stopped).
    Killed,
}

/// What the run directory's `events.json` holds: the run's time origin and end, and its
/// timed marks, so `walburst report` can draw an old run's timeline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunTimes {
    pub t_go_ns: u64,
    pub t_end_ns: u64,
    pub events: Vec<RunEvent>,
}

impl Observations {
    pub fn times(&self) -> RunTimes {
        RunTimes {
            t_go_ns: self.t_go_ns,
            t_end_ns: self.t_end_ns,
            events: self.events.clone(),
        }
    }

    /// Records a timed mark now; `steps_done` is the lockstep position (see
    /// [`RunEvent::steps_done`]), `None` in free mode.
    pub fn mark(
        &mut self,
        worker: Option<u32>,
        kind: RunEventKind,
        detail: String,
        steps_done: Option<u64>,
    ) {
        self.events.push(RunEvent {
            t_ns: clock::monotonic_ns(),
            worker,
            kind,
            detail,
            steps_done,
        });
    }
}
