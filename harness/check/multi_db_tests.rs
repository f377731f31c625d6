//! The multi-database ledger on real files: two SQLite databases written by the kanban
//! workload's and the mirror's own SQL in one transaction per op, then one commit torn by
//! hand, and the detector that must name it (its negative control).

use super::*;
use crate::check::failure::{Detector, FailureCategory};
use crate::check::{Checks, Corruption};
use crate::observe::Outcome;
use crate::observe::{Observations, Totals};
use crate::protocol::{AUX_DB_FILE, DB_FILE, WorkerOp, aux_db_path};
use crate::scenario::{ScenarioSource, parse_str};
use crate::workload::{Unstepped, kanban, mirror};

fn scenario() -> crate::scenario::Scenario {
    parse_str(
        "name = \"m\"\n[sqlite]\njournal_mode = \"delete\"\n[workload]\nworkers = 2\nops_per_worker = 3\nattach = \"aux\"\n",
        &ScenarioSource::Embedded("m".into()),
    )
    .unwrap()
}

fn record(op: &WorkerOp, worker: u32, event_id: i64) -> OpRecord {
    OpRecord {
        worker,
        actor: op.actor,
        seq: op.seq,
        kind: op.kind,
        outcome: Outcome::Committed,
        reason: None,
        error: None,
        busy: Vec::new(),
        lock_wait_us: 0,
        begin_wait_us: 0,
        latency_us: 0,
        t_start_ns: 0,
        t_begin_ok_ns: None,
        t_commit_issued_ns: None,
        t_end_ns: 0,
        event_id: Some(event_id),
        task_id: None,
        guard: None,
        guard_error: None,
        checkpoint: None,
        list: Vec::new(),
        reads: Vec::new(),
        wal_frames: None,
        claim_read: None,
    }
}

/// Writes every planned op of `s` into `dir/kanban.db` and `dir/aux.db`, each in one
/// transaction across the two files, as the worker does; returns the plan and records.
fn write_pair(dir: &Path, s: &crate::scenario::Scenario) -> (Plan, Vec<OpRecord>) {
    let plan = crate::plan::build(s, 1);
    let db = dir.join(DB_FILE);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;")
        .unwrap();
    kanban::create_schema(&conn).unwrap();
    mirror::attach(&conn, &aux_db_path(&db), &s.sqlite).unwrap();
    mirror::create_schema(&conn).unwrap();
    let mut records = Vec::new();
    for wp in &plan.workers {
        for op in &wp.ops {
            let op = WorkerOp::from_plan(plan.seed, wp.worker, op);
            conn.execute_batch("BEGIN IMMEDIATE").unwrap();
            let applied = kanban::apply(&conn, &Unstepped, wp.worker, &op).unwrap();
            mirror::mirror(&conn, &Unstepped, wp.worker, &op).unwrap();
            conn.execute_batch("COMMIT").unwrap();
            let kanban::Applied::Wrote { event_id, .. } = applied else {
                panic!("a create always writes");
            };
            records.push(record(&op, wp.worker, event_id));
        }
    }
    drop(conn);
    (plan, records)
}

fn judged(dir: &Path, plan: &Plan, records: &[OpRecord]) -> MultiDb {
    let main = verify::open_for_verify(&dir.join(DB_FILE)).unwrap();
    check(&main, &dir.join(AUX_DB_FILE), plan, records)
}

/// The verdict on a run whose main file is healthy and whose pair was judged as `m`.
fn verdict_on(m: MultiDb) -> crate::check::verdict::Verdict {
    let c = Checks {
        integrity_check: "ok".into(),
        quick_check: "ok".into(),
        journal_mode: "delete".into(),
        journal_mode_ok: true,
        final_length_ok: true,
        content_hash: Some("h".into()),
        multi_db: Some(m),
        ..Checks::default()
    };
    crate::check::verdict::judge(
        &scenario(),
        &Observations::default(),
        &Totals::default(),
        &c,
        &Corruption::default(),
    )
}

/// Both files written together: every op in both, nothing torn, both files healthy.
#[test]
fn ops_committed_across_both_files_are_in_both() {
    let dir = tempfile::tempdir().unwrap();
    let (plan, records) = write_pair(dir.path(), &scenario());
    let m = judged(dir.path(), &plan, &records);
    assert_eq!(
        (m.judged, m.in_both, m.torn, m.aux_strays),
        (6, 6, 0, 0),
        "{m:?}"
    );
    assert!(m.healthy() && m.error.is_none(), "{m:?}");
}

