//! `[io]`: exact I/O fault points, served by the fault VFS in the workers
//! (`harness/exec/vfs/`). A scenario without this table never loads that VFS.

use serde::{Deserialize, Serialize};

/// I/O faults and counters. Off by default: clean runs use SQLite's own unix VFS untouched.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IoFaults {
    /// Load the fault VFS only to count I/O per file kind (no fault points needed).
    pub counters: bool,
    /// Fault points; each fires at most once per run (across every worker process).
    pub points: Vec<IoPoint>,
    /// What the VFS claims about the storage, and how it behaves in a power loss.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<super::io_device::Device>,
    /// One worker's read-only transactions read through a frozen wal-index
    /// (`scenario/stale_read.rs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_read: Option<super::StaleRead>,
}

impl IoFaults {
    /// Whether workers open their connections through the fault VFS.
    pub fn wants_vfs(&self) -> bool {
        self.counters
            || !self.points.is_empty()
            || self.device.is_some()
            || self.stale_read.is_some()
    }

    pub fn is_off(&self) -> bool {
        !self.wants_vfs()
    }

    /// Whether a point simulates power loss (and the workers keep an undo log).
    pub fn power_loss(&self) -> bool {
        self.points.iter().any(|p| p.action == IoAction::PowerLoss)
    }
}

/// One fault point: the `nth` occurrence of `op` on a file of kind `file` while SQLite is in
/// `phase`, counted per worker process, then `action`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IoPoint {
    pub file: FileKind,
    pub op: IoOp,
    #[serde(default)]
    pub phase: IoPhase,
    /// Which occurrence fires (1 = the first): `3`, or `[lo, hi]` for a seeded choice.
    pub nth: Nth,
    /// Only this worker counts towards the point; absent: every worker counts its own
    /// occurrences and the first to reach `nth` fires it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<u32>,
    pub action: IoAction,
    /// `stop`: how long the worker stalls inside the call before it continues.
    #[serde(default = "default_stop_ms")]
    pub stop_ms: u32,
    /// Whether the action happens before the call (the default) or right after it returned
    /// (`power-loss` and `kill` on write, sync and truncate only): power lost right after a
    /// sync is the moment crash-consistency bugs sit at (`walburst run --io-sweep sync`).
    #[serde(default, skip_serializing_if = "IoWhen::is_before")]
    pub when: IoWhen,
}

/// When a point acts relative to the call it counts.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum IoWhen {
    /// Before the call: the call is never performed (kill, power loss) or is stalled, failed.
    #[default]
    Before,
    /// After the call returned (a sync: once it counts as completed).
    After,
}

impl IoWhen {
    pub const ALL: [IoWhen; 2] = [IoWhen::Before, IoWhen::After];

    pub fn name(self) -> &'static str {
        match self {
            IoWhen::Before => "before",
            IoWhen::After => "after",
        }
    }

    pub fn is_before(&self) -> bool {
        *self == IoWhen::Before
    }
}

fn default_stop_ms() -> u32 {
    500
}

/// The occurrence that fires: exact, or drawn from the run's seed in an inclusive range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Nth {
    Exact(u64),
    Range([u64; 2]),
}

impl Nth {
    pub fn bounds(self) -> [u64; 2] {
        match self {
            Nth::Exact(n) => [n, n],
            Nth::Range(r) => r,
        }
    }
}

/// Which file an operation touches, by how SQLite opened it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    /// The database file itself.
    Main,
    Wal,
    /// The rollback journal (`-journal`).
    Journal,
    /// WAL shared memory (`-shm`), reached through the main file's xShm* methods.
    Shm,
    /// Temporary files, super-journals: counted, never a fault target.
    Other,
}

impl FileKind {
    pub const ALL: [FileKind; 5] = [
        FileKind::Main,
        FileKind::Wal,
        FileKind::Journal,
        FileKind::Shm,
        FileKind::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FileKind::Main => "main",
            FileKind::Wal => "wal",
            FileKind::Journal => "journal",
            FileKind::Shm => "shm",
            FileKind::Other => "other",
        }
    }
}

