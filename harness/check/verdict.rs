//! The verdict: every finding measured against the scenario's `[expect]`, one plain line per
//! failure. Safety (the data) and liveness (the run finished) are reported apart.

use serde::{Deserialize, Serialize};

use super::{Checks, Corruption};
use crate::observe::{Observations, Outcome, Totals};
use crate::scenario::{Expectation, IntegrityExpectation, Scenario, SidecarExpectation, WriteLock};

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
    pub failures: Vec<String>,
    /// Liveness failures: workers that crashed, hung or never started.
    pub liveness: Vec<String>,
    /// Documented outcomes that showed as expected, and other things worth knowing.
    pub notes: Vec<String>,
}

fn judge_count(
    failures: &mut Vec<String>,
    notes: &mut Vec<String>,
    field: &str,
    what: &str,
    expected: Expectation,
    count: u64,
    detail: &str,
) {
    if expected.allows(count) {
        if expected == Expectation::Some {
            notes.push(format!(
                "expected and seen: {count} {what} (expect.{field} = \"some\")"
            ));
        }
        return;
    }
    let detail = if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    };
    match expected {
        Expectation::None => failures.push(format!("{count} {what}{detail}")),
        Expectation::Some => failures.push(format!(
            "expected {what} (expect.{field} = \"some\") but saw none: the documented behaviour no longer shows"
        )),
        Expectation::Any => {}
    }
}

