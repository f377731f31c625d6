//! The worker protocol (PROTOCOL.md, version 1): JSON lines over the worker's stdin/stdout
//! pipes, never through the database under test. The runner speaks only this; the built-in
//! worker (`walburst worker`) is one implementation of the worker side, an app's adapter is
//! another.

pub mod vfs_channel;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::observe::OpRecord;
use crate::observe::step::{AppLockName, StepAction, StepResult};
use crate::plan::list_append::ListMop;
use crate::plan::{self, OpKind, PlannedOp};
use crate::scenario::{
    Attach, CheckpointMode, ClaimStyle, GuardAt, GuardKind, IoFaults, KillPoint, Lifecycle,
    ListReads, ListWrite, LockstepPoints, Mode, Overrides, Profile, ReaderTxn, Scenario,
    ScenarioSource, Setup, SqliteConfig, Strategy,
};

/// The protocol version this runner (and the built-in worker) speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// File in the run directory holding the [`RunSpec`]; written before any worker starts.
pub const RUN_SPEC_FILE: &str = "run.json";
/// Directory in the run directory that holds the database and only its files.
pub const DB_DIR: &str = "db";
pub const DB_FILE: &str = "kanban.db";
/// `[workload] attach = "aux"`: the second database, beside the main one in [`DB_DIR`]
/// (kept with the run directory like every other evidence file).
pub const AUX_DB_FILE: &str = "aux.db";
/// The schema name the second database is ATTACHed as.
pub const AUX_SCHEMA_NAME: &str = "aux";

/// The second database of `[workload] attach = "aux"`, beside `db`.
pub fn aux_db_path(db: &std::path::Path) -> std::path::PathBuf {
    db.with_file_name(AUX_DB_FILE)
}

/// The global write lock beside the database, `<db>.lock` (PROTOCOL.md: every worker that
/// takes the global lock, in any language, names it so; the sidecar detector watches it).
pub fn write_lock_path(db: &std::path::Path) -> std::path::PathBuf {
    sidecar(db, ".lock")
}

/// The first-connect lock beside the database, `<db>.init.lock`.
pub fn init_lock_path(db: &std::path::Path) -> std::path::PathBuf {
    sidecar(db, ".init.lock")
}

fn sidecar(db: &std::path::Path, suffix: &str) -> std::path::PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(suffix);
    std::path::PathBuf::from(s)
}

/// The run as the runner persists it before any worker starts (`run.json`): what the
/// checks and reports need. Workers are not given it; they get a [`Start`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    pub walburst_version: String,
    pub sqlite_version: String,
    pub scenario: Scenario,
    pub source: ScenarioSource,
    pub seed: u64,
    pub mode: Mode,
    pub overrides: Overrides,
    pub schedule_hash: String,
    pub db_path: PathBuf,
}

/// Why a run directory's `run.json` could not be read back; names the file.
#[derive(Debug, thiserror::Error)]
pub enum RunSpecError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a run spec", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl RunSpec {
    pub fn read(run_dir: &Path) -> Result<RunSpec, RunSpecError> {
        let path = run_dir.join(RUN_SPEC_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(source) => return Err(RunSpecError::Read { path, source }),
        };
        serde_json::from_str(&text).map_err(|source| RunSpecError::Parse { path, source })
    }
}

/// The workload settings a worker needs (the rest of `[workload]` shaped the plan).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartWorkload {
    pub profile: Profile,
    pub connection: Lifecycle,
    pub connections_per_worker: u32,
    pub idle_connections: u32,
    pub checkpoint_mode: CheckpointMode,
    pub setup: Setup,
    /// `list-append` only (absent: in the transaction).
    #[serde(default, skip_serializing_if = "is_in_transaction")]
    pub list_reads: ListReads,
    /// `list-append` only: append, or read-modify-write (absent: append). External workers
    /// read it too: the app's list transaction takes the same shape.
    #[serde(default, skip_serializing_if = "ListWrite::is_append")]
    pub list_write: ListWrite,
    /// How the built-in worker claims (absent: compare-and-swap).
    #[serde(default, skip_serializing_if = "ClaimStyle::is_compare_and_swap")]
    pub claim: ClaimStyle,
    /// How the built-in worker's readers hold their read transaction (absent: one
    /// snapshot; any other is refused with a `[worker]`).
    #[serde(default, skip_serializing_if = "ReaderTxn::is_one_snapshot")]
    pub reader_txn: ReaderTxn,
    /// How long a reader holds its snapshot between reads in free mode (absent: the
    /// default). Every worker gets it: the Python adapter's readers sleep within it too.
    #[serde(default = "default_hold", skip_serializing_if = "is_default_hold")]
    pub reader_hold_ms: [u32; 2],
    /// The built-in worker ATTACHes `aux.db` and mirrors each write into it (absent: none).
    #[serde(default, skip_serializing_if = "Attach::is_none")]
    pub attach: Attach,
}

