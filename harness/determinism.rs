//! `--check-determinism`: the same seed run twice in lockstep must give the same trace and
//! the same database content (or, where both damaged the database alike, the same reason
//! it has no content hash); on divergence, name the first step that differs.

use std::collections::BTreeSet;

use crate::check::failure::Signature;
use crate::check::verdict::VerdictKind;
use crate::observe::lockstep::TraceEntry;
use crate::report::Report;
use crate::run::event::{Reporter, RunEvent};
use crate::run::{RunError, RunRequest, run};

/// The first step at which two traces differ, described for a person.
pub fn first_divergence(a: &[TraceEntry], b: &[TraceEntry]) -> Option<String> {
    let show = |e: Option<&TraceEntry>| match e {
        Some(e) => format!(
            "worker {} actor {} {} -> {}",
            e.worker, e.actor, e.action, e.result
        ),
        None => "(trace ended)".to_string(),
    };
    (0..a.len().max(b.len()))
        .find(|&i| a.get(i) != b.get(i))
        .map(|i| {
            format!(
                "step {i}: first run {}, second run {}",
                show(a.get(i)),
                show(b.get(i))
            )
        })
}

/// What two runs of one (scenario, seed) are compared on.
#[derive(Debug, Clone, PartialEq)]
pub struct Fingerprint {
    pub verdict: VerdictKind,
    /// Every failure's (category, detector, kind).
    pub signature: BTreeSet<Signature>,
    pub schedule_hash: String,
    pub trace_hash: Option<String>,
    pub content_hash: Option<String>,
    /// Why `content_hash` is absent (`content_hash_missing`); `None` when it is present.
    pub content_missing: Option<String>,
}

/// Why a finished run has no content hash, or `None` when it has one: the error the hash
/// met (a damaged database: "database disk image is malformed"), else the verification
/// error that kept it from being taken (a database that could not be opened).
pub fn content_hash_missing(r: &Report) -> Option<String> {
    if r.content_hash.is_some() {
        return None;
    }
    Some(
        r.checks
            .content_hash_error
            .clone()
            .or_else(|| r.checks.verification_errors.first().cloned())
            .unwrap_or_else(|| "not computed".into()),
    )
}

impl From<&Report> for Fingerprint {
    fn from(r: &Report) -> Self {
        Fingerprint {
            verdict: r.verdict,
            signature: r.failure_signature(),
            schedule_hash: r.schedule_hash.clone(),
            trace_hash: r.trace_hash.clone(),
            content_hash: r.content_hash.clone(),
            content_missing: content_hash_missing(r),
        }
    }
}

/// How strictly hashes are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hashes {
    /// Not compared (the runs were not both in lockstep).
    Ignore,
    /// Compared; a hash missing on both sides agrees (replay of an unreadable database,
    /// whose failure signature already says so). The trace hash must be present.
    Equal,
    /// `--check-determinism`: compared, and a hash missing on one side is a difference. The
    /// trace hash must be present on both. The content hash may be absent from both for the
    /// same reason (both runs damaged the database alike: nothing can hash it); the runs
    /// then agree on what both have, and the determinism line says the content was not
    /// compared. Absent from both for different reasons is a difference.
    Present,
}

fn verdict_name(v: VerdictKind) -> &'static str {
    match v {
        VerdictKind::Pass => "pass",
        VerdictKind::Fail => "fail",
        VerdictKind::Interrupted => "interrupted",
    }
}

fn show_signature(s: &BTreeSet<Signature>) -> String {
    if s.is_empty() {
        return "none".into();
    }
    let parts: Vec<String> = s.iter().map(ToString::to_string).collect();
    parts.join(", ")
}

