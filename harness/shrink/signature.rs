//! A failure's signature: what "fails for the same reason" compares. A smaller run is
//! accepted only when its signature equals the original's.
//!
//! Today the verdict carries its failures as plain strings, so the signature is derived
//! here from the report's counters and `[expect]`, in ONE function ([`of`]). When the
//! verdict grows typed failure categories (a category enum and the detector that fired),
//! only [`of`] needs to change: map the verdict's first typed failure to a [`Signature`].

use serde::{Deserialize, Serialize};

use crate::report::Report;
use crate::scenario::{Expectation, IntegrityExpectation, SidecarExpectation, WriteLock};

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
    /// The detector that fired (`write-exclusion`, a guard's name, `ledger`, ...).
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

fn unexpected(e: Expectation, count: u64) -> bool {
    e == Expectation::None && count > 0
}

/// The primary failure of a report, or `None` when it passed (or was interrupted).
///
/// This is the one place to switch to the verdict's typed categories once they exist.
pub fn of(r: &Report) -> Option<Signature> {
    use crate::check::verdict::VerdictKind;
    if r.verdict != VerdictKind::Fail {
        return None;
    }
    let e = &r.scenario.expect;
    let c = &r.checks;
    let k = &r.corruption;
    let safety = |category, detector: &str| Signature {
        kind: FailureKind::Safety,
        category,
        detector: detector.to_string(),
        with_liveness: !r.liveness.is_empty(),
    };
    let integrity_ok = c.integrity_check == "ok" && c.quick_check == "ok";
    let ledger_bad = c.lost_writes + c.phantom_writes + c.duplicate_writes + c.order_violations;
    let uses_lock = r.scenario.strategy.write_lock == WriteLock::Flock;
    let sidecar_wrong = match e.sidecar {
        SidecarExpectation::Auto => c.sidecar_seen != uses_lock,
        SidecarExpectation::Forbidden => c.sidecar_seen,
        SidecarExpectation::Required => !c.sidecar_seen,
        SidecarExpectation::Any => false,
    };
    let found = if unexpected(e.lock_overlaps, c.lock_overlaps + c.lockstep_breaches) {
        Some(safety(Category::LockBreach, "write-exclusion"))
    } else if sidecar_wrong {
        Some(safety(Category::Sidecar, "file-set"))
    } else if unexpected(e.false_corruption, k.false_reports) {
        let guards: Vec<&str> = k.by_guard.keys().map(String::as_str).collect();
        Some(safety(Category::FalseReport, &guards.join("+")))
    } else if unexpected(e.lost_writes, ledger_bad) {
        Some(safety(Category::LostWrite, "ledger"))
    } else if e.integrity == IntegrityExpectation::Ok && !integrity_ok {
        Some(safety(Category::RealDamage, "integrity_check"))
    } else if unexpected(e.real_corruption, k.real) {
        Some(safety(Category::RealDamage, "corruption-reports"))
    } else if unexpected(e.worker_errors, r.totals.failed) {
        Some(safety(Category::WorkerErrors, "worker-errors"))
    } else if [
        (e.false_corruption, k.false_reports),
        (e.real_corruption, k.real),
        (e.lost_writes, ledger_bad),
        (e.lock_overlaps, c.lock_overlaps + c.lockstep_breaches),
        (e.worker_errors, r.totals.failed),
    ]
    .iter()
    .any(|&(x, n)| x == Expectation::Some && n == 0)
    {
        Some(safety(Category::ExpectationUnmet, "expect-some"))
    } else if c.ledger_error.is_some() || !c.verification_errors.is_empty() {
        Some(safety(Category::Verification, "verification"))
    } else if !r.failures.is_empty() {
        Some(safety(Category::Other, "verdict"))
    } else {
        None
    };
    found.or_else(|| {
        (!r.liveness.is_empty()).then(|| Signature {
            kind: FailureKind::Liveness,
            category: Category::Liveness,
            detector: "liveness".into(),
            with_liveness: true,
        })
    })
}
