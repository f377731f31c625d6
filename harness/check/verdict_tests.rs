//! `verdict::judge` on hand-made findings: each counter against its own expectation.

use super::*;
use crate::check::Classification;
use crate::error::Chain;
use crate::scenario::{ScenarioSource, parse_str};

fn scenario(expect: &str) -> Scenario {
    let text = format!("name = \"t\"\n[expect]\n{expect}\n");
    parse_str(&text, &ScenarioSource::Embedded("t".into())).unwrap()
}

fn healthy() -> Checks {
    Checks {
        integrity_check: "ok".into(),
        quick_check: "ok".into(),
        journal_mode: "wal".into(),
        journal_mode_ok: true,
        final_length_ok: true,
        content_hash: Some("h".into()),
        ..Checks::default()
    }
}

/// A worker that finished and exited 0 with no record, nothing else to say: tests change
/// the fields their case is about (`WorkerExit { signal: Some(9), ..exited(0, 7) }`).
fn exited(worker: u32, pid: u32) -> crate::observe::WorkerExit {
    crate::observe::WorkerExit {
        worker,
        pid,
        finished: true,
        exit_code: Some(0),
        signal: None,
        killed_because: None,
        error: None,
        records: 0,
        protocol_failure: None,
        language: None,
        implementation: None,
        sqlite_version: None,
        settings: Vec::new(),
        settings_reports: 0,
        never_started: false,
        children_outlived: Vec::new(),
        fatal: false,
    }
}

fn verdict(expect: &str, c: &Checks) -> Verdict {
    let k = Corruption::default();
    judge(
        &scenario(expect),
        &Observations::default(),
        &Totals::default(),
        c,
        &k,
    )
}

fn sigs(v: &Verdict) -> Vec<(Cat, Detector, FailureKind)> {
    v.failures
        .iter()
        .map(|f| (f.category, f.detector, f.kind))
        .collect()
}

#[test]
fn a_healthy_run_passes_with_no_notes() {
    let v = verdict("", &healthy());
    assert_eq!(v.verdict, VerdictKind::Pass, "{v:?}");
    assert!(v.notes.is_empty());
    assert!(healthy().clean());
}

/// `lost_writes = "some"` judges lost writes only: phantom, duplicate and out-of-order rows
/// still fail, each under its own category.
#[test]
fn each_ledger_counter_has_its_own_expectation() {
    type Set = fn(&mut Checks);
    let cases: [(Cat, Set); 3] = [
        (Cat::PhantomWrites, |c| c.phantom_writes = 2),
        (Cat::DuplicateWrites, |c| c.duplicate_writes = 2),
        (Cat::OrderViolations, |c| c.order_violations = 2),
    ];
    for (cat, set) in cases {
        let mut c = healthy();
        c.lost_writes = 1;
        set(&mut c);
        let v = verdict("lost_writes = \"some\"", &c);
        assert_eq!(v.verdict, VerdictKind::Fail, "{cat:?}");
        assert_eq!(
            sigs(&v),
            [(cat, Detector::Ledger, FailureKind::Unexpected)],
            "{v:?}"
        );
        assert_eq!(v.failures[0].count, Some(2));
        assert!(v.failures[0].message.starts_with(cat.name()), "{v:?}");
        // Declared on its own key, it passes.
        let v = verdict(
            &format!("lost_writes = \"some\"\n{} = \"some\"", cat.name()),
            &c,
        );
        assert_eq!(v.verdict, VerdictKind::Pass, "{v:?}");
    }
    // And `some` on lost writes alone, with only other anomalies, is missing.
    let mut c = healthy();
    c.phantom_writes = 1;
    let v = verdict("lost_writes = \"some\"\nphantom_writes = \"any\"", &c);
    assert_eq!(
        sigs(&v),
        [(Cat::LostWrites, Detector::Ledger, FailureKind::Missing)]
    );
}

/// Interval overlaps and lockstep breaches are two counters with two expectations.
#[test]
fn lock_overlaps_and_lockstep_breaches_are_judged_apart() {
    let mut c = healthy();
    c.lockstep_breaches = 3;
    let v = verdict("lock_overlaps = \"some\"", &c);
    assert_eq!(
        sigs(&v),
        [
            (
                Cat::LockOverlaps,
                Detector::IntervalCheck,
                FailureKind::Missing
            ),
            (
                Cat::LockstepBreaches,
                Detector::LockstepCoordinator,
                FailureKind::Unexpected
            ),
        ]
    );
    let v = verdict("lockstep_breaches = \"some\"", &c);
    assert_eq!(v.verdict, VerdictKind::Pass, "{v:?}");
    c.lock_overlaps = 1;
    let v = verdict("lockstep_breaches = \"some\"", &c);
    assert_eq!(
        sigs(&v),
        [(
            Cat::LockOverlaps,
            Detector::IntervalCheck,
            FailureKind::Unexpected
        )]
    );
}