fn default_hold() -> [u32; 2] {
    crate::scenario::DEFAULT_READER_HOLD_MS
}

fn is_default_hold(r: &[u32; 2]) -> bool {
    *r == crate::scenario::DEFAULT_READER_HOLD_MS
}

fn is_in_transaction(r: &ListReads) -> bool {
    *r == ListReads::InTransaction
}

/// A seeded kill this incarnation performs on itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartKill {
    pub actor: u32,
    pub seq: u32,
    pub point: KillPoint,
}

/// Runner -> worker, the first line: everything a worker needs to run its share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Start {
    pub protocol: u32,
    pub worker: u32,
    pub workers: u32,
    pub incarnation: u32,
    pub run_dir: PathBuf,
    pub db_path: PathBuf,
    pub ops_path: PathBuf,
    pub mode: Mode,
    pub seed: u64,
    pub scenario: String,
    pub sqlite: SqliteConfig,
    pub workload: StartWorkload,
    pub strategy: Strategy,
    pub guard: GuardKind,
    pub guard_at: GuardAt,
    pub connect_early: bool,
    pub kills: Vec<StartKill>,
    /// `[io]`: fault points and power loss, served by the built-in worker's fault VFS
    /// (absent when the scenario has none).
    #[serde(default, skip_serializing_if = "IoFaults::is_off")]
    pub io: IoFaults,
    /// The runner reads `settings` messages: an adapter that can report what its app's
    /// connections actually run with sends them (absent: an older runner, send none).
    #[serde(default)]
    pub report_settings: bool,
    /// `[lockstep] points`: at `shm`, the built-in worker pauses its lockstep steps at every
    /// shared-memory call of the database (absent: `statement`).
    #[serde(default, skip_serializing_if = "LockstepPoints::is_statement")]
    pub points: LockstepPoints,
}

impl Start {
    pub fn new(
        spec: &RunSpec,
        run_dir: &Path,
        worker: u32,
        incarnation: u32,
        ops_path: PathBuf,
        kills: Vec<StartKill>,
    ) -> Start {
        let s = &spec.scenario;
        let w = &s.workload;
        Start {
            protocol: PROTOCOL_VERSION,
            worker,
            workers: w.workers,
            incarnation,
            run_dir: run_dir.to_path_buf(),
            db_path: spec.db_path.clone(),
            ops_path,
            mode: spec.mode,
            seed: spec.seed,
            scenario: s.name.clone(),
            sqlite: s.sqlite.clone(),
            workload: StartWorkload {
                profile: w.profile,
                connection: w.connection,
                connections_per_worker: w.connections_per_worker,
                idle_connections: w.idle_connections,
                checkpoint_mode: w.checkpoint_mode,
                setup: w.setup,
                list_reads: w.list_reads,
                list_write: w.list_write,
                claim: w.claim,
                reader_txn: w.reader_txn,
                reader_hold_ms: w.reader_hold_ms,
                attach: w.attach,
            },
            strategy: s.strategy.clone(),
            guard: s.guard,
            guard_at: s.guard_at,
            connect_early: may_connect_early(s),
            kills,
            io: s.io.clone(),
            report_settings: true,
            points: if spec.mode == Mode::Lockstep {
                s.lockstep.points
            } else {
                LockstepPoints::Statement
            },
        }
    }

    pub fn is_lockstep(&self) -> bool {
        self.mode == Mode::Lockstep
    }
}

/// Whether connections may be opened before the start barrier: only when opening takes no
/// lock that another worker could hold for the whole run, and there is no setup race to run.
pub fn may_connect_early(s: &Scenario) -> bool {
    use crate::scenario::{LockScope, WriteLock};
    s.workload.setup == Setup::Runner
        && !(s.strategy.write_lock == WriteLock::Flock
            && s.strategy.write_lock_scope == LockScope::Connection)
}

/// One line of the ops file: an op as a worker receives it, payload text included so that
/// adapters need no walburst generator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerOp {
    pub seq: u32,
    pub actor: u32,
    pub kind: OpKind,
    pub think_us: u32,
    pub at_ms: i64,
    /// The task a `create_task` creates; `None` for the others (they pick theirs by SQL).
    pub task_id: Option<String>,
    pub payload: String,
    /// A `list_txn`'s micro-ops (`plan::list_append`); absent for the other kinds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub list: Vec<ListMop>,
}

impl WorkerOp {
    pub fn from_plan(seed: u64, worker: u32, op: &PlannedOp) -> WorkerOp {
        WorkerOp {
            seq: op.seq,
            actor: op.actor,
            kind: op.kind,
            think_us: op.think_us,
            at_ms: op.at_ms,
            task_id: (op.kind == OpKind::CreateTask).then(|| plan::task_id(worker, op.seq)),
            payload: plan::payload(seed, worker, op.seq, op.payload_len),
            list: if op.kind == OpKind::ListTxn {
                plan::list_append::txn(seed, worker, op.seq)
            } else {
                Vec::new()
            },
        }
    }
}