pub fn judge(
    s: &Scenario,
    obs: &Observations,
    totals: &Totals,
    checks: &Checks,
    k: &Corruption,
) -> Verdict {
    let e = &s.expect;
    let mut failures = Vec::new();
    let mut notes = Vec::new();
    let mut liveness = obs.liveness.clone();

    for w in &obs.workers {
        if w.finished && w.exit_code == Some(0) {
            continue;
        }
        // A seeded kill that was not followed by a successor is the plan, not a failure.
        let planned_death = w.signal == Some(9)
            && obs
                .kills
                .iter()
                .any(|k| k.worker == w.worker && k.pid == w.pid && !k.respawned);
        if planned_death {
            continue;
        }
        let how = match (&w.killed_because, w.exit_code, w.signal) {
            (Some(why), _, _) => format!("killed by the runner: {why}"),
            (None, _, Some(sig)) => format!("died from signal {sig}"),
            (None, Some(code), _) if !w.finished => {
                format!("exited with code {code} before finishing its schedule")
            }
            (None, Some(code), _) => format!("exited with code {code}"),
            (None, None, None) => "ended in an unknown way".to_string(),
        };
        let err = w
            .error
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        liveness.push(format!(
            "worker {} (pid {}) {how} after {} ops{err}",
            w.worker, w.pid, w.records
        ));
    }
    // With kills, the ops in flight (and, without respawn, the rest) never report.
    if liveness.is_empty() && obs.kills.is_empty() && totals.ops < totals.planned {
        liveness.push(format!(
            "only {} of {} planned ops reported an outcome",
            totals.ops, totals.planned
        ));
    }

    let failed: Vec<String> = {
        let mut by_code = std::collections::BTreeMap::<String, u64>::new();
        for r in obs.records.iter().filter(|r| r.outcome == Outcome::Failed) {
            let code = r
                .error
                .as_ref()
                .map_or("unknown".to_string(), |e| e.code.clone());
            *by_code.entry(code).or_default() += 1;
        }
        by_code
            .into_iter()
            .map(|(c, n)| format!("{c} x{n}"))
            .collect()
    };
    judge_count(
        &mut failures,
        &mut notes,
        "worker_errors",
        "ops failed in workers",
        e.worker_errors,
        totals.failed,
        &failed.join(", "),
    );
    let first = |src: &str| {
        k.examples
            .iter()
            .find(|x| x.source != "sqlite" || src == "sqlite")
            .map(|x| format!("first: worker {} seq {}: {}", x.worker, x.seq, x.message))
            .unwrap_or_default()
    };
    judge_count(
        &mut failures,
        &mut notes,
        "false_corruption",
        "false corruption reports (guard fired, yet integrity_check ok and every write accounted for)",
        e.false_corruption,
        k.false_reports,
        &first("guard"),
    );
    judge_count(
        &mut failures,
        &mut notes,
        "real_corruption",
        "corruption reports classified real (the database or the ledger is damaged)",
        e.real_corruption,
        k.real,
        &first("sqlite"),
    );

    let integrity_ok = checks.integrity_check == "ok" && checks.quick_check == "ok";
    match e.integrity {
        IntegrityExpectation::Ok if !integrity_ok => failures.push(format!(
            "integrity_check: {}; quick_check: {}",
            checks.integrity_check, checks.quick_check
        )),
        IntegrityExpectation::Damaged if integrity_ok => failures.push(
            "expected a damaged database (expect.integrity = \"damaged\") but integrity_check and quick_check are ok".into(),
        ),
        IntegrityExpectation::Damaged => notes.push(format!("expected and seen: damaged database ({})", checks.integrity_check)),
        _ => {}
    }
    if e.integrity == IntegrityExpectation::Ok && integrity_ok && !checks.final_length_ok {
        failures.push(
            "after wal_checkpoint(TRUNCATE) the main file length is not page_count x page_size"
                .into(),
        );
    }
    if !checks.journal_mode_ok && !checks.journal_mode.is_empty() {
        failures.push(format!(
            "journal mode after the run is {}, not {} as configured",
            checks.journal_mode,
            s.sqlite.journal_mode.as_sql()
        ));
    }
    let ledger_bad = checks.lost_writes
        + checks.phantom_writes
        + checks.duplicate_writes
        + checks.order_violations;
    let ledger_detail = format!(
        "lost {}, phantom {}, duplicate {}, out of order {}{}",
        checks.lost_writes,
        checks.phantom_writes,
        checks.duplicate_writes,
        checks.order_violations,
        checks
            .ledger_examples
            .first()
            .map(|x| format!("; first: {x}"))
            .unwrap_or_default()
    );
    // On a database expected to be damaged, an unreadable ledger or a verification step that
    // errors out is the damage showing, not a new failure.
    let damage_expected = e.integrity != IntegrityExpectation::Ok && !integrity_ok;
    if let Some(err) = &checks.ledger_error {
        if damage_expected {
            notes.push(format!(
                "the ledger could not be checked on the damaged database: {err}"
            ));
        } else {
            failures.push(format!("the ledger could not be checked: {err}"));
        }
    }
    judge_count(
        &mut failures,
        &mut notes,
        "lost_writes",
        "ledger anomalies",
        e.lost_writes,
        ledger_bad,
        &ledger_detail,
    );
    // Interval overlaps (monotonic times) and lockstep breaches (exact steps) are two views
    // of one property, judged together.
    let breach_detail = [
        checks.lock_overlap_example.as_deref(),
        checks.first_breach.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("; ");
    judge_count(
        &mut failures,
        &mut notes,
        "lock_overlaps",
        &format!(
            "write-lock breaches ({} interval overlaps, {} caught in lockstep)",
            checks.lock_overlaps, checks.lockstep_breaches
        ),
        e.lock_overlaps,
        checks.lock_overlaps + checks.lockstep_breaches,
        &breach_detail,
    );
    let uses_lock = s.strategy.write_lock == WriteLock::Flock;
    let sidecar = match e.sidecar {
        SidecarExpectation::Auto if uses_lock => SidecarExpectation::Required,
        SidecarExpectation::Auto => SidecarExpectation::Forbidden,
        other => other,
    };
    match sidecar {
        SidecarExpectation::Forbidden if checks.sidecar_seen => failures.push(
            "a global lock sidecar <db>.lock appeared although the strategy takes no global write lock".into(),
        ),
        SidecarExpectation::Required if !checks.sidecar_seen => failures.push(
            "the strategy takes a global write lock but no <db>.lock sidecar was seen: the lock did not run".into(),
        ),
        _ => {}
    }
    for err in &checks.verification_errors {
        if damage_expected {
            notes.push(format!("verification on the damaged database: {err}"));
        } else {
            failures.push(format!("verification: {err}"));
        }
    }
    if checks.ambiguous > 0 {
        notes.push(format!(
            "{} ambiguous ops settled by probing: {} committed, {} absent",
            checks.ambiguous,
            checks.ambiguous_committed,
            checks.ambiguous - checks.ambiguous_committed
        ));
    }
    for k in &obs.kills {
        notes.push(format!(
            "seeded kill: worker {} (pid {}) died {} in op seq {}{}",
            k.worker,
            k.pid,
            match k.point {
                crate::scenario::KillPoint::MidTransaction => "mid-transaction",
                crate::scenario::KillPoint::AfterCommit => "right after COMMIT",
                crate::scenario::KillPoint::Checkpoint => "during a checkpoint",
                crate::scenario::KillPoint::Close => "at connection close",
                crate::scenario::KillPoint::Hang => "hung",
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
    let verdict = if obs.interrupted {
        VerdictKind::Interrupted
    } else if failures.is_empty() && liveness.is_empty() {
        VerdictKind::Pass
    } else {
        VerdictKind::Fail
    };
    Verdict {
        verdict,
        failures,
        liveness,
        notes,
    }
}
