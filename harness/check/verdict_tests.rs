//! `verdict::judge` on hand-made findings: each counter against its own expectation.

use super::*;
use crate::check::Classification;
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
    let e = "integrity = \"any-or-unreadable\"";
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

/// What one finding alone is judged as: its single failure (safety or liveness).
fn alone(
    obs: &Observations,
    totals: &Totals,
    c: &Checks,
    k: &Corruption,
) -> Vec<(Cat, Detector, FailureKind)> {
    let v = judge(&scenario(""), obs, totals, c, k);
    assert_eq!(v.verdict, VerdictKind::Fail, "{v:?}");
    v.failures
        .iter()
        .chain(&v.liveness)
        .map(|f| (f.category, f.detector, f.kind))
        .collect()
}

/// Issue 27: each failure category produced alone, on an otherwise healthy run, so that
/// no second failure can mask a verdict that drops it (every older test that produced a
/// verification error also produced a ledger error). Each must fail the run by itself,
/// under its own category and detector.
#[test]
fn each_failure_category_alone_fails_the_run() {
    use FailureKind::Unexpected as U;
    type Set = fn(&mut Checks);
    let checks: [(Set, (Cat, Detector, FailureKind)); 13] = [
        (
            |c| c.verification_errors = vec!["page_count: disk I/O error".into()],
            (Cat::Unreadable, Detector::Verification, U),
        ),
        (
            |c| c.ledger_error = Some("cannot read".into()),
            (Cat::Unreadable, Detector::Ledger, U),
        ),
        (
            |c| c.content_hash_error = Some("cannot read".into()),
            (Cat::Unreadable, Detector::ContentHash, U),
        ),
        (
            |c| c.integrity_check = "*** in database main ***".into(),
            (Cat::Integrity, Detector::IntegrityCheck, U),
        ),
        (
            |c| c.quick_check = "*** in database main ***".into(),
            (Cat::Integrity, Detector::IntegrityCheck, U),
        ),
        (
            |c| c.lost_writes = 1,
            (Cat::LostWrites, Detector::Ledger, U),
        ),
        (
            |c| c.phantom_writes = 1,
            (Cat::PhantomWrites, Detector::Ledger, U),
        ),
        (
            |c| c.duplicate_writes = 1,
            (Cat::DuplicateWrites, Detector::Ledger, U),
        ),
        (
            |c| c.order_violations = 1,
            (Cat::OrderViolations, Detector::Ledger, U),
        ),
        (
            |c| c.lock_overlaps = 1,
            (Cat::LockOverlaps, Detector::IntervalCheck, U),
        ),
        (
            |c| c.lockstep_breaches = 1,
            (Cat::LockstepBreaches, Detector::LockstepCoordinator, U),
        ),
        (
            |c| c.sidecar_seen = true,
            (Cat::Sidecar, Detector::SidecarWatch, U),
        ),
        (
            |c| {
                c.ops.expected = 8;
                c.ops.unreported = 1;
                c.ops.examples = vec!["worker 0 seq 4".into()];
            },
            (Cat::Liveness, Detector::OpCount, U),
        ),
    ];
    let (obs, totals, k) = (
        Observations::default(),
        Totals::default(),
        Corruption::default(),
    );
    for (set, expected) in checks {
        let mut c = healthy();
        set(&mut c);
        assert_eq!(alone(&obs, &totals, &c, &k), [expected]);
    }
    let c = healthy();
    let failed = Totals {
        failed: 1,
        ..Totals::default()
    };
    assert_eq!(
        alone(&obs, &failed, &c, &k),
        [(Cat::WorkerErrors, Detector::WorkerRecords, U)]
    );
    for (false_reports, real, cat) in [(1, 0, Cat::FalseCorruption), (0, 1, Cat::RealCorruption)] {
        for (source, detector) in [("pages", Detector::Guard), ("sqlite", Detector::Sqlite)] {
            let k = Corruption {
                reports: 1,
                false_reports,
                real,
                by_guard: [(source.to_string(), 1)].into(),
                ..Corruption::default()
            };
            assert_eq!(alone(&obs, &totals, &c, &k), [(cat, detector, U)]);
        }
    }
    let crashed = Observations {
        workers: vec![crate::observe::WorkerExit {
            worker: 0,
            pid: 7,
            finished: false,
            exit_code: None,
            signal: Some(11),
            killed_because: None,
            error: None,
            records: 0,
            protocol_failure: None,
            language: None,
            implementation: None,
            sqlite_version: None,
        }],
        ..Observations::default()
    };
    assert_eq!(
        alone(&crashed, &totals, &c, &k),
        [(Cat::Liveness, Detector::WorkerExit, U)]
    );
    let deadline = Observations {
        liveness: vec!["run deadline".into()],
        ..Observations::default()
    };
    assert_eq!(
        alone(&deadline, &totals, &c, &k),
        [(Cat::Liveness, Detector::Runner, U)]
    );
}

