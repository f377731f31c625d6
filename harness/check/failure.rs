//! Typed failures: what went wrong (the category, named after the counter or check it
//! concerns), which detector saw it, and a human message. Replay and the shrinker compare
//! runs by [`Signature`] (category, detector, kind), never by message text.

use serde::{Deserialize, Serialize};

/// What a failure is about. Every `[expect]` counter has its own category, so a failure
/// names exactly the counter that broke its expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureCategory {
    /// `corruption.false` against `expect.false_corruption`.
    FalseCorruption,
    /// `corruption.real` against `expect.real_corruption`.
    RealCorruption,
    /// `checks.lost_writes` against `expect.lost_writes`.
    LostWrites,
    /// `checks.phantom_writes` against `expect.phantom_writes`.
    PhantomWrites,
    /// `checks.duplicate_writes` against `expect.duplicate_writes`.
    DuplicateWrites,
    /// `checks.order_violations` against `expect.order_violations`.
    OrderViolations,
    /// `checks.lock_overlaps` (interval check) against `expect.lock_overlaps`.
    LockOverlaps,
    /// `checks.lockstep_breaches` against `expect.lockstep_breaches`.
    LockstepBreaches,
    /// `totals.failed` against `expect.worker_errors`.
    WorkerErrors,
    /// integrity_check / quick_check against `expect.integrity`.
    Integrity,
    /// The database, its ledger or a verification step could not be read; passes only
    /// under `expect.integrity = "unreadable"`.
    Unreadable,
    /// After the final checkpoint the main file is not `page_count x page_size` bytes.
    FinalLength,
    /// The journal mode after the run is not the configured one.
    JournalMode,
    /// The verification's `wal_checkpoint(TRUNCATE)` was blocked after every worker had
    /// exited: a process still holds the database (not an unreadable database).
    FinalCheckpoint,
    /// The verification connection could not be closed cleanly.
    FinalClose,
    /// `<db>.lock` against `expect.sidecar`.
    Sidecar,
    /// A worker crashed, hung, never started, or ops never reported (liveness).
    Liveness,
    /// After a simulated power loss, acknowledged commits were lost beyond what the
    /// synchronous level allows (`io.durability`).
    Durability,
    /// An `[io]` fault point never fired: the fault was not exercised.
    IoPointNotFired,
    /// `checks.guard_errors` against `expect.guard_errors`: a guard that could not look.
    GuardErrors,
    /// The state oracle: the committed ops replayed in commit order do not give the run's
    /// database (`checks.state`), or the replay could not be built (`checks.state_error`).
    State,
    /// A check judged none of the ops it should have (`checks.coverage`), and the scenario
    /// does not declare it not judged (`expect.not_judged`).
    NotJudged,
    /// A list-append history is not strict serializable, or could not be checked.
    Isolation,
    /// A scenario's `[[invariants]]` query returned rows, or could not run.
    Invariant,
    /// Two reads inside one reader's read transaction returned different boards
    /// (`checks.snapshots`; threadtest3's "Isolation failure"), or no read transaction
    /// could be judged.
    SnapshotStability,
    /// The WAL grew past its bound (`checks.wal_growth`): checkpoints were starved.
    CheckpointStarvation,
    /// `attach = "aux"`: a write op's rows are in one of the two databases of its
    /// transaction and not in the other (`checks.multi_db`): a torn multi-database commit.
    TornMultiDbCommit,
}

impl FailureCategory {
    pub fn name(self) -> &'static str {
        match self {
            FailureCategory::FalseCorruption => "false_corruption",
            FailureCategory::RealCorruption => "real_corruption",
            FailureCategory::LostWrites => "lost_writes",
            FailureCategory::PhantomWrites => "phantom_writes",
            FailureCategory::DuplicateWrites => "duplicate_writes",
            FailureCategory::OrderViolations => "order_violations",
            FailureCategory::LockOverlaps => "lock_overlaps",
            FailureCategory::LockstepBreaches => "lockstep_breaches",
            FailureCategory::WorkerErrors => "worker_errors",
            FailureCategory::Integrity => "integrity",
            FailureCategory::Unreadable => "unreadable",
            FailureCategory::FinalLength => "final_length",
            FailureCategory::JournalMode => "journal_mode",
            FailureCategory::FinalCheckpoint => "final_checkpoint",
            FailureCategory::FinalClose => "final_close",
            FailureCategory::Sidecar => "sidecar",
            FailureCategory::Liveness => "liveness",
            FailureCategory::Durability => "durability",
            FailureCategory::IoPointNotFired => "io_point_not_fired",
            FailureCategory::NotJudged => "not_judged",
            FailureCategory::State => "state",
            FailureCategory::GuardErrors => "guard_errors",
            FailureCategory::Isolation => "isolation",
            FailureCategory::Invariant => "invariant",
            FailureCategory::SnapshotStability => "snapshot_stability",
            FailureCategory::CheckpointStarvation => "checkpoint_starvation",
            FailureCategory::TornMultiDbCommit => "torn_multi_db_commit",
        }
    }
}

