//! The verdicts of the oracles beyond the counters: how far each check reached
//! (`checks.coverage`), the state oracle's replay (`checks.state`) and the isolation
//! checker's anomalies (`checks.isolation`), and the scenario's invariants
//! (`checks.invariants`).

use super::*;
use crate::observe::invariants::{InvariantReport, InvariantsDuring};

/// The state oracle's finding, or its error (an error while checking is never a pass).
pub(super) fn judge_state(j: &mut Judgement, c: &Checks) {
    if let Some(why) = &c.state_not_judged {
        j.notes.push(why.clone());
    }
    let why = match (&c.state, &c.state_error) {
        (_, Some(e)) => e.clone(),
        (Some(s), None) if !s.matches => format!(
            "the {} committed ops replayed in commit order do not give the run's database: {}",
            s.replayed,
            s.difference.as_deref().unwrap_or("unknown difference")
        ),
        _ => return,
    };
    j.fail(
        Cat::State,
        Detector::StateOracle,
        FailureKind::Unexpected,
        why,
    );
}

/// A check that judged nothing of a non-zero population fails, unless the scenario declares
/// it not judged; one that judged only part of it leaves a note.
pub(super) fn judge_coverage(j: &mut Judgement, s: &Scenario, c: &Checks) {
    for cov in &c.coverage {
        let name = cov.check.name();
        let declared = s.expect.not_judged.contains(&cov.check);
        let what = match cov.check {
            JudgedCheck::Exclusion => {
                "committed write transactions (records without t_begin_ok_ns and t_commit_issued_ns)"
            }
            JudgedCheck::Order => "committed write transactions (records without event_id)",
        };
        if cov.judged_nothing() && !declared {
            let detector = match cov.check {
                JudgedCheck::Exclusion => Detector::IntervalCheck,
                JudgedCheck::Order => Detector::Ledger,
            };
            j.failures.push(Failure::new(
                Cat::NotJudged,
                detector,
                FailureKind::Missing,
                Some(cov.population),
                format!(
                    "{name} judged nothing: 0 of {} {what}; declare expect.not_judged = [\"{name}\"] if the worker cannot report it",
                    cov.population
                ),
            ));
        } else if cov.judged_nothing() {
            j.notes.push(format!(
                "not judged: {name}, 0 of {} {what} (expect.not_judged)",
                cov.population
            ));
        } else if cov.judged < cov.population && cov.check == JudgedCheck::Exclusion {
            j.notes.push(format!(
                "{name} judged {} of {} committed write transactions (the rest reported no interval)",
                cov.judged, cov.population
            ));
        }
    }
}

/// What the checked transactions are: list-append ones, or the kanban claims.
fn kind(iso: &crate::check::isolation::records::IsolationReport) -> &str {
    iso.transactions.as_deref().unwrap_or("list-append")
}

/// A list-append history must be strict serializable; an anomaly (or a history that could
/// not be checked) fails the run, naming the classes and the first explained anomaly.
pub(super) fn judge_isolation(j: &mut Judgement, c: &Checks) {
    let Some(iso) = &c.isolation else {
        return;
    };
    if let Some(e) = &iso.error {
        j.fail(
            Cat::Isolation,
            Detector::IsolationChecker,
            FailureKind::Unexpected,
            format!("the {} history could not be checked: {e}", kind(iso)),
        );
        return;
    }
    if iso.anomaly_count == 0 {
        return;
    }
    let classes: Vec<String> = iso
        .classes
        .iter()
        .map(|(c, n)| format!("{c} x{n}"))
        .collect();
    // A cycle explains the most (which transactions, edges and keys): name one first, a
    // lost update's (two writers of one key) before any other.
    let cycle = |lost: bool| {
        iso.anomalies.iter().find(move |f| match &f.anomaly {
            crate::check::isolation::Anomaly::Cycle { steps } => {
                !lost || crate::check::isolation::anomaly::lost_update(steps).is_some()
            }
            _ => false,
        })
    };
    let first = cycle(true)
        .or(cycle(false))
        .or(iso.anomalies.first())
        .map(|f| format!("; first: {}", f.explanation))
        .unwrap_or_default();
    // Keys that are not lists (a claim's task) by name.
    let names: Vec<String> = iso
        .key_names
        .iter()
        .map(|(k, n)| format!("key {k} is {n}"))
        .collect();
    let first = if names.is_empty() {
        first
    } else {
        format!("{first} ({})", names.join(", "))
    };
    j.failures.push(Failure::new(
        Cat::Isolation,
        Detector::IsolationChecker,
        FailureKind::Unexpected,
        Some(iso.anomaly_count as u64),
        format!(
            "{} anomalies in {} {} transactions ({}){first}",
            iso.anomaly_count,
            iso.txns,
            kind(iso),
            classes.join(", ")
        ),
    ));
}

