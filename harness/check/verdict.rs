//! The verdict: every finding measured against the scenario's `[expect]`, one typed failure
//! per counter or check that broke its expectation. Safety (the data) and liveness (the run
//! finished) are reported apart.

use serde::{Deserialize, Serialize};

use super::failure::{Detector, Failure, FailureCategory as Cat, FailureKind, Signature};
use super::{Checks, Corruption};
use crate::observe::{Observations, Outcome, Totals};
use crate::scenario::{
    Expectation, IntegrityExpectation, JudgedCheck, Scenario, SidecarExpectation, WriteLock,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    Pass,
    Fail,
    /// SIGINT/SIGTERM stopped the run; nothing about the system under test is concluded.
    Interrupted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub verdict: VerdictKind,
    /// Safety failures: the data, the guards, the locks.
    pub failures: Vec<Failure>,
    /// Liveness failures: workers that crashed, hung or never started.
    pub liveness: Vec<Failure>,
    /// Documented outcomes that showed as expected, and other things worth knowing.
    pub notes: Vec<String>,
}

impl Verdict {
    /// The failure the one-line verdict names: the cause, not its consequences. A worker
    /// that broke the protocol comes first (nothing it said can be believed, so what the
    /// checks found after it is no evidence), then the earliest cause among the safety
    /// failures the data shows ([`Cat::cause_rank`] below [`CONSEQUENCE_RANK`]), then the
    /// first liveness failure, then the rest: a database the ledger could not read, a check
    /// that judged nothing or a fault that never fired after a run that stopped early
    /// (a stuck actor, a crash before the schema existed) are consequences of the stop.
    pub fn primary(&self) -> Option<&Failure> {
        primary(&self.failures, &self.liveness)
    }

    /// Every failure's signature, safety and liveness together.
    pub fn signature(&self) -> std::collections::BTreeSet<Signature> {
        super::failure::signatures(self.failures.iter().chain(&self.liveness))
    }
}

/// See [`Verdict::primary`].
pub fn primary<'a>(failures: &'a [Failure], liveness: &'a [Failure]) -> Option<&'a Failure> {
    let protocol = liveness
        .iter()
        .find(|f| f.detector == Detector::WorkerProtocol);
    let earliest = |evidence: bool| {
        failures
            .iter()
            .enumerate()
            .filter(move |(_, f)| (f.category.cause_rank() < CONSEQUENCE_RANK) == evidence)
            .min_by_key(|(i, f)| (f.category.cause_rank(), *i))
            .map(|(_, f)| f)
    };
    protocol
        .or_else(|| earliest(true))
        .or_else(|| liveness.first())
        .or_else(|| earliest(false))
}

/// Safety failures ranked here or later ([`Cat::cause_rank`]: a check that judged nothing, a
/// fault point that never fired, an unreadable database, a blocked final checkpoint) can be
/// consequences of a run that stopped early; a liveness failure is named before them.
pub const CONSEQUENCE_RANK: u8 = 7;

/// The verdict under construction.
#[derive(Default)]
struct Judgement {
    failures: Vec<Failure>,
    liveness: Vec<Failure>,
    notes: Vec<String>,
}

fn expectation_name(e: Expectation) -> &'static str {
    match e {
        Expectation::None => "none",
        Expectation::Some => "some",
        Expectation::Any => "any",
    }
}

impl Judgement {
    /// Judges one counter against its own expectation (`expect.<category name>`). A count
    /// declared `some` or `any` that shows leaves a note with the count.
    fn count(
        &mut self,
        category: Cat,
        detector: Detector,
        expected: Expectation,
        count: u64,
        what: &str,
        detail: &str,
    ) {
        let field = category.name();
        let decl = format!("expect.{field} = \"{}\"", expectation_name(expected));
        if expected.allows(count) {
            match expected {
                Expectation::Some => self
                    .notes
                    .push(format!("expected and seen: {count} {what} ({decl})")),
                Expectation::Any if count > 0 => self
                    .notes
                    .push(format!("seen, not judged: {count} {what} ({decl})")),
                _ => {}
            }
            return;
        }
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(": {detail}")
        };
        let (kind, text) = match expected {
            Expectation::Some => (
                FailureKind::Missing,
                format!(
                    "expected {what} ({decl}) but saw none: the documented behaviour no longer shows"
                ),
            ),
            _ => (
                FailureKind::Unexpected,
                format!("{count} {what} ({decl}){detail}"),
            ),
        };
        self.failures
            .push(Failure::new(category, detector, kind, Some(count), text));
    }

    fn fail(&mut self, category: Cat, detector: Detector, kind: FailureKind, text: String) {
        self.failures
            .push(Failure::new(category, detector, kind, None, text));
    }

    fn live(&mut self, detector: Detector, text: String) {
        self.liveness.push(Failure::new(
            Cat::Liveness,
            detector,
            FailureKind::Unexpected,
            None,
            text,
        ));
    }
}