/// Which check saw the failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Detector {
    /// An application guard raised the corruption report(s).
    Guard,
    /// SQLite itself returned a corruption error.
    Sqlite,
    /// The ledger (rows against records and plan).
    Ledger,
    /// `PRAGMA integrity_check` / `quick_check` on a fresh connection.
    IntegrityCheck,
    /// The monotonic-interval write-exclusion check.
    IntervalCheck,
    /// The lockstep coordinator's model of who holds the write lock.
    LockstepCoordinator,
    /// The file watch on the database directory (`<db>.lock`).
    SidecarWatch,
    /// `PRAGMA journal_mode` after the run.
    JournalModeCheck,
    /// The exact length check after `wal_checkpoint(TRUNCATE)`.
    FinalLengthCheck,
    /// A verification step (open, checkpoint, page_count, ...) errored.
    Verification,
    /// The verification's final `wal_checkpoint(TRUNCATE)`.
    FinalCheckpoint,
    /// Closing the verification connection.
    VerificationClose,
    /// The canonical content hash could not be computed.
    ContentHash,
    /// Failed ops in the workers' records.
    WorkerRecords,
    /// How a worker process ended.
    WorkerExit,
    /// The runner killed a worker for breaking the worker protocol (PROTOCOL.md).
    WorkerProtocol,
    /// Planned ops that never reported an outcome.
    OpCount,
    /// The runner's deadlines and the lockstep step budget.
    Runner,
    /// The state oracle: the committed ops replayed against the run's final state.
    StateOracle,
    /// The durability oracle after a simulated power loss.
    DurabilityOracle,
    /// The fault VFS (`[io]`): its points and stalls.
    FaultVfs,
    /// The list-append isolation checker (`check::isolation`).
    IsolationChecker,
    /// The scenario's `[[invariants]]` queries, run read-only after the run.
    InvariantCheck,
    /// The snapshot-stability check over the readers' records (`check::snapshot`).
    SnapshotCheck,
    /// The WAL-size check over the records' `wal_frames` (`check::wal_growth`).
    WalGrowthCheck,
    /// The ledger across the main and the ATTACHed database (`check::multi_db`).
    MultiDbLedger,
}

/// Whether the failure saw something not allowed, or missed a documented outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Seen although `[expect]` does not allow it (or it always fails a run).
    Unexpected,
    /// `[expect]` says it must show (`some`, `damaged`, `unreadable`, `required`) and it did not.
    Missing,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub category: FailureCategory,
    pub detector: Detector,
    pub kind: FailureKind,
    /// The counter's value, for failures about a count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// For a person; starts with the category name.
    pub message: String,
}

/// The part of a failure that identifies it across runs: equal signatures mean "the same
/// failure", whatever the counts and messages say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Signature {
    pub category: FailureCategory,
    pub detector: Detector,
    pub kind: FailureKind,
}

impl Detector {
    pub fn name(self) -> &'static str {
        match self {
            Detector::Guard => "guard",
            Detector::Sqlite => "sqlite",
            Detector::Ledger => "ledger",
            Detector::IntegrityCheck => "integrity_check",
            Detector::IntervalCheck => "interval_check",
            Detector::LockstepCoordinator => "lockstep_coordinator",
            Detector::SidecarWatch => "sidecar_watch",
            Detector::JournalModeCheck => "journal_mode_check",
            Detector::FinalLengthCheck => "final_length_check",
            Detector::Verification => "verification",
            Detector::FinalCheckpoint => "final_checkpoint",
            Detector::VerificationClose => "verification_close",
            Detector::ContentHash => "content_hash",
            Detector::WorkerRecords => "worker_records",
            Detector::WorkerExit => "worker_exit",
            Detector::WorkerProtocol => "worker_protocol",
            Detector::OpCount => "op_count",
            Detector::Runner => "runner",
            Detector::DurabilityOracle => "durability_oracle",
            Detector::StateOracle => "state_oracle",
            Detector::FaultVfs => "fault_vfs",
            Detector::IsolationChecker => "isolation_checker",
            Detector::InvariantCheck => "invariant_check",
            Detector::SnapshotCheck => "snapshot_check",
            Detector::WalGrowthCheck => "wal_growth_check",
            Detector::MultiDbLedger => "multi_db_ledger",
        }
    }
}