/// The negative control: one acknowledged commit's aux row deleted by hand (a commit torn
/// across the files) is named by the multi-database ledger, with the op and the file that
/// lacks it; a mirror row no op wrote is a stray; the verdict fails under this detector.
#[test]
fn a_commit_torn_by_hand_is_named_by_the_multi_db_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let (plan, records) = write_pair(dir.path(), &scenario());
    let aux = rusqlite::Connection::open(dir.path().join(AUX_DB_FILE)).unwrap();
    aux.execute("DELETE FROM task_mirror WHERE worker = 1 AND seq = 2", [])
        .unwrap();
    aux.execute(
        "INSERT INTO task_mirror (worker, seq, kind, body) VALUES (9, 9, 'create_task', 'x')",
        [],
    )
    .unwrap();
    drop(aux);
    let m = judged(dir.path(), &plan, &records);
    assert_eq!((m.torn, m.in_both, m.aux_strays), (1, 5, 1), "{m:?}");
    assert_eq!(
        m.torn_ops,
        ["worker 1 seq 2 (create_task, committed): in kanban.db, not in aux.db"]
    );
    let v = verdict_on(m);
    let sigs: Vec<_> = v
        .failures
        .iter()
        .map(|f| (f.category, f.detector))
        .collect();
    assert_eq!(
        sigs,
        [(FailureCategory::TornMultiDbCommit, Detector::MultiDbLedger)],
        "{v:?}"
    );
    assert!(
        v.failures[0].message.contains("worker 1 seq 2"),
        "{}",
        v.failures[0].message
    );
}

/// A clean pair is noted with what was judged; a missing aux file is never a pass.
#[test]
fn a_clean_pair_is_noted_and_a_missing_aux_file_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (plan, records) = write_pair(dir.path(), &scenario());
    let v = verdict_on(judged(dir.path(), &plan, &records));
    assert!(v.failures.is_empty(), "{v:?}");
    assert!(
        v.notes.iter().any(|n| n
            == "multi-database ledger: 6 write op(s) judged across kanban.db and aux.db: 6 in both, 0 in neither, none torn"),
        "{:?}",
        v.notes
    );
    std::fs::remove_file(dir.path().join(AUX_DB_FILE)).unwrap();
    let v = verdict_on(judged(dir.path(), &plan, &records));
    assert!(
        v.failures
            .iter()
            .any(|f| f.detector == Detector::MultiDbLedger
                && f.category == FailureCategory::Unreadable),
        "{v:?}"
    );
}

/// The attached file is as healthy as the main one only when both of its checks say `ok`:
/// either one alone failing is an integrity failure naming the aux file.
#[test]
fn either_check_of_the_aux_file_alone_fails_its_health() {
    let m = |integrity: &str, quick: &str| MultiDb {
        aux_file: AUX_DB_FILE.into(),
        integrity_check: integrity.into(),
        quick_check: quick.into(),
        ..MultiDb::default()
    };
    assert!(m("ok", "ok").healthy());
    let damaged = "*** in database main ***\nPage 3: btreeInitPage() returns error code 11";
    assert!(!m(damaged, "ok").healthy(), "integrity_check alone");
    assert!(!m("ok", damaged).healthy(), "quick_check alone");
    assert!(!m("", "").healthy(), "never checked is not healthy");
    // ... and the verdict names it: the aux file's integrity, by the integrity check.
    let v = verdict_on(m("ok", damaged));
    let f: Vec<_> = v
        .failures
        .iter()
        .map(|f| (f.category, f.detector))
        .collect();
    assert_eq!(
        f,
        [(FailureCategory::Integrity, Detector::IntegrityCheck)],
        "{v:?}"
    );
    assert!(
        v.failures[0]
            .message
            .starts_with(&format!("integrity: {AUX_DB_FILE}: ")),
        "{v:?}"
    );
}