/// Everything in which `b` (the later run) differs from `a`, in words; empty when they
/// agree. `labels` names the two runs (`recorded`/`replay`, `first run`/`second run`).
pub fn differences(
    a: &Fingerprint,
    b: &Fingerprint,
    hashes: Hashes,
    labels: (&str, &str),
) -> Vec<String> {
    let (la, lb) = labels;
    let mut out = Vec::new();
    let verdicts = if a.verdict == b.verdict {
        format!("verdict {} both times", verdict_name(a.verdict))
    } else {
        format!(
            "verdict {} in the {la}, {} in the {lb}",
            verdict_name(a.verdict),
            verdict_name(b.verdict)
        )
    };
    if a.verdict != b.verdict || a.signature != b.signature {
        out.push(format!(
            "failures differ: {la} [{}], {lb} [{}] ({verdicts})",
            show_signature(&a.signature),
            show_signature(&b.signature)
        ));
    }
    if a.schedule_hash != b.schedule_hash {
        out.push(format!(
            "schedule_hash differs: {la} {}, {lb} {} ({verdicts})",
            a.schedule_hash, b.schedule_hash
        ));
    }
    let mut hash = |name: &str, x: &Option<String>, y: &Option<String>, may_be_absent: bool| {
        let show = |h: &Option<String>| h.clone().unwrap_or_else(|| "missing".into());
        let differ = match (x, y) {
            (Some(x), Some(y)) => x != y,
            (None, None) => !may_be_absent,
            _ => true,
        };
        if differ {
            out.push(format!(
                "{name} differs: {la} {}, {lb} {} ({verdicts})",
                show(x),
                show(y)
            ));
        }
    };
    match hashes {
        Hashes::Ignore => {}
        Hashes::Equal => {
            hash("trace_hash", &a.trace_hash, &b.trace_hash, false);
            hash("content_hash", &a.content_hash, &b.content_hash, true);
        }
        Hashes::Present => {
            hash("trace_hash", &a.trace_hash, &b.trace_hash, false);
            // Absent from both: agreement only for the same reason (said just below).
            hash("content_hash", &a.content_hash, &b.content_hash, true);
            if let (None, None, Some(x), Some(y)) = (
                &a.content_hash,
                &b.content_hash,
                &a.content_missing,
                &b.content_missing,
            ) && x != y
            {
                out.push(format!(
                    "content_hash unavailable in both runs, for different reasons: {la} {x}; {lb} {y} ({verdicts})"
                ));
            }
        }
    }
    out
}

/// Runs `req` twice; true when both runs passed and agree on every hash. A hash missing on
/// one side (a run that could not compute it) is "not deterministic", never agreement; the
/// content hash missing from both for the same reason leaves the verdict to the trace hash,
/// the schedule hash and the failures, and the DETERMINISTIC line says so.
pub fn check(req: &RunRequest, reporter: &mut dyn Reporter) -> Result<bool, RunError> {
    let first = run(req, reporter)?;
    if first.report.interrupted() {
        return Ok(stopped(reporter, &first.report, "before the second run"));
    }
    let second = run(req, reporter)?;
    if second.report.interrupted() {
        return Ok(stopped(reporter, &second.report, "in the second run"));
    }
    let (r1, r2) = (&first.report, &second.report);
    let mut problems = differences(
        &Fingerprint::from(r1),
        &Fingerprint::from(r2),
        Hashes::Present,
        ("first run", "second run"),
    );
    if r1.trace_hash != r2.trace_hash
        && let Some(d) = first_divergence(&first.trace, &second.trace)
    {
        problems.push(d);
    }
    if problems.is_empty() {
        reporter.event(&RunEvent::Deterministic { first: r1 });
        Ok(r1.passed())
    } else {
        reporter.event(&RunEvent::Nondeterministic {
            first: r1,
            problems: &problems,
        });
        Ok(false)
    }
}

