//! The write-exclusion interval ends when COMMIT is issued, so two writers that collide
//! inside COMMIT leave no overlap. This test pins that blind spot and shows that the ledger
//! (on a real SQLite database) is what catches the resulting lost write.

use walburst::check::{exclusion, ledger};
use walburst::observe::OpRecord;
use walburst::plan;
use walburst::protocol::WorkerOp;
use walburst::scenario::{ScenarioSource, parse_str};
use walburst::worker::sqlite;
use walburst::workload::Unstepped;
use walburst::workload::kanban;

fn record(worker: u32, begin: u64, commit_issued: u64, end: u64, event_id: i64) -> OpRecord {
    serde_json::from_value(serde_json::json!({
        "worker": worker, "actor": 0, "seq": 0, "kind": "create_task", "outcome": "committed",
        "lock_wait_us": 0, "begin_wait_us": 0, "latency_us": (end - begin) / 1000,
        "t_start_ns": begin, "t_begin_ok_ns": begin, "t_commit_issued_ns": commit_issued,
        "t_end_ns": end, "event_id": event_id,
    }))
    .unwrap()
}

#[test]
fn breach_inside_commit_is_invisible_to_exclusion_but_caught_by_ledger() {
    let scenario = parse_str(
        "name = \"breach\"\n[workload]\nworkers = 2\nops_per_worker = 1\n",
        &ScenarioSource::Embedded("breach".into()),
    )
    .unwrap();
    let seed = 9;
    let plan = plan::build(&scenario, seed);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kanban.db");
    let conn = sqlite::open(&db, &scenario.sqlite, 5000).unwrap();
    kanban::create_schema(&conn).unwrap();

    // Both workers were told COMMIT succeeded, but worker 1's pages were overwritten by
    // worker 0's commit while both were inside COMMIT: only worker 0's rows survive.
    let gate = Unstepped;
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    let kanban::Applied::Wrote { event_id, .. } = kanban::apply(
        &conn,
        &gate,
        0,
        &WorkerOp::from_plan(seed, 0, &plan.workers[0].ops[0]),
    )
    .unwrap() else {
        panic!("create_task writes")
    };
    conn.execute_batch("COMMIT").unwrap();

    // Worker 1 entered its transaction after worker 0 issued COMMIT (no overlap of the
    // intervals), but worker 0's COMMIT was still running (t_end) when worker 1 committed.
    let records = vec![
        record(0, 1_000, 2_000, 9_000, event_id),
        record(1, 3_000, 4_000, 5_000, event_id + 1),
    ];
    let x = exclusion::check(&records);
    assert_eq!(x.intervals, 2);
    assert_eq!(
        x.overlaps, 0,
        "the interval check cannot see a breach inside COMMIT"
    );

    let l = ledger::check(&conn, &plan, &records).unwrap();
    assert_eq!(
        l.lost, 2,
        "worker 1's event row and task row are both missing: {:?}",
        l.examples
    );
    assert!(l.examples.iter().any(|e| e.contains("worker 1 seq 0")));
    assert!(!l.clean());
}

#[test]
fn overlapping_write_transactions_are_counted() {
    let records = vec![
        record(0, 1_000, 5_000, 6_000, 1),
        record(1, 2_000, 3_000, 3_500, 2), // inside worker 0's interval
        record(2, 4_000, 7_000, 8_000, 3), // starts before worker 0 issued COMMIT
        record(3, 7_500, 9_000, 9_500, 4), // clean
    ];
    let x = exclusion::check(&records);
    assert_eq!(x.overlaps, 2);
    let ex = x.first_example.unwrap();
    assert!(
        ex.starts_with("worker 1 actor 0 seq 0 entered its write transaction"),
        "{ex}"
    );
}

#[test]
fn back_to_back_transactions_do_not_overlap() {
    let records: Vec<OpRecord> = (0..50)
        .map(|i| {
            record(
                i % 5,
                1_000 * u64::from(i),
                1_000 * u64::from(i) + 999,
                1_000 * u64::from(i) + 999,
                i64::from(i),
            )
        })
        .collect();
    assert_eq!(exclusion::check(&records).overlaps, 0);
}
