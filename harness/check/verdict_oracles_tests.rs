//! Controls for `verdict_oracles.rs` (issue 27: its judgements had no fast test of their
//! own): the coverage notes, the state oracle's note and failures, the isolation checker's
//! failures.

use super::*;
use crate::check::coverage::{Coverage, JudgedCheck};
use crate::check::isolation::records::IsolationReport;
use crate::check::isolation::{Anomaly, AnomalyClass, Found};

fn covered(check: JudgedCheck, judged: u64, population: u64) -> Checks {
    Checks {
        coverage: vec![Coverage {
            check,
            judged,
            population,
        }],
        ..healthy()
    }
}

/// Coverage: a check judged in part leaves a note (the interval check only: records
/// without an event id are the ledger's to judge), judged in full or over no population
/// none; the order check that judged nothing fails under the ledger's name.
#[test]
fn coverage_notes_say_how_far_the_interval_check_reached() {
    let v = verdict("", &covered(JudgedCheck::Exclusion, 3, 5));
    assert_eq!(v.verdict, VerdictKind::Pass, "{v:?}");
    assert_eq!(
        v.notes,
        ["exclusion judged 3 of 5 committed write transactions (the rest reported no interval)"]
    );
    for (check, judged, population) in [
        (JudgedCheck::Exclusion, 5, 5),
        (JudgedCheck::Exclusion, 0, 0),
        (JudgedCheck::Order, 3, 5),
        (JudgedCheck::Order, 5, 5),
    ] {
        let v = verdict("", &covered(check, judged, population));
        assert_eq!(v.verdict, VerdictKind::Pass, "{v:?}");
        assert!(v.notes.is_empty(), "{check:?} {judged}/{population}: {v:?}");
    }
    let v = verdict("", &covered(JudgedCheck::Order, 0, 4));
    assert_eq!(
        sigs(&v),
        [(Cat::NotJudged, Detector::Ledger, FailureKind::Missing)]
    );
    assert!(
        v.failures[0].message.contains(
            "order judged nothing: 0 of 4 committed write transactions (records without event_id)"
        ),
        "{v:?}"
    );
    let v = verdict(
        "not_judged = [\"order\"]",
        &covered(JudgedCheck::Order, 0, 4),
    );
    assert_eq!(v.verdict, VerdictKind::Pass, "{v:?}");
    assert_eq!(v.notes.len(), 1, "{v:?}");
    assert!(v.notes[0].starts_with("not judged: order, 0 of 4"), "{v:?}");
}

/// The state oracle: a replay that matches passes silently, one that does not fails with
/// the difference, an error while replaying fails (never a pass), and a run it did not
/// judge says why in a note.
#[test]
fn the_state_oracle_is_judged_by_its_replay() {
    let state = |matches: bool| crate::check::state::StateReport {
        replayed: 4,
        matches,
        difference: (!matches).then(|| "tasks: row t-1 differs".into()),
    };
    let c = Checks {
        state: Some(state(true)),
        ..healthy()
    };
    let v = verdict("", &c);
    assert_eq!(v.verdict, VerdictKind::Pass, "{v:?}");
    assert!(v.notes.is_empty(), "{v:?}");

    let c = Checks {
        state: Some(state(false)),
        ..healthy()
    };
    let v = verdict("", &c);
    assert_eq!(
        sigs(&v),
        [(Cat::State, Detector::StateOracle, FailureKind::Unexpected)]
    );
    assert!(
        v.failures[0].message.contains(
            "the 4 committed ops replayed in commit order do not give the run's database: tasks: row t-1 differs"
        ),
        "{v:?}"
    );

    // An error wins over a report that matched.
    let c = Checks {
        state: Some(state(true)),
        state_error: Some("cannot replay op 3".into()),
        ..healthy()
    };
    let v = verdict("", &c);
    assert_eq!(
        sigs(&v),
        [(Cat::State, Detector::StateOracle, FailureKind::Unexpected)]
    );
    assert!(
        v.failures[0].message.contains("cannot replay op 3"),
        "{v:?}"
    );

    let c = Checks {
        state_not_judged: Some("state oracle not judged: because".into()),
        ..healthy()
    };
    let v = verdict("", &c);
    assert_eq!(v.verdict, VerdictKind::Pass, "{v:?}");
    assert_eq!(v.notes, ["state oracle not judged: because"]);
}