/// A count declared `any` that shows leaves a note with the count.
#[test]
fn any_above_zero_leaves_a_note_with_the_count() {
    let mut c = healthy();
    c.duplicate_writes = 4;
    let v = verdict("duplicate_writes = \"any\"", &c);
    assert_eq!(v.verdict, VerdictKind::Pass);
    assert_eq!(
        v.notes,
        [
            "seen, not judged: 4 duplicate writes (committed rows present more than once) (expect.duplicate_writes = \"any\")"
        ]
    );
    let k = Corruption {
        classification: Classification::False,
        reports: 7,
        false_reports: 7,
        ..Corruption::default()
    };
    let v = judge(
        &scenario("false_corruption = \"any\""),
        &Observations::default(),
        &Totals::default(),
        &healthy(),
        &k,
    );
    assert_eq!(v.verdict, VerdictKind::Pass);
    assert!(
        v.notes
            .iter()
            .any(|n| n.starts_with("seen, not judged: 7 false corruption reports")),
        "{v:?}"
    );
}

/// `damaged` and `any` do not excuse an unreadable ledger; `unreadable` does.
#[test]
fn an_unreadable_ledger_passes_only_under_unreadable() {
    let mut c = healthy();
    c.integrity_check = "error: malformed".into();
    c.ledger_error = Some("cannot read".into());
    for e in ["damaged", "any"] {
        let v = verdict(&format!("integrity = \"{e}\""), &c);
        assert_eq!(
            sigs(&v),
            [(Cat::Unreadable, Detector::Ledger, FailureKind::Unexpected)],
            "{e}: {v:?}"
        );
    }
    let v = verdict("integrity = \"unreadable\"", &c);
    assert_eq!(v.verdict, VerdictKind::Pass, "{v:?}");
    let v = verdict("integrity = \"unreadable\"", &healthy());
    assert_eq!(
        sigs(&v),
        [(Cat::Unreadable, Detector::Ledger, FailureKind::Missing)]
    );
}

/// `any-or-unreadable` lets the database be ok, damaged or unreadable, and says which in a
/// note; it judges nothing else (a lost write still fails).
#[test]
fn any_or_unreadable_passes_every_state_of_the_database_with_a_note() {
    // Loading refuses `any-or-unreadable` without another required failure
    // (`a_scenario_that_cannot_fail_is_refused`); the verdict's rule is judged alone here.
    let mut s = scenario("");
    s.expect.integrity = IntegrityExpectation::AnyOrUnreadable;
    let verdict = |_: &str, c: &Checks| {
        judge(
            &s,
            &Observations::default(),
            &Totals::default(),
            c,
            &Corruption::default(),
        )
    };
    let e = "";
    let v = verdict(e, &healthy());
    assert_eq!(v.verdict, VerdictKind::Pass, "{v:?}");
    let mut damaged = healthy();
    damaged.integrity_check = "*** in database main ***".into();
    let v = verdict(e, &damaged);
    assert_eq!(v.verdict, VerdictKind::Pass, "{v:?}");
    assert!(
        v.notes
            .iter()
            .any(|n| n.starts_with("expected and seen: damaged"))
    );
    let mut unreadable = damaged.clone();
    unreadable.ledger_error = Some("cannot read".into());
    unreadable.content_hash_error = Some("file is not a database".into());
    let v = verdict(e, &unreadable);
    assert_eq!(v.verdict, VerdictKind::Pass, "{v:?}");
    let read_notes = v
        .notes
        .iter()
        .filter(|n| n.starts_with("expected and seen (expect.integrity = \"any-or-unreadable\")"))
        .count();
    assert_eq!(read_notes, 2, "{v:?}");
    unreadable.lost_writes = 1;
    let v = verdict(e, &unreadable);
    assert_eq!(v.verdict, VerdictKind::Fail, "{v:?}");
}

/// A content hash that could not be computed is an error while checking: a failure.
#[test]
fn a_content_hash_error_fails_the_run() {
    let mut c = healthy();
    c.content_hash = None;
    c.content_hash_error = Some("no such table".into());
    assert!(!c.clean());
    let v = verdict("", &c);
    assert_eq!(
        sigs(&v),
        [(
            Cat::Unreadable,
            Detector::ContentHash,
            FailureKind::Unexpected
        )]
    );
}