pub fn judge(
    s: &Scenario,
    obs: &Observations,
    totals: &Totals,
    checks: &Checks,
    k: &Corruption,
) -> Verdict {
    let mut j = Judgement::default();
    for l in &obs.liveness {
        j.live(Detector::Runner, l.clone());
    }
    liveness::judge_worker_exits(&mut j, obs);
    liveness::judge_op_count(&mut j, checks, totals);
    judge_worker_errors(&mut j, s, obs, totals);
    judge_corruption(&mut j, s, k);
    j.count(
        Cat::GuardErrors,
        Detector::Guard,
        s.expect.guard_errors,
        checks.guard_errors,
        "guard checks that could not look (each vouches for nothing)",
        checks.first_guard_error.as_deref().unwrap_or_default(),
    );
    judge_integrity(&mut j, s, checks);
    judge_unreadable(&mut j, s, checks);
    judge_final_state(&mut j, s, checks);
    judge_ledger(&mut j, s, checks);
    judge_exclusion(&mut j, s, checks);
    judge_sidecar(&mut j, s, checks);
    oracles::judge_coverage(&mut j, s, checks);
    oracles::judge_state(&mut j, checks);
    oracles::judge_isolation(&mut j, checks);
    oracles::judge_invariants(&mut j, checks);
    oracles::judge_snapshots(&mut j, checks);
    oracles::judge_wal_growth(&mut j, checks);
    oracles::judge_multi_db(&mut j, checks);
    add_notes(&mut j, obs, checks);
    let verdict = if obs.interrupted {
        VerdictKind::Interrupted
    } else if j.failures.is_empty() && j.liveness.is_empty() {
        VerdictKind::Pass
    } else {
        VerdictKind::Fail
    };
    Verdict {
        verdict,
        failures: j.failures,
        liveness: j.liveness,
        notes: j.notes,
    }
}

fn judge_worker_errors(j: &mut Judgement, s: &Scenario, obs: &Observations, totals: &Totals) {
    let mut by_code = std::collections::BTreeMap::<String, u64>::new();
    for r in obs.records.iter().filter(|r| r.outcome == Outcome::Failed) {
        let code = r
            .error
            .as_ref()
            .map_or("unknown".to_string(), |e| e.code.clone());
        *by_code.entry(code).or_default() += 1;
    }
    let detail: Vec<String> = by_code
        .into_iter()
        .map(|(c, n)| format!("{c} x{n}"))
        .collect();
    j.count(
        Cat::WorkerErrors,
        Detector::WorkerRecords,
        s.expect.worker_errors,
        totals.failed,
        "ops failed in workers",
        &detail.join(", "),
    );
}

fn judge_corruption(j: &mut Judgement, s: &Scenario, k: &Corruption) {
    let by_app_guard = k.by_guard.keys().any(|g| g != super::SQLITE_SOURCE);
    let detector = if by_app_guard || k.reports == 0 {
        Detector::Guard
    } else {
        Detector::Sqlite
    };
    let first = k
        .examples
        .first()
        .map(|x| {
            format!(
                "first: worker {} seq {} ({}): {}",
                x.worker, x.seq, x.source, x.message
            )
        })
        .unwrap_or_default();
    j.count(
        Cat::FalseCorruption,
        detector,
        s.expect.false_corruption,
        k.false_reports,
        "false corruption reports (guard fired, yet integrity_check ok and every write accounted for)",
        &first,
    );
    let evidence: Vec<&str> = k.evidence.iter().map(|c| c.name()).collect();
    j.count(
        Cat::RealCorruption,
        detector,
        s.expect.real_corruption,
        k.real,
        &format!(
            "corruption reports classified real (damage found by: {})",
            evidence.join(", ")
        ),
        &first,
    );
}

/// Whether the ledger, the content hash or a verification step could not read the database.
fn unreadable(c: &Checks) -> bool {
    c.ledger_error.is_some() || c.content_hash_error.is_some() || !c.verification_errors.is_empty()
}

fn judge_integrity(j: &mut Judgement, s: &Scenario, c: &Checks) {
    let ok = c.integrity_ok();
    let seen = format!(
        "integrity_check: {}; quick_check: {}",
        c.integrity_check, c.quick_check
    );
    match s.expect.integrity {
        IntegrityExpectation::Ok if !ok => j.fail(
            Cat::Integrity,
            Detector::IntegrityCheck,
            FailureKind::Unexpected,
            format!("{seen} (expect.integrity = \"ok\")"),
        ),
        IntegrityExpectation::Damaged if ok => j.fail(
            Cat::Integrity,
            Detector::IntegrityCheck,
            FailureKind::Missing,
            "expected a damaged database (expect.integrity = \"damaged\") but integrity_check and quick_check are ok".into(),
        ),
        IntegrityExpectation::Damaged
        | IntegrityExpectation::Any
        | IntegrityExpectation::AnyOrUnreadable
            if !ok =>
        {
            j.notes.push(format!("expected and seen: damaged database ({seen})"))
        }
        IntegrityExpectation::Unreadable if !unreadable(c) => j.fail(
            Cat::Unreadable,
            Detector::Ledger,
            FailureKind::Missing,
            format!(
                "expected an unreadable database (expect.integrity = \"unreadable\") but the ledger and every verification step ran ({seen})"
            ),
        ),
        _ => {}
    }
}