/// An interrupt concludes nothing: neither deterministic nor not.
fn stopped(reporter: &mut dyn Reporter, r: &crate::report::Report, when: &'static str) -> bool {
    reporter.event(&RunEvent::DeterminismStopped { report: r, when });
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::failure::{Detector, FailureCategory, FailureKind};

    fn fp(verdict: VerdictKind, sig: &[FailureCategory]) -> Fingerprint {
        Fingerprint {
            verdict,
            signature: sig
                .iter()
                .map(|&category| Signature {
                    category,
                    detector: Detector::Ledger,
                    kind: FailureKind::Unexpected,
                })
                .collect(),
            schedule_hash: "s".into(),
            trace_hash: Some("t".into()),
            content_hash: Some("c".into()),
            content_missing: None,
        }
    }

    /// `f` with no content hash, for `why`.
    fn no_content(f: &Fingerprint, why: &str) -> Fingerprint {
        Fingerprint {
            content_hash: None,
            content_missing: Some(why.into()),
            ..f.clone()
        }
    }

    const L: (&str, &str) = ("recorded", "replay");

    #[test]
    fn equal_runs_agree() {
        let a = fp(VerdictKind::Fail, &[FailureCategory::LostWrites]);
        for h in [Hashes::Ignore, Hashes::Equal, Hashes::Present] {
            assert!(differences(&a, &a.clone(), h, L).is_empty());
        }
    }

    /// Failing both times for another reason is not a reproduction.
    #[test]
    fn a_fail_for_another_category_differs() {
        let a = fp(VerdictKind::Fail, &[FailureCategory::LostWrites]);
        let b = fp(VerdictKind::Fail, &[FailureCategory::PhantomWrites]);
        let d = differences(&a, &b, Hashes::Ignore, L);
        assert_eq!(
            d,
            [
                "failures differ: recorded [lost_writes/ledger/unexpected], replay [phantom_writes/ledger/unexpected] (verdict fail both times)"
            ]
        );
    }

    /// A schedule-hash difference says plainly that both runs passed.
    #[test]
    fn a_schedule_hash_difference_reads_clearly() {
        let a = fp(VerdictKind::Pass, &[]);
        let mut b = a.clone();
        b.schedule_hash = "other".into();
        assert_eq!(
            differences(&a, &b, Hashes::Ignore, L),
            ["schedule_hash differs: recorded s, replay other (verdict pass both times)"]
        );
    }

    /// `--check-determinism`: a hash missing on one side is a difference; a trace hash
    /// missing on both too.
    #[test]
    fn a_hash_missing_on_one_side_is_never_agreement_for_determinism() {
        let a = fp(VerdictKind::Pass, &[]);
        let b = no_content(&a, "database disk image is malformed");
        assert_eq!(
            differences(&a, &b, Hashes::Present, L),
            ["content_hash differs: recorded c, replay missing (verdict pass both times)"]
        );
        let mut a2 = no_content(&a, "database disk image is malformed");
        let mut b2 = b.clone();
        a2.trace_hash = None;
        b2.trace_hash = None;
        assert_eq!(
            differences(&a2, &b2, Hashes::Present, L),
            ["trace_hash differs: recorded missing, replay missing (verdict pass both times)"]
        );
        // Replay accepts an absent content hash on both sides (its signature says why),
        // never an absent trace hash.
        assert_eq!(differences(&a2, &b2, Hashes::Equal, L).len(), 1);
    }

    /// Both runs damaged the database alike: no content hash on either side, for the same
    /// reason, is agreement on what both have (the trace hash decides); for different
    /// reasons it is a difference that names both.
    #[test]
    fn a_content_hash_missing_from_both_agrees_only_for_the_same_reason() {
        let a = fp(VerdictKind::Fail, &[FailureCategory::Integrity]);
        let malformed = no_content(&a, "database disk image is malformed");
        assert!(differences(&malformed, &malformed.clone(), Hashes::Present, L).is_empty());
        let mut other_trace = malformed.clone();
        other_trace.trace_hash = Some("t2".into());
        assert_eq!(
            differences(&malformed, &other_trace, Hashes::Present, L),
            ["trace_hash differs: recorded t, replay t2 (verdict fail both times)"]
        );
        let not_db = no_content(&a, "file is not a database");
        assert_eq!(
            differences(&malformed, &not_db, Hashes::Present, L),
            [
                "content_hash unavailable in both runs, for different reasons: recorded database disk image is malformed; replay file is not a database (verdict fail both times)"
            ]
        );
    }
}