/// The pair judged op by op, on identities alone: a committed gc excuses exactly the older
/// heartbeats it deleted from the main file (kept in aux.db), and nothing else; an op in
/// neither file is counted as such; the listing stops at ten torn ops.
#[test]
fn only_a_committed_gc_excuses_exactly_the_older_heartbeats_it_deleted() {
    use crate::plan::{GC_AGE_MS, PlannedOp, WorkerPlan};
    let op = |seq, kind, at_ms| PlannedOp {
        at_ms,
        ..PlannedOp::bare(seq, 0, kind)
    };
    let (hb, create, gc) = (OpKind::Heartbeat, OpKind::CreateTask, OpKind::GcEvents);
    let plan = Plan {
        format: String::new(),
        scenario: "m".into(),
        seed: 1,
        schedule_hash: String::new(),
        workers: vec![
            WorkerPlan {
                worker: 1,
                ops: vec![
                    op(0, hb, 0),                    // aux only, older than the cutoff: excused
                    op(1, create, 0),                // aux only, not a heartbeat: torn
                    op(2, hb, 3000),                 // aux only, after the committed cutoff: torn
                    op(3, gc, GC_AGE_MS + 1000),     // both: the committed gc, cutoff 1000
                    op(4, hb, 0),                    // neither
                    op(5, hb, 0),                    // main only: torn
                    op(6, create, GC_AGE_MS + 9000), // both: no cutoff (not a gc)
                    op(7, hb, 1000),                 // aux only, at the cutoff: kept, so torn
                ],
            },
            WorkerPlan {
                worker: 2,
                // In aux.db only: never committed in the main file, so no cutoff (and torn).
                ops: vec![op(0, gc, GC_AGE_MS + 5000)],
            },
        ],
    };
    let ids = |list: &[(u32, u32)]| list.iter().map(|&id| (id, 1)).collect::<BTreeMap<_, _>>();
    let main_ids = ids(&[(1, 3), (1, 5), (1, 6)]);
    let aux_ids = ids(&[(1, 0), (1, 1), (1, 2), (1, 3), (1, 6), (1, 7), (2, 0)]);
    let mut m = MultiDb {
        aux_file: AUX_DB_FILE.into(),
        ..MultiDb::default()
    };
    judge(&mut m, &plan, &[], &main_ids, &aux_ids);
    assert_eq!(
        (m.judged, m.in_both, m.in_neither, m.torn, m.aux_strays),
        (9, 3, 1, 5, 0),
        "{m:?}"
    );
    let torn: Vec<&str> = m
        .torn_ops
        .iter()
        .map(|t| t.split(" (").next().unwrap())
        .collect();
    assert_eq!(
        torn,
        [
            "worker 1 seq 1",
            "worker 1 seq 2",
            "worker 1 seq 5",
            "worker 1 seq 7",
            "worker 2 seq 0"
        ],
        "{m:?}"
    );

    // Twelve torn ops: all counted, ten listed.
    let plan = Plan {
        workers: vec![WorkerPlan {
            worker: 1,
            ops: (0..12).map(|s| op(s, create, 0)).collect(),
        }],
        ..plan
    };
    let mut m = MultiDb::default();
    judge(&mut m, &plan, &[], &ids(&[]), &ids(&[]));
    assert_eq!((m.in_neither, m.torn), (12, 0));
    let mut m = MultiDb::default();
    let all: Vec<(u32, u32)> = (0..12).map(|s| (1, s)).collect();
    judge(&mut m, &plan, &[], &ids(&all), &ids(&[]));
    assert_eq!((m.torn, m.torn_ops.len()), (12, MAX_LISTED), "{m:?}");
}

/// The verdict counts torn ops and stray rows together, and says each.
#[test]
fn the_verdict_counts_torn_ops_and_strays_together() {
    let pair = MultiDb {
        aux_file: AUX_DB_FILE.into(),
        judged: 6,
        in_both: 3,
        torn: 3,
        torn_ops: vec!["worker 1 seq 2".into()],
        aux_strays: 2,
        integrity_check: "ok".into(),
        quick_check: "ok".into(),
        ..MultiDb::default()
    };
    let v = verdict_on(pair.clone());
    let torn: Vec<_> = v
        .failures
        .iter()
        .filter(|f| f.category == FailureCategory::TornMultiDbCommit)
        .collect();
    assert_eq!(torn.len(), 1, "{v:?}");
    assert_eq!(torn[0].count, Some(5), "{v:?}");
    assert!(
        torn[0].message.contains("3 write op(s) in one database of their transaction and not the other (worker 1 seq 2), 2 stray or repeated row(s) in aux.db"),
        "{v:?}"
    );
    // Each alone fails too.
    for (t, strays) in [(3, 0), (0, 2)] {
        let v = verdict_on(MultiDb {
            torn: t,
            aux_strays: strays,
            ..pair.clone()
        });
        assert!(
            v.failures
                .iter()
                .any(|f| f.category == FailureCategory::TornMultiDbCommit
                    && f.count == Some(t + strays)),
            "torn {t}, strays {strays}: {v:?}"
        );
    }
}