/// A verification error alone (the ledger and the content hash ran) fails the run, and a
/// length that verification could not measure is not a second failure.
#[test]
fn a_verification_error_alone_fails_the_run_without_a_length_failure() {
    let mut c = healthy();
    c.verification_errors = vec!["file watch: dropped events".into()];
    c.final_length_ok = false;
    let v = verdict("", &c);
    assert_eq!(v.verdict, VerdictKind::Fail, "{v:?}");
    assert_eq!(
        sigs(&v),
        [(
            Cat::Unreadable,
            Detector::Verification,
            FailureKind::Unexpected
        )]
    );
    assert_eq!(
        v.failures[0].message,
        "unreadable: verification: file watch: dropped events"
    );
    // Declared unreadable, it is a note and the run passes.
    let v = verdict("integrity = \"unreadable\"", &c);
    assert_eq!(v.verdict, VerdictKind::Pass, "{v:?}");
}

/// A seeded kill excuses exactly its own process's SIGKILL: not another signal, not another
/// pid or worker, not a kill that was followed by a successor, and not a SIGKILL without a
/// seeded kill (the runner's deadline). Mutation testing found none of this pinned by the
/// fast tests (`&&` to `||`, `k.pid == w.pid` to `!=`).
#[test]
fn a_seeded_kill_excuses_only_its_own_process() {
    use crate::observe::{KillEvent, WorkerExit};
    use crate::scenario::KillPoint;
    let exit = |pid: u32, signal: i32| WorkerExit {
        worker: 0,
        pid,
        finished: false,
        exit_code: None,
        signal: Some(signal),
        killed_because: None,
        error: None,
        records: 3,
        protocol_failure: None,
        language: None,
        implementation: None,
        sqlite_version: None,
    };
    let kill = |worker: u32, pid: u32, respawned: bool| KillEvent {
        worker,
        actor: 0,
        seq: 3,
        point: KillPoint::MidTransaction,
        pid,
        respawned,
        skipped: Vec::new(),
    };
    let judged = |exit: WorkerExit, kills: Vec<KillEvent>| {
        let obs = Observations {
            workers: vec![exit],
            kills,
            ..Observations::default()
        };
        judge(
            &scenario(""),
            &obs,
            &Totals::default(),
            &healthy(),
            &Corruption::default(),
        )
    };
    let v = judged(exit(7, 9), vec![kill(0, 7, false)]);
    assert_eq!(v.verdict, VerdictKind::Pass, "the planned death: {v:?}");
    for (exit, kills, why) in [
        (exit(7, 9), vec![kill(0, 7, true)], "a successor continued"),
        (
            exit(7, 9),
            vec![kill(0, 6, false)],
            "another pid was killed",
        ),
        (
            exit(7, 9),
            vec![kill(1, 7, false)],
            "another worker was killed",
        ),
        (exit(7, 9), vec![], "no seeded kill"),
        (exit(7, 11), vec![kill(0, 7, false)], "another signal"),
    ] {
        let v = judged(exit, kills);
        assert_eq!(v.verdict, VerdictKind::Fail, "{why}: {v:?}");
        assert_eq!(
            v.liveness
                .iter()
                .map(|f| (f.category, f.detector))
                .collect::<Vec<_>>(),
            [(Cat::Liveness, Detector::WorkerExit)],
            "{why}"
        );
    }
}

