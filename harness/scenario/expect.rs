//! `[expect]`: what a run must show, including documented outcomes of known bugs.

use serde::{Deserialize, Serialize};

/// What the run must show. Defaults: everything clean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Expect {
    pub false_corruption: Expectation,
    pub real_corruption: Expectation,
    /// Committed writes whose rows are missing or wrong (`checks.lost_writes`) only.
    pub lost_writes: Expectation,
    /// Rows of ops that did not commit, or that no planned op wrote.
    pub phantom_writes: Expectation,
    /// Committed writes present more than once.
    pub duplicate_writes: Expectation,
    /// Commits of one actor out of seq order.
    pub order_violations: Expectation,
    /// Interval overlaps of the monotonic-time exclusion check only.
    pub lock_overlaps: Expectation,
    /// Write-lock breaches the lockstep coordinator caught (always 0 in free mode).
    pub lockstep_breaches: Expectation,
    pub worker_errors: Expectation,
    /// Guard checks that could not look (`checks.guard_errors`).
    pub guard_errors: Expectation,
    pub integrity: IntegrityExpectation,
    pub sidecar: SidecarExpectation,
    /// Checks the scenario declares not judged: judging nothing there is then a note, not
    /// a failure (an app that cannot report its write-lock interval, say).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_judged: Vec<JudgedCheck>,
    /// The WAL's peak size (`checks.wal_growth`): only reported, or asserted within its bound.
    #[serde(skip_serializing_if = "WalGrowthExpectation::is_reported")]
    pub wal_growth: WalGrowthExpectation,
}

/// What the checkpoint-starvation check asserts of the WAL's peak.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WalGrowthExpectation {
    /// Measured and noted against its bound, never failing: SQLite's automatic checkpoints
    /// are PASSIVE and promise no bound (readers, and writers contending for the lock, can
    /// keep the WAL from restarting).
    #[default]
    Reported,
    /// The peak must stay within `2 x wal_autocheckpoint` frames, or the run fails
    /// (`checkpoint_starvation`); WAL mode with `wal_autocheckpoint > 0` only.
    Bounded,
}

impl WalGrowthExpectation {
    pub fn is_reported(&self) -> bool {
        *self == WalGrowthExpectation::Reported
    }
}

impl Default for Expect {
    fn default() -> Self {
        Expect {
            false_corruption: Expectation::None,
            real_corruption: Expectation::None,
            lost_writes: Expectation::None,
            phantom_writes: Expectation::None,
            duplicate_writes: Expectation::None,
            order_violations: Expectation::None,
            lock_overlaps: Expectation::None,
            lockstep_breaches: Expectation::None,
            worker_errors: Expectation::None,
            guard_errors: Expectation::None,
            integrity: IntegrityExpectation::Ok,
            sidecar: SidecarExpectation::Auto,
            not_judged: Vec::new(),
            wal_growth: WalGrowthExpectation::Reported,
        }
    }
}

/// How many of something a run may show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expectation {
    /// Zero, or the run fails.
    None,
    /// At least one, or the run fails: a documented bug that must still show.
    Some,
    /// Not judged.
    Any,
}

impl Expectation {
    pub fn allows(self, count: u64) -> bool {
        match self {
            Expectation::None => count == 0,
            Expectation::Some => count > 0,
            Expectation::Any => true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IntegrityExpectation {
    /// integrity_check and quick_check say `ok`, and every verification step ran.
    Ok,
    /// The checks report damage, yet the ledger and every verification step could run.
    Damaged,
    /// The database is damaged so far that the ledger or a verification step cannot read
    /// it: that must show. The only expectation under which an unreadable database passes.
    Unreadable,
    /// `ok` or `damaged`; an unreadable database still fails.
    Any,
    /// `ok`, `damaged` or `unreadable`, a note when not `ok`: for a demonstration whose
    /// damage varies from run to run (files deleted under live processes). Says nothing of
    /// the database, so such a scenario must require something else to be able to fail
    /// (`worker_errors = "some"`).
    AnyOrUnreadable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SidecarExpectation {
    /// Required when the strategy takes a global write lock, forbidden otherwise.
    Auto,
    Forbidden,
    Required,
    Any,
}

/// A check whose reach over the ops is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JudgedCheck {
    /// Write exclusion: committed write transactions with both interval ends
    /// (`t_begin_ok_ns`, `t_commit_issued_ns`).
    Exclusion,
    /// Commit order (built-in ledger): committed write transactions that name the event
    /// they inserted (`event_id`).
    Order,
}

impl JudgedCheck {
    pub fn name(self) -> &'static str {
        match self {
            JudgedCheck::Exclusion => "exclusion",
            JudgedCheck::Order => "order",
        }
    }
}

/// `[expect]` as a whole, and the tables it judges with: a scenario whose expectations could
/// never fail, or a ledger with no app to hold to it, is refused before anything runs.
pub(super) fn validate(s: &super::Scenario) -> Result<(), super::Invalid> {
    use super::Invalid;
    if s.ledger.is_some() && s.worker.is_none() {
        return Err(Invalid::table(
            "ledger",
            "needs a `[worker]`: the app-defined ledger holds an external app to its own rows; the built-in worker's rows are checked by the kanban ledger",
        ));
    }
    let e = &s.expect;
    let some_required = [
        e.false_corruption,
        e.real_corruption,
        e.lost_writes,
        e.phantom_writes,
        e.duplicate_writes,
        e.order_violations,
        e.lock_overlaps,
        e.lockstep_breaches,
        e.worker_errors,
    ]
    .contains(&Expectation::Some);
    if e.integrity == IntegrityExpectation::AnyOrUnreadable && !some_required {
        return Err(Invalid::field(
            "expect.integrity",
            "= \"any-or-unreadable\" accepts every state of the database, so the run must require something else to be able to fail; set another [expect] key to \"some\" (e.g. worker_errors = \"some\"), or use integrity = \"any\" or \"unreadable\"",
        ));
    }
    Ok(())
}