fn found(class: AnomalyClass, anomaly: Anomaly, explanation: &str) -> Found {
    Found {
        class,
        explanation: explanation.into(),
        anomaly,
    }
}

/// The isolation checker: no anomaly passes, a history it could not check fails (never a
/// pass), anomalies fail with their classes and the first cycle explained (a cycle says
/// the most, so it is named even when another anomaly came first).
#[test]
fn isolation_anomalies_and_errors_fail_the_run() {
    let iso = |report: IsolationReport| Checks {
        isolation: Some(report),
        ..healthy()
    };
    let clean = IsolationReport {
        txns: 7,
        ..IsolationReport::default()
    };
    assert_eq!(verdict("", &iso(clean.clone())).verdict, VerdictKind::Pass);

    let v = verdict(
        "",
        &iso(IsolationReport {
            error: Some("a read of an unknown key".into()),
            ..clean.clone()
        }),
    );
    assert_eq!(
        sigs(&v),
        [(
            Cat::Isolation,
            Detector::IsolationChecker,
            FailureKind::Unexpected
        )]
    );
    assert!(
        v.failures[0]
            .message
            .contains("the list-append history could not be checked: a read of an unknown key"),
        "{v:?}"
    );

    let garbage = found(
        AnomalyClass::GarbageRead,
        Anomaly::GarbageRead {
            reader: 2,
            key: 1,
            value: 9,
        },
        "T2 read 9 of key 1, which nobody appended",
    );
    let cycle = found(
        AnomalyClass::G0,
        Anomaly::Cycle { steps: Vec::new() },
        "T1 ww T3 ww T1",
    );
    let report = IsolationReport {
        anomaly_count: 3,
        classes: [("G0".to_string(), 1), ("garbage-read".to_string(), 2)].into(),
        anomalies: vec![garbage.clone(), cycle],
        ..clean.clone()
    };
    let v = verdict("", &iso(report));
    assert_eq!(
        sigs(&v),
        [(
            Cat::Isolation,
            Detector::IsolationChecker,
            FailureKind::Unexpected
        )]
    );
    assert_eq!(v.failures[0].count, Some(3), "{v:?}");
    assert!(
        v.failures[0].message.contains(
            "3 anomalies in 7 list-append transactions (G0 x1, garbage-read x2); first: T1 ww T3 ww T1"
        ),
        "{v:?}"
    );
    // No cycle: the first anomaly is named.
    let report = IsolationReport {
        anomaly_count: 2,
        classes: [("garbage-read".to_string(), 2)].into(),
        anomalies: vec![garbage],
        ..clean
    };
    let v = verdict("", &iso(report));
    assert!(
        v.failures[0]
            .message
            .ends_with("(garbage-read x2); first: T2 read 9 of key 1, which nobody appended"),
        "{v:?}"
    );
}

/// Among cycles, a lost update's (two writers of one key, `ww` then `rw`) is named first:
/// it is the one a reader of the verdict can act on; any other cycle comes next.
#[test]
fn a_lost_updates_cycle_is_named_before_any_other_cycle() {
    use crate::check::isolation::anomaly::CycleStep;
    use crate::check::isolation::edges::Why;
    let iso = |anomalies: Vec<Found>| Checks {
        isolation: Some(IsolationReport {
            txns: 4,
            anomaly_count: anomalies.len(),
            classes: [("G-single".to_string(), anomalies.len())].into(),
            anomalies,
            ..IsolationReport::default()
        }),
        ..healthy()
    };
    let other = found(
        AnomalyClass::G0,
        Anomaly::Cycle { steps: Vec::new() },
        "T1 ww T3 ww T1",
    );
    let steps = vec![
        CycleStep {
            from: 1,
            to: 2,
            why: Why::Ww {
                key: 5,
                prev: 10,
                next: 20,
            },
        },
        CycleStep {
            from: 2,
            to: 1,
            why: Why::Rw {
                key: 5,
                last: None,
                next: 10,
            },
        },
    ];
    let lost = found(
        AnomalyClass::GSingle,
        Anomaly::Cycle { steps },
        "T2 lost T1's append to key 5",
    );
    let message = |anomalies| verdict("", &iso(anomalies)).failures[0].message.clone();
    let m = message(vec![other.clone(), lost]);
    assert!(m.ends_with("; first: T2 lost T1's append to key 5"), "{m}");
    let m = message(vec![other]);
    assert!(m.ends_with("; first: T1 ww T3 ww T1"), "{m}");
}

