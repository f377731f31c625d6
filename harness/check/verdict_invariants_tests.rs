//! Controls for how the verdict judges `[[invariants]]`: after the run, and at the quiescent
//! points of a lockstep run (`checks.invariants_during`), one failure per invariant.

use super::*;
use crate::observe::invariants::{BrokenAt, InvariantReport, InvariantsDuring};

fn report(name: &str, rows: u64, first: &str) -> InvariantReport {
    InvariantReport {
        name: name.into(),
        rows,
        first_rows: if first.is_empty() {
            vec![]
        } else {
            vec![first.into()]
        },
        error: None,
    }
}

fn with(after: Vec<InvariantReport>, during: Option<InvariantsDuring>) -> Checks {
    Checks {
        invariants: after,
        invariants_during: during,
        ..healthy()
    }
}

fn during(points: u64, broken: Vec<BrokenAt>) -> InvariantsDuring {
    InvariantsDuring {
        points,
        broken,
        ..Default::default()
    }
}

/// Broken during the run, held at the end: a failure of its own, named, counted, with the
/// rows seen then (mutant: the during-run arm deleted, or judged only when broken at the
/// end).
#[test]
fn a_rule_broken_only_during_the_run_fails_by_name() {
    let c = with(
        vec![report("few", 0, "")],
        Some(during(
            7,
            vec![BrokenAt {
                step: 12,
                report: report("few", 2, "tasks = 4"),
            }],
        )),
    );
    let v = verdict("", &c);
    assert_eq!(v.verdict, VerdictKind::Fail, "{v:?}");
    assert_eq!(v.failures.len(), 1, "{:?}", v.failures);
    let f = &v.failures[0];
    assert_eq!(
        (f.category, f.detector, f.kind, f.count),
        (
            Cat::Invariant,
            Detector::InvariantCheck,
            FailureKind::Unexpected,
            Some(2)
        )
    );
    assert_eq!(
        f.message,
        "invariant: invariant \"few\" broken: at the quiescent point after step 12 during the run its query returned 2 row(s); it held again after the run; first: tasks = 4"
    );
    assert_eq!(
        v.notes,
        ["invariants read at 7 quiescent point(s) during the run (lockstep)"]
    );
}

/// Broken during the run and at its end: one failure, the end's count, naming the first
/// breach (mutants: two failures, or the step left out).
#[test]
fn a_rule_still_broken_at_the_end_is_one_failure_naming_its_first_breach() {
    let c = with(
        vec![report("few", 3, "tasks = 9"), report("other", 0, "")],
        Some(during(
            4,
            vec![BrokenAt {
                step: 5,
                report: report("few", 1, "tasks = 5"),
            }],
        )),
    );
    let v = verdict("", &c);
    assert_eq!(v.failures.len(), 1, "{:?}", v.failures);
    assert_eq!(v.failures[0].count, Some(3));
    assert_eq!(
        v.failures[0].message,
        "invariant: invariant \"few\" broken: its query returned 3 row(s) (first broken at the quiescent point after step 5 during the run); first: tasks = 9"
    );
}

/// Reads that could not run during the run are noted with the first reason, and alone
/// they fail nothing: the after-run check judges every invariant again (mutant: the
/// not-judged count left out of the note).
#[test]
fn reads_not_judged_during_the_run_are_noted_not_failed() {
    let mut d = during(3, vec![]);
    d.not_judged = 2;
    d.first_not_judged = Some("step 1, \"few\": no such table: tasks".into());
    let v = verdict("", &with(vec![report("few", 0, "")], Some(d)));
    assert_eq!(v.verdict, VerdictKind::Pass, "{v:?}");
    assert_eq!(
        v.notes,
        [
            "invariants read at 3 quiescent point(s) during the run (lockstep); 2 (point, invariant) read(s) not judged, first: step 1, \"few\": no such table: tasks"
        ]
    );
    // Without reads during the run (free mode), no note claims any.
    let free = verdict("", &with(vec![report("few", 0, "")], None));
    assert_eq!(free.verdict, VerdictKind::Pass);
    assert!(free.notes.is_empty(), "{:?}", free.notes);
}

/// An invariant that could not be checked after the run fails as such even when it broke
/// during the run (an error while checking is never a pass, nor hidden by another finding).
#[test]
fn an_after_run_error_is_its_own_failure() {
    let mut after = report("few", 0, "");
    after.error = Some("disk I/O error".into());
    let c = with(
        vec![after],
        Some(during(
            2,
            vec![BrokenAt {
                step: 1,
                report: report("few", 1, "tasks = 3"),
            }],
        )),
    );
    let v = verdict("", &c);
    assert_eq!(v.failures.len(), 1, "{:?}", v.failures);
    assert_eq!(
        v.failures[0].message,
        "invariant: invariant \"few\" could not be checked: disk I/O error"
    );
}