/// Each invariant that returned rows fails the run by its name, with its first rows; one
/// that could not run fails too (an error while checking is never a pass). In lockstep an
/// invariant broken at a quiescent point during the run fails even when it held again at
/// the end (one failure per invariant: a breach after the run names the first one during
/// it). The points checked, and those not judged, are noted.
pub(super) fn judge_invariants(j: &mut Judgement, c: &Checks) {
    let during = c.invariants_during.as_ref();
    for inv in &c.invariants {
        let first = during.and_then(|d| d.first_breach(&inv.name));
        if let Some(e) = &inv.error {
            j.fail(
                Cat::Invariant,
                Detector::InvariantCheck,
                FailureKind::Unexpected,
                format!("invariant {:?} could not be checked: {e}", inv.name),
            );
        } else if inv.rows > 0 {
            let since = first
                .map(|b| {
                    format!(
                        " (first broken at the quiescent point after step {} during the run)",
                        b.step
                    )
                })
                .unwrap_or_default();
            invariant_broken(
                j,
                inv,
                format!("its query returned {} row(s){since}", inv.rows),
            );
        } else if let Some(b) = first {
            invariant_broken(
                j,
                &b.report,
                format!(
                    "at the quiescent point after step {} during the run its query returned {} row(s); it held again after the run",
                    b.step, b.report.rows
                ),
            );
        }
    }
    if let Some(d) = during {
        note_invariants_during(j, d);
    }
}

fn invariant_broken(j: &mut Judgement, inv: &InvariantReport, what: String) {
    let first = inv
        .first_rows
        .first()
        .map(|r| format!("; first: {r}"))
        .unwrap_or_default();
    j.failures.push(Failure::new(
        Cat::Invariant,
        Detector::InvariantCheck,
        FailureKind::Unexpected,
        Some(inv.rows),
        format!("invariant {:?} broken: {what}{first}", inv.name),
    ));
}

/// What the runner's reads during the run covered, so a run whose invariants were never
/// read while it ran does not read as if they had been.
fn note_invariants_during(j: &mut Judgement, d: &InvariantsDuring) {
    let mut note = format!(
        "invariants read at {} quiescent point(s) during the run (lockstep)",
        d.points
    );
    if d.not_judged > 0 {
        note.push_str(&format!(
            "; {} (point, invariant) read(s) not judged, first: {}",
            d.not_judged,
            d.first_not_judged.as_deref().unwrap_or("?")
        ));
    }
    j.notes.push(note);
}

/// Every reader's reads must agree inside their transaction (threadtest3's "Isolation
/// failure"); readers none of whose transactions got two reads judged nothing, which fails
/// too. What was judged is noted, so a pass says how much it covered.
pub(super) fn judge_snapshots(j: &mut Judgement, c: &Checks) {
    let Some(s) = &c.snapshots else {
        return;
    };
    j.notes.push(format!(
        "snapshot stability: {} of {} read transaction(s) judged ({} reads), {} with another worker's commit between their first and last read",
        s.judged, s.read_txns, s.reads, s.interleaved
    ));
    if s.unstable > 0 {
        j.failures.push(Failure::new(
            Cat::SnapshotStability,
            Detector::SnapshotCheck,
            FailureKind::Unexpected,
            Some(s.unstable),
            format!(
                "isolation failure: {} read transaction(s) read different boards inside one snapshot; first: {}",
                s.unstable,
                s.first.as_deref().unwrap_or("?")
            ),
        ));
    } else if s.judged == 0 {
        j.failures.push(Failure::new(
            Cat::SnapshotStability,
            Detector::SnapshotCheck,
            FailureKind::Missing,
            Some(s.read_txns),
            format!(
                "snapshot stability judged nothing: none of {} read transaction(s) reported two reads",
                s.read_txns
            ),
        ));
    }
}