/// Snapshot stability in the verdict: stable reads pass with a note of what was judged; an
/// unstable transaction fails; readers that never got two reads judged nothing and fail.
#[test]
fn snapshot_stability_is_noted_failed_or_judged_nothing() {
    use crate::check::snapshot::SnapshotReport;
    let snap = |s: SnapshotReport| Checks {
        snapshots: Some(s),
        ..healthy()
    };
    let stable = SnapshotReport {
        read_txns: 2,
        judged: 2,
        reads: 5,
        interleaved: 1,
        ..SnapshotReport::default()
    };
    let v = verdict("", &snap(stable.clone()));
    assert_eq!(v.verdict, VerdictKind::Pass, "{v:?}");
    assert!(
        v.notes.iter().any(|n| n
            == "snapshot stability: 2 of 2 read transaction(s) judged (5 reads), 1 with another worker's commit between their first and last read"),
        "{v:?}"
    );
    let v = verdict(
        "",
        &snap(SnapshotReport {
            unstable: 1,
            first: Some("worker 1 seq 4".into()),
            ..stable.clone()
        }),
    );
    assert_eq!(
        sigs(&v),
        [(
            Cat::SnapshotStability,
            Detector::SnapshotCheck,
            FailureKind::Unexpected
        )]
    );
    assert!(
        v.failures[0].message.ends_with("first: worker 1 seq 4"),
        "{v:?}"
    );
    let v = verdict(
        "",
        &snap(SnapshotReport {
            judged: 0,
            reads: 0,
            interleaved: 0,
            ..stable
        }),
    );
    assert_eq!(
        sigs(&v),
        [(
            Cat::SnapshotStability,
            Detector::SnapshotCheck,
            FailureKind::Missing
        )]
    );
    assert_eq!(v.failures[0].count, Some(2));
}

/// The WAL's peak in the verdict: over its bound fails only when asserted; otherwise, and
/// within the bound, it is noted; a peak not judged says why.
#[test]
fn checkpoint_starvation_fails_only_when_asserted_and_over_the_bound() {
    use crate::check::wal_growth::WalGrowth;
    let wal = |peak: u64, asserted: bool| Checks {
        wal_growth: Some(WalGrowth {
            measurements: 3,
            peak_frames: peak,
            peak_at: Some("worker 1 actor 0 seq 2 (create_task)".into()),
            wal_autocheckpoint: 100,
            checkpoints: "auto (passive)".into(),
            bound: Some(200),
            asserted,
            not_judged: None,
        }),
        ..healthy()
    };
    let v = verdict("", &wal(201, true));
    assert_eq!(
        sigs(&v),
        [(
            Cat::CheckpointStarvation,
            Detector::WalGrowthCheck,
            FailureKind::Unexpected
        )]
    );
    assert_eq!(v.failures[0].count, Some(201));
    for (peak, asserted, note) in [
        (
            201,
            false,
            "checkpoint starvation: the WAL peaked at 201 frames (first seen by worker 1 actor 0 seq 2 (create_task)) over 3 measurement(s); checkpoints: auto (passive), over its bound of 200 (2 x wal_autocheckpoint 100) (reported, not asserted: expect.wal_growth = \"reported\")",
        ),
        (
            200,
            true,
            "checkpoint starvation: the WAL peaked at 200 frames (first seen by worker 1 actor 0 seq 2 (create_task)) over 3 measurement(s); checkpoints: auto (passive), within its bound of 200 (2 x wal_autocheckpoint 100)",
        ),
    ] {
        let v = verdict("", &wal(peak, asserted));
        assert_eq!(v.verdict, VerdictKind::Pass, "{v:?}");
        assert!(v.notes.iter().any(|n| n == note), "{v:?}");
    }
    let mut unjudged = wal(9999, true);
    if let Some(g) = &mut unjudged.wal_growth {
        g.bound = None;
        g.not_judged = Some("wal_autocheckpoint = 0".into());
    }
    let v = verdict("", &unjudged);
    assert_eq!(v.verdict, VerdictKind::Pass, "{v:?}");
    assert!(
        v.notes.iter().any(|n| n.starts_with(
            "checkpoint starvation not judged: wal_autocheckpoint = 0; the WAL peaked at 9999"
        )),
        "{v:?}"
    );
}