/// The exact length is judged on every healthy run, not only under `integrity = "ok"`, and
/// both the length and the journal mode take part in the classification.
#[test]
fn final_length_and_journal_mode_are_judged_and_make_a_run_unclean() {
    let mut c = healthy();
    c.final_length_ok = false;
    assert_eq!(c.damage(), [Cat::FinalLength]);
    for e in ["ok", "any"] {
        let v = verdict(&format!("integrity = \"{e}\""), &c);
        assert_eq!(
            sigs(&v),
            [(
                Cat::FinalLength,
                Detector::FinalLengthCheck,
                FailureKind::Unexpected
            )],
            "{e}"
        );
    }
    let mut c = healthy();
    c.journal_mode = "delete".into();
    c.journal_mode_ok = false;
    assert_eq!(c.damage(), [Cat::JournalMode]);
    let v = verdict("", &c);
    assert_eq!(
        sigs(&v),
        [(
            Cat::JournalMode,
            Detector::JournalModeCheck,
            FailureKind::Unexpected
        )]
    );
}

/// Failures serialise with a stable shape: category, detector, kind, count, message.
#[test]
fn failures_serialise_stably() {
    let mut c = healthy();
    c.lost_writes = 2;
    let v = verdict("", &c);
    let json = serde_json::to_value(&v.failures[0]).unwrap();
    assert_eq!(json["category"], "lost_writes");
    assert_eq!(json["detector"], "ledger");
    assert_eq!(json["kind"], "unexpected");
    assert_eq!(json["count"], 2);
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .starts_with("lost_writes: 2 lost writes")
    );
}

/// What made a run real lists only what was measured: an unopenable database is
/// `unreadable` and `integrity`, not also a wrong length and journal mode.
#[test]
fn evidence_lists_only_what_was_measured() {
    let c = Checks {
        integrity_check: "not run: cannot open the database".into(),
        quick_check: "not run: cannot open the database".into(),
        ledger_error: Some("cannot open".into()),
        verification_errors: vec!["cannot open".into()],
        ..Checks::default()
    };
    assert_eq!(c.damage(), [Cat::Integrity, Cat::Unreadable]);
}

/// `any-or-unreadable` accepts every state of the database: without another expectation
/// that requires something (`"some"`), the run could never fail, and loading refuses it.
#[test]
fn a_scenario_that_cannot_fail_is_refused() {
    let src = ScenarioSource::Embedded("t".into());
    let e = parse_str(
        "name = \"t\"\n[expect]\nintegrity = \"any-or-unreadable\"\n",
        &src,
    )
    .unwrap_err();
    assert!(Chain(&e).to_string().contains("expect.integrity"), "{e}");
    parse_str(
        "name = \"t\"\n[expect]\nintegrity = \"any-or-unreadable\"\nworker_errors = \"some\"\n",
        &src,
    )
    .unwrap();
}

/// An app ledger holds an external app to its rows: without `[worker]` it is refused.
#[test]
fn a_ledger_without_a_worker_is_refused() {
    let src = ScenarioSource::Embedded("t".into());
    let e = parse_str(
        "name = \"t\"\n[ledger]\npresent = \"SELECT worker, seq FROM jobs\"\n",
        &src,
    )
    .unwrap_err();
    assert!(Chain(&e).to_string().contains("`ledger`"), "{e}");
}

/// A check that judged nothing fails unless declared; declared, it is a note.
#[test]
fn a_check_that_judged_nothing_fails_unless_declared() {
    use crate::check::coverage::{Coverage, JudgedCheck};
    let mut c = healthy();
    c.coverage = vec![Coverage {
        check: JudgedCheck::Exclusion,
        judged: 0,
        population: 5,
    }];
    let v = verdict("", &c);
    assert_eq!(
        sigs(&v),
        vec![(
            Cat::NotJudged,
            Detector::IntervalCheck,
            FailureKind::Missing
        )]
    );
    assert_eq!(v.primary().map(|f| f.category), Some(Cat::NotJudged));
    let v = verdict("not_judged = [\"exclusion\"]", &c);
    assert_eq!(v.verdict, VerdictKind::Pass, "{v:?}");
    assert!(
        v.notes
            .iter()
            .any(|n| n.starts_with("not judged: exclusion")),
        "{v:?}"
    );
    // Part judged is judged.
    c.coverage[0].judged = 1;
    assert_eq!(verdict("", &c).verdict, VerdictKind::Pass);
}

/// The verdict names the cause first: a protocol failure before the ledger it invalidates,
/// a lock breach before the lost writes it caused.
#[test]
fn the_primary_failure_is_the_cause() {
    let mut c = healthy();
    c.lost_writes = 3;
    c.lock_overlaps = 1;
    let v = verdict("", &c);
    assert_eq!(v.primary().map(|f| f.category), Some(Cat::LockOverlaps));
    let mut v = verdict("", &c);
    v.liveness.push(Failure::new(
        Cat::Liveness,
        Detector::WorkerProtocol,
        FailureKind::Unexpected,
        None,
        "worker 0 killed by the runner: protocol version mismatch",
    ));
    assert_eq!(
        v.primary().map(|f| f.detector),
        Some(Detector::WorkerProtocol)
    );
}