impl FailureKind {
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Unexpected => "unexpected",
            FailureKind::Missing => "missing",
        }
    }
}

/// `category/detector/kind`, as the report's keys spell them.
impl std::fmt::Display for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/{}/{}",
            self.category.name(),
            self.detector.name(),
            self.kind.name()
        )
    }
}

impl FailureCategory {
    /// Where a failure of this category stands among a run's failures when the verdict
    /// names one: causes before their consequences (a write-lock breach is why rows are
    /// lost and the database damaged), and what the data shows before how the run went.
    pub fn cause_rank(self) -> u8 {
        use FailureCategory as F;
        match self {
            F::LockOverlaps | F::LockstepBreaches => 0,
            F::Sidecar => 1,
            F::FalseCorruption => 2,
            F::LostWrites
            | F::PhantomWrites
            | F::DuplicateWrites
            | F::OrderViolations
            | F::Durability
            | F::State
            | F::TornMultiDbCommit => 3,
            // A read or write the others' transactions do not account for: what the data
            // shows, after the lock breaches that would explain it.
            F::Isolation => 3,
            // A rule of the app's data broken: what the data shows, as the ledger's counts.
            F::Invariant => 3,
            // A read that saw a snapshot change: what the data shows, as isolation.
            F::SnapshotStability => 3,
            // A WAL left to grow: how the run went for the file, after what the data shows.
            F::CheckpointStarvation => 5,
            F::Integrity => 4,
            F::RealCorruption | F::FinalLength | F::JournalMode => 5,
            // How the run ended for the database after the workers: a straggler holding it.
            F::FinalCheckpoint | F::FinalClose => 8,
            F::WorkerErrors => 6,
            F::GuardErrors => 6,
            F::NotJudged | F::IoPointNotFired => 7,
            F::Unreadable => 8,
            F::Liveness => 9,
        }
    }
}

impl Failure {
    /// The message without its leading `category: `, for one-line summaries.
    pub fn text(&self) -> &str {
        self.message
            .strip_prefix(self.category.name())
            .and_then(|m| m.strip_prefix(": "))
            .unwrap_or(&self.message)
    }

    /// A failure whose message is prefixed with its category name.
    pub fn new(
        category: FailureCategory,
        detector: Detector,
        kind: FailureKind,
        count: Option<u64>,
        text: impl std::fmt::Display,
    ) -> Failure {
        Failure {
            category,
            detector,
            kind,
            count,
            message: format!("{}: {text}", category.name()),
        }
    }

    pub fn signature(&self) -> Signature {
        Signature {
            category: self.category,
            detector: self.detector,
            kind: self.kind,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The sorted, deduplicated signatures of a set of failures.
pub fn signatures<'a>(
    failures: impl IntoIterator<Item = &'a Failure>,
) -> std::collections::BTreeSet<Signature> {
    failures.into_iter().map(Failure::signature).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names used in messages and signatures are the serialised names.
    #[test]
    fn names_match_serde() {
        let json = |v: serde_json::Value| v.as_str().unwrap().to_string();
        for d in [
            Detector::IntegrityCheck,
            Detector::LockstepCoordinator,
            Detector::OpCount,
        ] {
            assert_eq!(json(serde_json::to_value(d).unwrap()), d.name());
        }
        for c in [FailureCategory::LostWrites, FailureCategory::FinalLength] {
            assert_eq!(json(serde_json::to_value(c).unwrap()), c.name());
        }
        assert_eq!(
            json(serde_json::to_value(FailureKind::Missing).unwrap()),
            "missing"
        );
    }

    /// A failure prints as its whole message, and its text (for one-line summaries that
    /// print their own label) is the message without its category. Cargo-mutants: `text`
    /// and `Display` replaced by constants survived the fast tests.
    #[test]
    fn a_failure_prints_its_message_and_its_text_drops_the_category() {
        let f = Failure::new(
            FailureCategory::LostWrites,
            Detector::Ledger,
            FailureKind::Unexpected,
            Some(2),
            "2 writes lost",
        );
        assert_eq!(f.message, "lost_writes: 2 writes lost");
        assert_eq!(f.text(), "2 writes lost");
        assert_eq!(f.to_string(), "lost_writes: 2 writes lost");
        // A message without the prefix is its own text.
        let g = Failure {
            message: "odd".into(),
            ..f
        };
        assert_eq!(g.text(), "odd");
    }
}