/// An error while checking is never a pass: only `expect.integrity = "unreadable"` (or
/// `"any-or-unreadable"`) turns it into a note.
fn judge_unreadable(j: &mut Judgement, s: &Scenario, c: &Checks) {
    let expected = match s.expect.integrity {
        IntegrityExpectation::Unreadable => Some("unreadable"),
        IntegrityExpectation::AnyOrUnreadable => Some("any-or-unreadable"),
        _ => None,
    };
    let errors = c
        .ledger_error
        .iter()
        .map(|e| {
            (
                Detector::Ledger,
                format!("the ledger could not be checked: {e}"),
            )
        })
        .chain(c.content_hash_error.iter().map(|e| {
            (
                Detector::ContentHash,
                format!("the content hash could not be computed: {e}"),
            )
        }))
        .chain(
            c.verification_errors
                .iter()
                .map(|e| (Detector::Verification, format!("verification: {e}"))),
        );
    for (detector, text) in errors {
        if let Some(e) = expected {
            j.notes.push(format!(
                "expected and seen (expect.integrity = \"{e}\"): {text}"
            ));
        } else {
            j.fail(Cat::Unreadable, detector, FailureKind::Unexpected, text);
        }
    }
}

/// A close that fails on a database the scenario expects damaged is part of that damage (a
/// note); anywhere else it is its own failure.
fn judge_close(j: &mut Judgement, s: &Scenario, c: &Checks) {
    let Some(e) = &c.close_error else { return };
    let damage_expected = !matches!(s.expect.integrity, IntegrityExpectation::Ok);
    if damage_expected && !c.integrity_ok() {
        j.notes
            .push(format!("expected and seen on a damaged database: {e}"));
    } else {
        j.fail(
            Cat::FinalClose,
            Detector::VerificationClose,
            FailureKind::Unexpected,
            e.clone(),
        );
    }
}

/// The exact length (whenever the database is healthy and verification ran) and the
/// journal mode after the run.
fn judge_final_state(j: &mut Judgement, s: &Scenario, c: &Checks) {
    if let Some(why) = &c.final_checkpoint_blocked {
        j.fail(
            Cat::FinalCheckpoint,
            Detector::FinalCheckpoint,
            FailureKind::Unexpected,
            format!("{why}; the final length was not judged"),
        );
    }
    judge_close(j, s, c);
    if c.integrity_ok()
        && !unreadable(c)
        && c.final_checkpoint_blocked.is_none()
        && !c.final_length_ok
    {
        j.fail(
            Cat::FinalLength,
            Detector::FinalLengthCheck,
            FailureKind::Unexpected,
            "after wal_checkpoint(TRUNCATE) the main file length is not page_count x page_size"
                .into(),
        );
    }
    if !c.journal_mode_ok && !c.journal_mode.is_empty() {
        // `journal_mode = "app"`: the app's own mode was not one mode for the whole run.
        let text = match c.app_journal_mode.as_ref().and_then(|a| a.problem.clone()) {
            Some(p) => p,
            None => format!(
                "journal mode after the run is {}, not {} as configured",
                c.journal_mode,
                s.sqlite.journal_mode.as_sql()
            ),
        };
        j.fail(
            Cat::JournalMode,
            Detector::JournalModeCheck,
            FailureKind::Unexpected,
            text,
        );
    }
}

/// Each ledger counter against its own expectation, with the first example of its kind.
fn judge_ledger(j: &mut Judgement, s: &Scenario, c: &Checks) {
    let e = &s.expect;
    let example = |cat: Cat| {
        c.ledger_first
            .get(&cat)
            .map(|x| format!("first: {x}"))
            .unwrap_or_default()
    };
    for (cat, expected, count, what) in [
        (
            Cat::LostWrites,
            e.lost_writes,
            c.lost_writes,
            "lost writes (committed, but rows missing or wrong)",
        ),
        (
            Cat::PhantomWrites,
            e.phantom_writes,
            c.phantom_writes,
            "phantom writes (rows no committed op wrote)",
        ),
        (
            Cat::DuplicateWrites,
            e.duplicate_writes,
            c.duplicate_writes,
            "duplicate writes (committed rows present more than once)",
        ),
        (
            Cat::OrderViolations,
            e.order_violations,
            c.order_violations,
            "order violations (an actor's commits out of seq order)",
        ),
    ] {
        j.count(cat, Detector::Ledger, expected, count, what, &example(cat));
    }
}