/// Runner -> worker, one JSON object per line on the worker's stdin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "msg", rename_all = "snake_case")]
pub enum RunnerMsg {
    Start(Box<Start>),
    /// The start barrier opens.
    Go,
    /// Lockstep: run the step this actor is parked before.
    Grant {
        actor: u32,
    },
}

/// Worker -> runner, one JSON object per line on the worker's stdout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "msg", rename_all = "snake_case")]
pub enum WorkerMsg {
    /// The first line: who is speaking, and which SQLite it links.
    Hello(Box<Hello>),
    /// Connected (where the scenario allows connecting early) and waiting at the barrier.
    Ready {
        worker: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pid: Option<u32>,
    },
    Op(Box<OpRecord>),
    /// The whole schedule ran.
    Done {
        worker: u32,
    },
    /// The worker cannot go on (bad start, cannot open the database, ...).
    Fatal {
        worker: u32,
        message: String,
    },
    /// Lockstep: an actor is parked before its next step.
    Want {
        worker: u32,
        actor: u32,
        action: StepAction,
        /// The app locks (`app_lock` names) the actor holds as it parks: a hint that lets
        /// the coordinator skip attempts on them that must be turned away. Optional.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        holding: Vec<AppLockName>,
    },
    /// Lockstep: the granted step ran, with this result.
    Did {
        worker: u32,
        actor: u32,
        result: StepResult,
    },
    /// A seeded kill is about to land: the worker SIGKILLs itself right after this line.
    Dying {
        worker: u32,
        actor: u32,
        seq: u32,
        point: KillPoint,
    },
    /// Lockstep: an actor ran its whole schedule.
    ActorDone {
        worker: u32,
        actor: u32,
    },
    /// An `[io]` fault point fired, announced before its action (a kill or power loss
    /// follows at once).
    IoFault {
        worker: u32,
        fired: Box<crate::observe::io::FiredPoint>,
    },
    /// A `stop` point's stall ended; the worker goes on.
    IoResumed {
        worker: u32,
        point: u32,
        t_ns: u64,
        wal_bytes: Option<u64>,
    },
    /// The fault VFS loaded in an external worker's process (the preload): sent on the VFS
    /// channel only, first, by every process of the worker that registered it.
    IoHello {
        worker: u32,
        pid: u32,
        /// The SQLite library the VFS registered into (the app's).
        sqlite_version: String,
    },
    /// The fault VFS's I/O counters, sent before `Done` only by a worker that registered it.
    IoCounters {
        worker: u32,
        counts: crate::observe::io::IoCounts,
    },
    /// What one of the app's connections actually runs with (its SQLite, the PRAGMAs in
    /// force), read by the adapter on that connection; optional (an older adapter sends
    /// none, and the report then says "not reported").
    Settings(Box<SettingsMsg>),
}

/// Worker -> runner: one connection's effective settings (PROTOCOL.md, `settings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsMsg {
    pub worker: u32,
    /// The actor whose connection it is (`None`: a connection outside any actor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<u32>,
    #[serde(flatten)]
    pub settings: crate::observe::AppSettings,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol: u64,
    pub worker: u32,
    pub pid: u32,
    /// `rust`, `python`, ...
    pub language: String,
    /// The worker program and its version (`walburst 0.1.0`, `walburst-python 0.1`).
    pub implementation: String,
    /// The SQLite the worker's code links (the app's, not walburst's).
    pub sqlite_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqlite_source_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
}

impl WorkerMsg {
    /// The worker index a message claims to come from.
    pub fn worker(&self) -> u32 {
        match self {
            WorkerMsg::Hello(h) => h.worker,
            WorkerMsg::Op(r) => r.worker,
            WorkerMsg::Settings(m) => m.worker,
            WorkerMsg::Ready { worker, .. }
            | WorkerMsg::Done { worker }
            | WorkerMsg::Fatal { worker, .. }
            | WorkerMsg::Want { worker, .. }
            | WorkerMsg::Did { worker, .. }
            | WorkerMsg::Dying { worker, .. }
            | WorkerMsg::ActorDone { worker, .. }
            | WorkerMsg::IoFault { worker, .. }
            | WorkerMsg::IoResumed { worker, .. }
            | WorkerMsg::IoHello { worker, .. }
            | WorkerMsg::IoCounters { worker, .. } => *worker,
        }
    }
}

/// The protocol version a line announces, if it is a `hello` of any version: a worker of
/// another version is named as such even when the rest of its hello does not parse.
pub fn hello_version(line: &[u8]) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_slice(line).ok()?;
    (v.get("msg")?.as_str()? == "hello").then(|| v.get("protocol")?.as_u64())?
}

#[cfg(test)]
mod protocol_doc_tests;
#[cfg(test)]
mod schema_check;
#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