/// The WAL's peak against its bound (threadtest3's checkpoint starvation): over it fails the
/// run; what was judged, or why nothing was, is noted on every WAL run.
pub(super) fn judge_wal_growth(j: &mut Judgement, c: &Checks) {
    let Some(g) = &c.wal_growth else {
        return;
    };
    let peak = format!(
        "the WAL peaked at {} frames (first seen by {}) over {} measurement(s); checkpoints: {}",
        g.peak_frames,
        g.peak_at.as_deref().unwrap_or("no op"),
        g.measurements,
        g.checkpoints
    );
    let bound = |b: u64| {
        format!(
            "its bound of {b} ({} x wal_autocheckpoint {})",
            crate::check::wal_growth::BOUND_FACTOR,
            g.wal_autocheckpoint
        )
    };
    match (g.bound, &g.not_judged) {
        (_, Some(why)) => j
            .notes
            .push(format!("checkpoint starvation not judged: {why}; {peak}")),
        (Some(b), None) if g.starved() && g.asserted => j.failures.push(Failure::new(
            Cat::CheckpointStarvation,
            Detector::WalGrowthCheck,
            FailureKind::Unexpected,
            Some(g.peak_frames),
            format!(
                "{peak}, over {}: checkpoints could not keep the WAL bounded",
                bound(b)
            ),
        )),
        (Some(b), None) => j.notes.push(format!(
            "checkpoint starvation: {peak}, {} {}{}",
            if g.starved() { "over" } else { "within" },
            bound(b),
            if g.asserted {
                ""
            } else {
                " (reported, not asserted: expect.wal_growth = \"reported\")"
            }
        )),
        (None, None) => {}
    }
}

/// `attach = "aux"`: an op in one of its two databases and not the other is a torn
/// multi-database commit; the attached file must be as healthy as the main one; what was
/// judged, or that nothing was, is noted.
pub(super) fn judge_multi_db(j: &mut Judgement, c: &Checks) {
    let Some(m) = &c.multi_db else {
        return;
    };
    if let Some(e) = &m.error {
        j.failures.push(Failure::new(
            Cat::Unreadable,
            Detector::MultiDbLedger,
            FailureKind::Unexpected,
            None,
            format!("the ledger across the two databases could not be checked: {e}"),
        ));
    }
    if !m.healthy() {
        j.failures.push(Failure::new(
            Cat::Integrity,
            Detector::IntegrityCheck,
            FailureKind::Unexpected,
            None,
            format!(
                "{}: integrity_check {:?}, quick_check {:?}",
                m.aux_file, m.integrity_check, m.quick_check
            ),
        ));
    }
    if m.torn + m.aux_strays > 0 {
        j.failures.push(Failure::new(
            Cat::TornMultiDbCommit,
            Detector::MultiDbLedger,
            FailureKind::Unexpected,
            Some(m.torn + m.aux_strays),
            format!(
                "{} write op(s) in one database of their transaction and not the other ({}), {} stray or repeated row(s) in {}: the two files did not commit together",
                m.torn,
                if m.torn_ops.is_empty() { "none listed".to_string() } else { m.torn_ops.join("; ") },
                m.aux_strays,
                m.aux_file
            ),
        ));
    } else if m.error.is_none() && m.judged == 0 {
        j.notes.push(format!(
            "multi-database ledger judged nothing: no write op was planned for {} and {}",
            crate::protocol::DB_FILE,
            m.aux_file
        ));
    } else if m.error.is_none() {
        j.notes.push(format!(
            "multi-database ledger: {} write op(s) judged across {} and {}: {} in both, {} in neither, none torn",
            m.judged,
            crate::protocol::DB_FILE,
            m.aux_file,
            m.in_both,
            m.in_neither
        ));
    }
}