/// Interval overlaps (monotonic times) and lockstep breaches (exact steps): two detectors,
/// two counters, each judged against its own expectation.
fn judge_exclusion(j: &mut Judgement, s: &Scenario, c: &Checks) {
    j.count(
        Cat::LockOverlaps,
        Detector::IntervalCheck,
        s.expect.lock_overlaps,
        c.lock_overlaps,
        "write-lock interval overlaps",
        c.lock_overlap_example.as_deref().unwrap_or_default(),
    );
    j.count(
        Cat::LockstepBreaches,
        Detector::LockstepCoordinator,
        s.expect.lockstep_breaches,
        c.lockstep_breaches,
        "write-lock breaches caught in lockstep",
        c.first_breach.as_deref().unwrap_or_default(),
    );
}

fn judge_sidecar(j: &mut Judgement, s: &Scenario, c: &Checks) {
    let uses_lock = s.strategy.write_lock == WriteLock::Flock;
    // `auto` requires the sidecar only when an op that takes the lock under this strategy
    // demonstrably ran: a run of checkpoints alone (`lock_checkpoints = false`) never opens
    // `<db>.lock`, and that is not the lock failing to run.
    let sidecar = match s.expect.sidecar {
        SidecarExpectation::Auto if uses_lock && c.global_lock_ops > 0 => {
            SidecarExpectation::Required
        }
        SidecarExpectation::Auto if uses_lock => {
            j.notes.push(format!(
                "sidecar not judged: no op that takes the global write lock under this strategy ran (expect.sidecar = \"auto\"; <db>.lock {})",
                if c.sidecar_seen { "seen" } else { "not seen" }
            ));
            SidecarExpectation::Any
        }
        SidecarExpectation::Auto => SidecarExpectation::Forbidden,
        other => other,
    };
    match sidecar {
        SidecarExpectation::Forbidden if c.sidecar_seen => j.fail(
            Cat::Sidecar,
            Detector::SidecarWatch,
            FailureKind::Unexpected,
            "a global lock sidecar <db>.lock appeared although the strategy takes no global write lock".into(),
        ),
        SidecarExpectation::Required if !c.sidecar_seen => j.fail(
            Cat::Sidecar,
            Detector::SidecarWatch,
            FailureKind::Missing,
            format!(
                "the strategy takes a global write lock but no <db>.lock sidecar was seen: the lock did not run ({} ops that take it under this strategy ran)",
                c.global_lock_ops
            ),
        ),
        SidecarExpectation::Any if c.sidecar_seen && s.expect.sidecar == SidecarExpectation::Any => j
            .notes
            .push("seen, not judged: a <db>.lock sidecar (expect.sidecar = \"any\")".into()),
        SidecarExpectation::Forbidden => {
            if let Some(e) = &c.watch_error {
                j.fail(
                    Cat::Sidecar,
                    Detector::SidecarWatch,
                    FailureKind::Unexpected,
                    format!("the file watch cannot vouch that no <db>.lock sidecar appeared: {e}"),
                );
            }
        }
        _ => {}
    }
}

fn add_notes(j: &mut Judgement, obs: &Observations, c: &Checks) {
    if c.ambiguous > 0 {
        j.notes.push(format!(
            "{} ambiguous ops settled by probing: {} committed, {} absent",
            c.ambiguous,
            c.ambiguous_committed,
            c.ambiguous - c.ambiguous_committed
        ));
    }
    for k in &obs.kills {
        j.notes.push(format!(
            "seeded kill: worker {} (pid {}) died {} in op seq {}{}",
            k.worker,
            k.pid,
            match k.point {
                crate::scenario::KillPoint::MidTransaction => "mid-transaction",
                crate::scenario::KillPoint::AfterCommit => "right after COMMIT",
                crate::scenario::KillPoint::Checkpoint => "during a checkpoint",
                crate::scenario::KillPoint::Close => "at connection close",
                crate::scenario::KillPoint::Hang => "hung",
                crate::scenario::KillPoint::Panic => "panicked",
                crate::scenario::KillPoint::Io => "at an [io] fault point",
                crate::scenario::KillPoint::PowerLoss => "in the power loss",
                crate::scenario::KillPoint::None => "",
            },
            k.seq,
            if k.respawned {
                "; a successor continued its schedule"
            } else {
                ""
            }
        ));
    }
}

#[cfg(test)]
#[path = "verdict_tests.rs"]
mod tests;

#[path = "verdict_liveness.rs"]
mod liveness;

#[path = "verdict_oracles.rs"]
mod oracles;