/// The VFS methods that are counted and can carry a fault point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IoOp {
    Write,
    Sync,
    Truncate,
    ShmLock,
    ShmMap,
    /// `xUnfetch` on the main file: a checkpoint whose wal-index header read changed makes
    /// exactly one, `xUnfetch(db, 0, NULL)`, between reading the header and testing
    /// `nBackfill < mxFrame` (docs/wal-reset-window.md): the WAL-reset bug's window.
    Unfetch,
}

impl IoOp {
    pub const ALL: [IoOp; 6] = [
        IoOp::Write,
        IoOp::Sync,
        IoOp::Truncate,
        IoOp::ShmLock,
        IoOp::ShmMap,
        IoOp::Unfetch,
    ];

    pub fn name(self) -> &'static str {
        match self {
            IoOp::Write => "write",
            IoOp::Sync => "sync",
            IoOp::Truncate => "truncate",
            IoOp::ShmLock => "shm-lock",
            IoOp::ShmMap => "shm-map",
            IoOp::Unfetch => "unfetch",
        }
    }

    /// Whether the op is one of the `-shm` methods (only on [`FileKind::Shm`]).
    pub fn is_shm(self) -> bool {
        matches!(self, IoOp::ShmLock | IoOp::ShmMap)
    }
}

/// When an occurrence counts: SQLite's checkpoint copy phase is known exactly from
/// `SQLITE_FCNTL_CKPT_START` .. `SQLITE_FCNTL_CKPT_DONE` on the main file (the pages copied
/// from the WAL into the database; the WAL sync before and the truncate and sync after lie
/// outside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IoPhase {
    #[default]
    Any,
    Checkpoint,
    OutsideCheckpoint,
}

/// What happens at the point. The worker announces the point to the runner first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IoAction {
    /// The worker SIGKILLs itself before the operation (respawned if `[faults] respawn`).
    Kill,
    /// The worker stalls inside the call for `stop_ms`, then performs it and goes on.
    Stop,
    /// The operation is not performed and returns SQLite's I/O error for it
    /// (`SQLITE_IOERR_WRITE`, `_FSYNC`, `_TRUNCATE`, `_SHMLOCK`, `_SHMMAP`).
    Fail,
    /// Power loss: the runner SIGKILLs every worker and undoes every write no sync made
    /// durable (`scenarios/README.md`, "Power loss"), then verifies.
    PowerLoss,
    /// Lockstep: the call becomes a scheduling point *inside* the granted step. The actor
    /// reports its step `paused` there and parks a `resume` step; the seeded scheduler runs
    /// other actors' steps until it grants the resume, then the call is performed and the
    /// step goes on. Free mode: nothing happens (the point only fires).
    Yield,
}

impl IoAction {
    pub fn name(self) -> &'static str {
        match self {
            IoAction::Kill => "kill",
            IoAction::Stop => "stop",
            IoAction::Yield => "yield",
            IoAction::Fail => "fail",
            IoAction::PowerLoss => "power-loss",
        }
    }
}

/// Upper bound of `stop_ms`: a stall is a bounded pause, not a hang.
pub const MAX_STOP_MS: u32 = 60_000;