/// The default scenario's verdict on a healthy database with these observations.
fn on_healthy(obs: &Observations) -> Verdict {
    judge(
        &scenario(""),
        obs,
        &Totals::default(),
        &healthy(),
        &Corruption::default(),
    )
}

/// A worker that sent `fatal` fails, even when it then finished and exited 0.
#[test]
fn fatal_fails_a_worker_that_finished() {
    let mut obs = Observations::default();
    obs.workers.push(crate::observe::WorkerExit {
        error: Some("cannot open".into()),
        fatal: true,
        records: 3,
        ..exited(0, 1)
    });
    let v = on_healthy(&obs);
    assert_eq!(v.verdict, VerdictKind::Fail);
    assert!(
        v.liveness[0].message.contains("sent fatal: cannot open"),
        "{v:?}"
    );
    obs.workers[0].fatal = false;
    let v = on_healthy(&obs);
    assert_eq!(v.verdict, VerdictKind::Pass, "{v:?}");
}

/// A file watch that dropped events cannot vouch for a forbidden sidecar: the sidecar
/// detector fails, the database is not called unreadable.
#[test]
fn a_lossy_file_watch_fails_the_sidecar_not_the_database() {
    let mut c = healthy();
    c.watch_error = Some("inotify queue overflowed".into());
    let v = verdict("", &c);
    assert_eq!(
        sigs(&v),
        vec![(
            Cat::Sidecar,
            Detector::SidecarWatch,
            FailureKind::Unexpected
        )]
    );
    assert!(c.clean());
    let v = verdict("sidecar = \"any\"", &c);
    assert_eq!(v.verdict, VerdictKind::Pass, "{v:?}");
}

#[path = "verdict_controls_tests.rs"]
mod controls;

#[path = "verdict_invariants_tests.rs"]
mod invariants;

#[path = "verdict_oracles_tests.rs"]
mod oracles_tests;

#[path = "verdict_liveness_tests.rs"]
mod liveness_tests;

/// A run the runner stopped early (a stuck actor, a deadline) often leaves a database the
/// ledger cannot read (the app never created its tables): the stop is the cause and is named
/// first; damage the data shows is still named before the stop.
#[test]
fn a_stopped_run_is_named_before_what_it_left_unread() {
    let f = |cat, det| Failure::new(cat, det, FailureKind::Unexpected, None, "x");
    let stopped = [f(Cat::Liveness, Detector::Runner)];
    let unread = [f(Cat::Unreadable, Detector::Ledger)];
    assert_eq!(
        primary(&unread, &stopped).map(|p| p.category),
        Some(Cat::Liveness)
    );
    let damaged = [
        f(Cat::Unreadable, Detector::Ledger),
        f(Cat::Integrity, Detector::IntegrityCheck),
    ];
    assert_eq!(
        primary(&damaged, &stopped).map(|p| p.category),
        Some(Cat::Integrity)
    );
    // Without a liveness failure the unreadable database is the failure to name.
    assert_eq!(
        primary(&unread, &[]).map(|p| p.category),
        Some(Cat::Unreadable)
    );
    // The boundary itself: a check that judged nothing and a point that never fired
    // (ranked exactly CONSEQUENCE_RANK) can be what a stop left undone, so the stop is named.
    for cat in [Cat::NotJudged, Cat::IoPointNotFired] {
        assert_eq!(cat.cause_rank(), CONSEQUENCE_RANK);
        let undone = [f(cat, Detector::Ledger)];
        assert_eq!(
            primary(&undone, &stopped).map(|p| p.category),
            Some(Cat::Liveness),
            "{cat:?}"
        );
    }
}

/// A note says what was seen: under a lenient integrity expectation a healthy database is
/// not noted as damaged (only a damaged one is).
#[test]
fn a_lenient_integrity_expectation_notes_damage_only_when_seen() {
    for e in ["any", "any-or-unreadable"] {
        let expect = format!("integrity = \"{e}\"\nworker_errors = \"some\"");
        let v = verdict(&expect, &healthy());
        assert!(
            !v.notes.iter().any(|n| n.contains("damaged database")),
            "{e}: {v:?}"
        );
        let mut damaged = healthy();
        damaged.integrity_check = "*** in database main ***".into();
        let v = verdict(&expect, &damaged);
        assert!(
            v.notes
                .iter()
                .any(|n| n.starts_with("expected and seen: damaged database")),
            "{e}: {v:?}"
        );
    }
}
