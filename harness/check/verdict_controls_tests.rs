//! Issue 27's controls for the verdict, written against mutants: each failure category
//! alone, a verification error alone, seeded kills, `expect.sidecar`, the notes of allowed
//! counts, the codes of failed ops.

use super::*;

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
    let checks: [(Set, (Cat, Detector, FailureKind)); 15] = [
        (
            |c| c.verification_errors = vec!["page_count: disk I/O error".into()],
            (Cat::Unreadable, Detector::Verification, U),
        ),
        (
            // Blocked: the length it left is not a second failure.
            |c| {
                c.final_checkpoint_blocked = Some("blocked".into());
                c.final_length_ok = false;
            },
            (Cat::FinalCheckpoint, Detector::FinalCheckpoint, U),
        ),
        (
            |c| c.close_error = Some("closing: disk I/O error".into()),
            (Cat::FinalClose, Detector::VerificationClose, U),
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
            finished: false,
            exit_code: None,
            signal: Some(11),
            ..exited(0, 7)
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

/// What makes a corruption report "real": each finding alone is exactly its own damage
/// (mutation testing found `Checks::damage` unpinned: `lost_writes > 0` to `< 0` passed
/// every fast test), and a healthy run has none, so its reports are false alarms.
#[test]
fn each_finding_alone_is_exactly_its_own_damage() {
    type Set = fn(&mut Checks);
    let findings: [(Set, Cat); 17] = [
        (
            |c| c.integrity_check = "*** page 3 ***".into(),
            Cat::Integrity,
        ),
        (|c| c.quick_check = "*** page 3 ***".into(), Cat::Integrity),
        (|c| c.lost_writes = 1, Cat::LostWrites),
        (|c| c.phantom_writes = 1, Cat::PhantomWrites),
        (|c| c.duplicate_writes = 1, Cat::DuplicateWrites),
        (|c| c.order_violations = 1, Cat::OrderViolations),
        (|c| c.lock_overlaps = 1, Cat::LockOverlaps),
        (|c| c.lockstep_breaches = 1, Cat::LockstepBreaches),
        (
            |c| {
                c.state = Some(crate::check::state::StateReport {
                    replayed: 3,
                    matches: false,
                    difference: Some("tasks".into()),
                })
            },
            Cat::State,
        ),
        (|c| c.state_error = Some("cannot replay".into()), Cat::State),
        (
            |c| c.ledger_error = Some("cannot read".into()),
            Cat::Unreadable,
        ),
        (
            |c| c.content_hash_error = Some("cannot read".into()),
            Cat::Unreadable,
        ),
        (
            |c| c.verification_errors = vec!["stat".into()],
            Cat::Unreadable,
        ),
        (|c| c.final_length_ok = false, Cat::FinalLength),
        (
            |c| {
                c.journal_mode_ok = false;
                c.journal_mode = "delete".into();
            },
            Cat::JournalMode,
        ),
        (
            |c| c.final_checkpoint_blocked = Some("busy".into()),
            Cat::FinalCheckpoint,
        ),
        (|c| c.close_error = Some("close".into()), Cat::FinalClose),
    ];
    assert_eq!(healthy().damage(), []);
    let matching = crate::check::state::StateReport {
        replayed: 3,
        matches: true,
        difference: None,
    };
    let mut c = healthy();
    c.state = Some(matching);
    assert_eq!(c.damage(), [], "a state that matches is no damage");
    for (set, cat) in findings {
        let mut c = healthy();
        set(&mut c);
        assert_eq!(c.damage(), [cat], "{c:?}");
    }
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

/// A close that fails on a database the scenario expects damaged is part of the damage (a
/// note); on a healthy one, or where no damage is expected, it fails by itself.
#[test]
fn a_close_error_is_excused_only_on_expected_damage() {
    let mut c = healthy();
    c.close_error = Some("closing the verification connection: disk I/O error".into());
    for expect in ["", "integrity = \"damaged\""] {
        let v = verdict(expect, &c);
        assert!(
            sigs(&v).contains(&(
                Cat::FinalClose,
                Detector::VerificationClose,
                FailureKind::Unexpected
            )),
            "{expect}: {v:?}"
        );
    }
    c.integrity_check = "*** in database main ***".into();
    let v = verdict("integrity = \"damaged\"", &c);
    assert_eq!(v.verdict, VerdictKind::Pass, "{v:?}");
    assert!(
        v.notes.iter().any(|n| n.contains("disk I/O error")),
        "{v:?}"
    );
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
        finished: false,
        exit_code: None,
        signal: Some(signal),
        records: 3,
        ..exited(0, pid)
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

/// A worker's liveness failure says how it ended: a non-zero exit after finishing its
/// schedule is not "before finishing" (mutant: the `!w.finished` guard to `true`).
#[test]
fn a_worker_exit_says_how_it_ended() {
    let ended = |finished: bool, code: i32| {
        let obs = Observations {
            workers: vec![crate::observe::WorkerExit {
                finished,
                exit_code: Some(code),
                records: 4,
                ..exited(1, 7)
            }],
            ..Observations::default()
        };
        let v = judge(
            &scenario(""),
            &obs,
            &Totals::default(),
            &healthy(),
            &Corruption::default(),
        );
        v.liveness
            .iter()
            .map(|f| f.message.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ended(true, 3),
        ["liveness: worker 1 (pid 7) exited with code 3 after 4 ops"]
    );
    assert_eq!(
        ended(false, 0),
        ["liveness: worker 1 (pid 7) exited with code 0 before finishing its schedule after 4 ops"]
    );
    assert!(ended(true, 0).is_empty());
}

/// `damaged` on a healthy database is a missing failure (mutant: the `ok` guard to `false`).
#[test]
fn damaged_expected_on_a_healthy_database_is_missing() {
    let v = verdict("integrity = \"damaged\"", &healthy());
    assert_eq!(
        sigs(&v),
        [(
            Cat::Integrity,
            Detector::IntegrityCheck,
            FailureKind::Missing
        )]
    );
}

/// Ambiguous ops settled by probing and seeded kills leave notes (mutant: `add_notes`
/// replaced with nothing).
#[test]
fn ambiguous_ops_and_seeded_kills_leave_notes() {
    let mut c = healthy();
    c.ambiguous = 3;
    c.ambiguous_committed = 1;
    let obs = Observations {
        kills: vec![crate::observe::KillEvent {
            worker: 0,
            actor: 0,
            seq: 3,
            point: crate::scenario::KillPoint::MidTransaction,
            pid: 7,
            respawned: true,
            skipped: vec![3],
        }],
        ..Observations::default()
    };
    let v = judge(
        &scenario(""),
        &obs,
        &Totals::default(),
        &c,
        &Corruption::default(),
    );
    assert_eq!(v.verdict, VerdictKind::Pass, "{v:?}");
    assert_eq!(
        v.notes,
        [
            "3 ambiguous ops settled by probing: 1 committed, 2 absent",
            "seeded kill: worker 0 (pid 7) died mid-transaction in op seq 3; a successor continued its schedule"
        ]
    );
}