/// `expect.sidecar` in every state, without a run (mutation testing found the fast tests
/// never judged it: `global_lock_ops > 0` to `== 0`, `required` failing a seen sidecar,
/// `any`'s note on an unseen one). (category, kind) of each failure, and the notes.
#[test]
fn the_sidecar_is_judged_by_its_expectation() {
    let judged = |lock: &str, expect: &str, lock_ops: u64, seen: bool| {
        let text = format!(
            "name = \"t\"\n[strategy]\nwrite_lock = \"{lock}\"\n[expect]\nsidecar = \"{expect}\"\n"
        );
        let s = parse_str(&text, &ScenarioSource::Embedded("t".into())).unwrap();
        let mut c = healthy();
        c.global_lock_ops = lock_ops;
        c.sidecar_seen = seen;
        let v = judge(
            &s,
            &Observations::default(),
            &Totals::default(),
            &c,
            &Corruption::default(),
        );
        let failures: Vec<(Cat, FailureKind)> =
            v.failures.iter().map(|f| (f.category, f.kind)).collect();
        (failures, v.notes)
    };
    let missing = vec![(Cat::Sidecar, FailureKind::Missing)];
    let unexpected = vec![(Cat::Sidecar, FailureKind::Unexpected)];
    // auto under flock: required once an op that takes the lock ran.
    assert_eq!(judged("flock", "auto", 3, true), (vec![], vec![]));
    assert_eq!(judged("flock", "auto", 3, false).0, missing);
    // ... and not judged, with a note, when none ran.
    for seen in [false, true] {
        let (failures, notes) = judged("flock", "auto", 0, seen);
        assert!(failures.is_empty(), "{failures:?}");
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].starts_with("sidecar not judged"), "{notes:?}");
    }
    // auto without the lock: forbidden.
    assert_eq!(judged("none", "auto", 3, true).0, unexpected);
    assert_eq!(judged("none", "auto", 3, false), (vec![], vec![]));
    // Declared outright.
    assert_eq!(judged("none", "required", 0, true), (vec![], vec![]));
    assert_eq!(judged("none", "required", 0, false).0, missing);
    assert_eq!(judged("flock", "forbidden", 3, true).0, unexpected);
    assert_eq!(judged("none", "any", 0, false), (vec![], vec![]));
    assert_eq!(
        judged("none", "any", 0, true),
        (
            vec![],
            vec!["seen, not judged: a <db>.lock sidecar (expect.sidecar = \"any\")".to_string()]
        )
    );
}

/// A count allowed by `some` leaves a note with the count; one allowed by `any` leaves a note
/// only when it shows (mutants: the `some` arm deleted, `count > 0` to `>= 0`).
#[test]
fn allowed_counts_leave_notes_only_when_they_show() {
    let mut c = healthy();
    c.lost_writes = 2;
    let v = verdict("lost_writes = \"some\"\nduplicate_writes = \"any\"", &c);
    assert_eq!(v.verdict, VerdictKind::Pass, "{v:?}");
    assert_eq!(
        v.notes,
        [
            "expected and seen: 2 lost writes (committed, but rows missing or wrong) (expect.lost_writes = \"some\")"
        ]
    );
}

/// The worker-error failure lists the codes of the failed records only (mutant
/// `r.outcome != Outcome::Failed` counted the committed ones).
#[test]
fn worker_errors_list_the_codes_of_failed_ops_only() {
    let rec = |seq: u32, outcome: &str, error: Option<&str>| -> crate::observe::OpRecord {
        let mut r = serde_json::json!({
            "worker": 0, "actor": 0, "seq": seq, "kind": "create_task", "outcome": outcome,
            "t_start_ns": 0, "t_end_ns": 0,
        });
        if let Some(code) = error {
            r["error"] = serde_json::json!({"code": code, "message": "m"});
        }
        serde_json::from_value(r).unwrap()
    };
    let obs = Observations {
        records: vec![
            rec(0, "failed", Some("SQLITE_BUSY")),
            rec(1, "committed", None),
            rec(2, "failed", Some("SQLITE_BUSY")),
            rec(3, "failed", None),
        ],
        ..Observations::default()
    };
    let totals = Totals {
        failed: 3,
        ..Totals::default()
    };
    let v = judge(
        &scenario(""),
        &obs,
        &totals,
        &healthy(),
        &Corruption::default(),
    );
    assert_eq!(
        v.failures
            .iter()
            .map(|f| f.message.as_str())
            .collect::<Vec<_>>(),
        [
            "worker_errors: 3 ops failed in workers (expect.worker_errors = \"none\"): SQLITE_BUSY x2, unknown x1"
        ]
    );
}
