//! A failure's signature: what "fails for the same reason" compares. A smaller run is
//! accepted only when its signature equals the original's.
//!
//! The signature is the run's *primary* typed failure (`check::failure`), chosen in [`of`]:
//! its category, grouped into the causes a shrink can keep or lose, and the detector that
//! saw it. Comparing only the primary failure (not the whole set) lets a smaller run drop
//! consequences (fewer damaged pages, no lost rows) while keeping the cause.

use serde::{Deserialize, Serialize};

use crate::check::failure::{Failure, FailureCategory, FailureKind as Kind};
use crate::report::Report;

/// Safety (the data, the guards, the locks) or liveness (the run did not finish).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    Safety,
    Liveness,
}

/// The failure categories, in the order a run's primary one is chosen: causes before their
/// consequences (a write-lock breach is why the database is damaged, not the other way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// Two writers inside the write lock at once (interval overlaps or lockstep breaches).
    LockBreach,
    /// `<db>.lock` seen without a global lock, or missing with one.
    Sidecar,
    /// A guard fired on a healthy database.
    FalseReport,
    /// The ledger: lost, phantom, duplicate or reordered writes.
    LostWrite,
    /// integrity_check / quick_check failed, or corruption reports classified real.
    RealDamage,
    /// Ops failed in workers (not corruption).
    WorkerErrors,
    /// A documented outcome (`expect.* = "some"`) no longer shows.
    ExpectationUnmet,
    /// Verification itself could not run (ledger unreadable, a step erred).
    Verification,
    /// The run did not finish: a worker crashed, hung, or the step budget ran out.
    Liveness,
    /// The verdict failed for a reason none of the above names.
    Other,
}

/// What "fails for the same reason" compares.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Signature {
    pub kind: FailureKind,
    pub category: Category,
    /// The detector that fired (`interval_check`, `lockstep_coordinator`, the guards that fired,
    /// `lost_writes`, `integrity_check`, ...).
    pub detector: String,
    /// A safety failure that also stopped the run (a crashed or hung worker, an exhausted
    /// step budget): a candidate that fails the same way but also hangs is another reason.
    #[serde(default)]
    pub with_liveness: bool,
}

impl std::fmt::Display for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            FailureKind::Safety => "safety",
            FailureKind::Liveness => "liveness",
        };
        write!(f, "{kind}/{:?}/{}", self.category, self.detector)?;
        if self.with_liveness {
            write!(f, "+liveness")?;
        }
        Ok(())
    }
}

/// Where a typed failure stands among a run's failures: causes before their consequences
/// (a write-lock breach is why rows are lost and the database is damaged, not the other
/// way), so the primary failure is the earliest cause the verdict names.
fn rank(f: &Failure) -> (u8, Category) {
    use FailureCategory as F;
    let category = if f.kind == Kind::Missing {
        Category::ExpectationUnmet
    } else {
        match f.category {
            F::LockOverlaps | F::LockstepBreaches => Category::LockBreach,
            F::Sidecar => Category::Sidecar,
            F::FalseCorruption => Category::FalseReport,
            // Acknowledged commits lost to a simulated power loss are lost writes too.
            F::LostWrites
            | F::PhantomWrites
            | F::DuplicateWrites
            | F::OrderViolations
            | F::Durability
            | F::State
            | F::TornMultiDbCommit => Category::LostWrite,
            // A read or write the others' transactions do not account for (a lost update is
            // a G-single cycle); its detector keeps it apart from the ledger's.
            F::Isolation => Category::LostWrite,
            // A reader whose snapshot changed: an isolation failure too.
            F::SnapshotStability => Category::LostWrite,
            // A WAL left to grow is neither damage nor a lost write.
            F::CheckpointStarvation => Category::Other,
            // An app's own rule about its data: none of the harness's categories.
            F::Invariant => Category::Other,
            F::Integrity | F::RealCorruption | F::FinalLength | F::JournalMode => {
                Category::RealDamage
            }
            F::WorkerErrors | F::GuardErrors => Category::WorkerErrors,
            F::Unreadable | F::FinalCheckpoint | F::FinalClose => Category::Verification,
            F::Liveness => Category::Liveness,
            // Only ever `Missing` (handled above); a fault that was not exercised.
            F::IoPointNotFired | F::NotJudged => Category::ExpectationUnmet,
        }
    };
    let within = match f.category {
        // Integrity before the corruption reports that follow from it.
        F::Integrity => 0,
        F::RealCorruption => 1,
        _ => 0,
    };
    (within, category)
}

/// The primary failure of a report, or `None` when it passed (or was interrupted): derived
/// from the verdict's typed failures (`check::failure`), never from message text.
pub fn of(r: &Report) -> Option<Signature> {
    use crate::check::verdict::VerdictKind;
    if r.verdict != VerdictKind::Fail {
        return None;
    }
    let primary = r.failures.iter().min_by_key(|f| {
        let (within, category) = rank(f);
        (category, within)
    });
    let with_liveness = !r.liveness.is_empty();
    let Some(f) = primary else {
        return with_liveness.then(|| Signature {
            kind: FailureKind::Liveness,
            category: Category::Liveness,
            detector: r
                .liveness
                .first()
                .map_or("liveness", |l| l.detector.name())
                .to_string(),
            with_liveness: true,
        });
    };
    let (_, category) = rank(f);
    let detector = match f.category {
        // Which guard fired is the reason a false report shows; keep it apart per guard.
        FailureCategory::FalseCorruption if !r.corruption.by_guard.is_empty() => r
            .corruption
            .by_guard
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("+"),
        // Lost, phantom, duplicate and reordered rows are different reasons.
        FailureCategory::LostWrites
        | FailureCategory::PhantomWrites
        | FailureCategory::DuplicateWrites
        | FailureCategory::OrderViolations => f.category.name().to_string(),
        _ => f.detector.name().to_string(),
    };
    Some(Signature {
        kind: FailureKind::Safety,
        category,
        detector,
        with_liveness,
    })
}