/// Checks `[io]` on its own and against the rest of the scenario.
pub fn validate(s: &super::Scenario) -> Result<(), super::Invalid> {
    use super::Invalid;
    let io = &s.io;
    // An external worker preloads the fault VFS (worker/vfs/preload.rs), but a `yield`
    // point parks a step of the built-in worker's lockstep gate, which an app does not have.
    if let Some(i) = io.points.iter().position(|p| p.action == IoAction::Yield)
        && s.worker.is_some()
    {
        return Err(Invalid::field(
            format!("io.points[{i}].action"),
            "= \"yield\" cannot be combined with table `worker`: the yield parks a lockstep step inside the built-in worker; allowed with `[worker]`: kill, stop, fail, power-loss",
        ));
    }
    if let Some(d) = &io.device {
        super::io_device::validate(d)?;
    }
    // The durability oracle judges what survives of acknowledged commits on a database whose
    // schema was durable before any op. With `setup = "race"` the workers create the file and
    // schema themselves, so a power loss before that commit leaves no database at all, which
    // the checks would read as damage although nothing acknowledged was lost.
    if let Some(i) = io
        .points
        .iter()
        .position(|p| p.action == IoAction::PowerLoss)
        && s.workload.setup == super::Setup::Race
    {
        return Err(Invalid::field(
            format!("io.points[{i}].action"),
            "= \"power-loss\" cannot be combined with `workload.setup = \"race\"` (a power loss before the workers' schema commit leaves no database, which is not damage); allowed: `setup = \"runner\"` (the default)",
        ));
    }
    if io.points.len() > 16 {
        return Err(Invalid::range(
            "io.points",
            format!("{} points", io.points.len()),
            "at most 16",
        ));
    }
    if io
        .points
        .iter()
        .filter(|p| p.action == IoAction::PowerLoss)
        .count()
        > 1
    {
        return Err(Invalid::table(
            "io",
            "more than one point with action = \"power-loss\"; allowed: one (power is lost once)",
        ));
    }
    for (i, p) in io.points.iter().enumerate() {
        let field = |f: &str| format!("io.points[{i}].{f}");
        let [lo, hi] = p.nth.bounds();
        if lo == 0 || lo > hi || hi > 1_000_000_000 {
            return Err(Invalid::range(
                field("nth"),
                format!("[{lo}, {hi}]"),
                "n or [lo, hi] with 1 <= lo <= hi <= 1000000000",
            ));
        }
        if p.file == FileKind::Other {
            return Err(Invalid::field(
                field("file"),
                "= \"other\" cannot carry a point; allowed: main, wal, journal, shm",
            ));
        }
        if p.op == IoOp::Unfetch && p.file != FileKind::Main {
            return Err(Invalid::field(
                field("file"),
                format!(
                    "= \"{}\" has no unfetch; allowed with op = \"unfetch\": main",
                    p.file.name()
                ),
            ));
        }
        if (p.file == FileKind::Shm) != p.op.is_shm() {
            return Err(Invalid::field(
                field("op"),
                format!(
                    "= \"{}\" does not happen on file = \"{}\"; shm-lock and shm-map happen on \"shm\" only, write, sync and truncate on main, wal and journal",
                    p.op.name(),
                    p.file.name()
                ),
            ));
        }
        if p.when == IoWhen::After
            && !(matches!(p.action, IoAction::PowerLoss | IoAction::Kill)
                && matches!(p.op, IoOp::Write | IoOp::Sync | IoOp::Truncate))
        {
            return Err(Invalid::field(
                field("when"),
                format!(
                    "= \"after\" with action = \"{}\" on op = \"{}\"; allowed: \"after\" only with action power-loss or kill on op write, sync or truncate, otherwise \"before\"",
                    p.action.name(),
                    p.op.name()
                ),
            ));
        }
        if let Some(w) = p.worker.filter(|&w| w >= s.workload.workers) {
            return Err(Invalid::range(
                field("worker"),
                w,
                format!("0..{}", s.workload.workers),
            ));
        }
        if p.action == IoAction::Stop && !(1..=MAX_STOP_MS).contains(&p.stop_ms) {
            return Err(Invalid::range(
                field("stop_ms"),
                p.stop_ms,
                format!("1..={MAX_STOP_MS}"),
            ));
        }
        // In lockstep the stall happens inside a granted step: keep it below the step watchdog.
        if p.action == IoAction::Stop
            && u64::from(p.stop_ms) >= u64::from(s.lockstep.step_timeout_secs) * 1000
        {
            return Err(Invalid::field(
                field("stop_ms"),
                format!(
                    "= {} must be shorter than `lockstep.step_timeout_secs` ({} s)",
                    p.stop_ms, s.lockstep.step_timeout_secs
                ),
            ));
        }
        if p.action == IoAction::Stop
            && u64::from(p.stop_ms)
                >= s.limits.stall_timeout(s.sqlite.busy_timeout_ms).as_millis() as u64
        {
            return Err(Invalid::field(
                field("stop_ms"),
                format!(
                    "= {} must be shorter than the stall watchdog ({} s)",
                    p.stop_ms,
                    s.limits.stall_timeout(s.sqlite.busy_timeout_ms).as_secs()
                ),
            ));
        }
    }
    Ok(())
}
