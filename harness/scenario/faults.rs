//! `[faults]`: seeded crashes and deliberate damage.

use serde::{Deserialize, Serialize};

/// Faults injected on purpose: crashes the system must survive, and positive controls that
/// prove the checks fire.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Where seeded SIGKILLs land.
    pub kill: KillPoint,
    /// How many kills (each at a seeded (worker, op) of the schedule).
    pub kills: u32,
    /// Start a new process for a killed worker, continuing its schedule after the op it
    /// died in (the next opener runs WAL/journal recovery).
    pub respawn: bool,
    /// Damage done to the database after every worker has exited, before verification.
    pub after_run: Tamper,
}

/// Where in an op a seeded SIGKILL lands (the worker kills itself there, so the point is
/// exact; in lockstep it is the same step of the same interleaving every run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KillPoint {
    #[default]
    None,
    /// After BEGIN IMMEDIATE and every statement, before COMMIT.
    MidTransaction,
    /// After COMMIT returned OK, before the outcome is reported: the op becomes ambiguous.
    /// Lands only if the op commits (a claim with nothing to claim rolls back).
    AfterCommit,
    /// While a checkpoint op runs: free mode by a seeded timer inside the call ("somewhere
    /// during"); lockstep at a fixed point inside the gated step (after the checkpoint
    /// returned, before its result is reported).
    Checkpoint,
    /// At the connection's close: the process dies holding its connection open.
    Close,
    /// Where an `[io]` point with action `kill` or `power-loss` struck (inside a VFS call);
    /// not valid in `[faults] kill`.
    Io,
    /// Every worker alive when an `[io]` power-loss point fired; not valid in `[faults] kill`.
    PowerLoss,
    /// Test-only: the op never finishes (the worker sleeps forever) so the liveness
    /// watchdog must act.
    Hang,
    /// Test-only: the actor's thread panics before the op runs, so the built-in worker must
    /// fail, naming the panic (a panicking actor is never an actor that merely did nothing).
    Panic,
}

impl KillPoint {
    /// The name a scenario and the protocol use for it.
    pub fn name(self) -> &'static str {
        match self {
            KillPoint::None => "none",
            KillPoint::MidTransaction => "mid-transaction",
            KillPoint::AfterCommit => "after-commit",
            KillPoint::Checkpoint => "checkpoint",
            KillPoint::Close => "close",
            KillPoint::Io => "io",
            KillPoint::PowerLoss => "power-loss",
            KillPoint::Hang => "hang",
            KillPoint::Panic => "panic",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tamper {
    #[default]
    None,
    /// Deletes one committed `created` event row: the ledger must report a lost write.
    DeleteCommittedRow,
    /// Undoes one committed heartbeat's UPDATE of `tasks.heartbeat_at` (an unindexed column
    /// no ledger row carries): only the state oracle can see it.
    LoseUpdate,
    /// Overwrites the root page of the `tasks` b-tree with seeded garbage: integrity_check
    /// must fail and the damage must be classified real.
    GarbagePage,
    /// Cuts the main file by one page: verification must notice.
    TruncatePage,
    /// Appends one zeroed page to the main file: SQLite ignores pages past the header's count,
    /// so integrity_check stays ok and only the exact length check can notice.
    AppendPage,
    /// Deletes `-wal` and `-shm` while no connection is open: with checkpoints disabled,
    /// every commit that lived only in the WAL is lost and the ledger must say so.
    RemoveWal,
    /// Switches a WAL database to `journal_mode = DELETE` (through SQLite, data intact): the
    /// journal-mode check must fail. Its negative control.
    LeaveWal,
    /// Overwrites every super-journal left beside the database (`<db>-mj...`, by a worker
    /// killed at a multi-database commit point) with zeros of its own length, while no
    /// connection is open: what a device that loses a synced file's data, or files mixed
    /// from outside, leave; never a crash of SQLite's own writes. Before 3.54.0 the next
    /// opener deletes such a super-journal and the other database skips its rollback
    /// (docs/super-journal-window.md): a torn commit the multi-database ledger must name.
    ZeroSuperJournal,
}
