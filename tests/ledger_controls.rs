//! Negative controls for the ledger's counters, on real SQLite databases: each anomaly is
//! made by hand with the workload's own SQL, and the ledger must count exactly it.

use rusqlite::Connection;
use walburst::check::ledger;
use walburst::observe::{OpRecord, Outcome};
use walburst::plan::{self, Plan};
use walburst::protocol::WorkerOp;
use walburst::scenario::{ScenarioSource, parse_str};
use walburst::worker::sqlite;
use walburst::workload::Unstepped;
use walburst::workload::kanban;

const SEED: u64 = 5;

fn setup(workers: u32, ops: u32) -> (tempfile::TempDir, Connection, Plan) {
    let scenario = parse_str(
        &format!("name = \"l\"\n[workload]\nworkers = {workers}\nops_per_worker = {ops}\n"),
        &ScenarioSource::Embedded("l".into()),
    )
    .unwrap();
    let plan = plan::build(&scenario, SEED);
    let dir = tempfile::tempdir().unwrap();
    let conn = sqlite::open(&dir.path().join("kanban.db"), &scenario.sqlite, 5000).unwrap();
    kanban::create_schema(&conn).unwrap();
    (dir, conn, plan)
}

/// Runs op (worker, seq) of the plan in its own committed transaction; returns its event id.
fn commit(conn: &Connection, plan: &Plan, worker: u32, seq: u32) -> i64 {
    let gate = Unstepped;
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    let op = WorkerOp::from_plan(
        SEED,
        worker,
        &plan.workers[worker as usize].ops[seq as usize],
    );
    let kanban::Applied::Wrote { event_id, .. } = kanban::apply(conn, &gate, worker, &op).unwrap()
    else {
        panic!("creates write")
    };
    conn.execute_batch("COMMIT").unwrap();
    event_id
}

fn record(worker: u32, seq: u32, outcome: Outcome, event_id: Option<i64>) -> OpRecord {
    let mut r: OpRecord = serde_json::from_value(serde_json::json!({
        "worker": worker, "actor": 0, "seq": seq, "kind": "create_task", "outcome": "committed",
        "lock_wait_us": 0, "begin_wait_us": 0, "latency_us": 0, "t_start_ns": 0, "t_end_ns": 0,
    }))
    .unwrap();
    r.outcome = outcome;
    r.event_id = event_id;
    r
}

#[test]
fn a_clean_history_is_clean() {
    let (_d, conn, plan) = setup(1, 2);
    let e0 = commit(&conn, &plan, 0, 0);
    let e1 = commit(&conn, &plan, 0, 1);
    let recs = [
        record(0, 0, Outcome::Committed, Some(e0)),
        record(0, 1, Outcome::Committed, Some(e1)),
    ];
    let l = ledger::check(&conn, &plan, &recs).unwrap();
    assert!(l.clean(), "{:?}", l.examples);
}

#[test]
fn a_duplicated_row_is_counted() {
    let (_d, conn, plan) = setup(1, 1);
    let e0 = commit(&conn, &plan, 0, 0);
    conn.execute(
        "INSERT INTO task_events (task_id, kind, payload, created_at, worker, seq)
         SELECT task_id, kind, payload, created_at, worker, seq FROM task_events WHERE id = ?1",
        [e0],
    )
    .unwrap();
    let l = ledger::check(&conn, &plan, &[record(0, 0, Outcome::Committed, Some(e0))]).unwrap();
    assert_eq!(
        (l.duplicate, l.lost, l.phantom),
        (1, 0, 0),
        "{:?}",
        l.examples
    );
}

#[test]
fn rows_of_a_rolled_back_op_are_phantoms() {
    let (_d, conn, plan) = setup(1, 1);
    commit(&conn, &plan, 0, 0);
    // The worker said it rolled back, yet its task and event rows are there.
    let l = ledger::check(&conn, &plan, &[record(0, 0, Outcome::RolledBack, None)]).unwrap();
    assert_eq!((l.phantom, l.lost), (2, 0), "{:?}", l.examples);
}

#[test]
fn commits_out_of_an_actors_order_are_counted() {
    let (_d, conn, plan) = setup(1, 2);
    // Seq 1 committed before seq 0, which one actor running its ops in order cannot do.
    let e1 = commit(&conn, &plan, 0, 1);
    let e0 = commit(&conn, &plan, 0, 0);
    let recs = [
        record(0, 0, Outcome::Committed, Some(e0)),
        record(0, 1, Outcome::Committed, Some(e1)),
    ];
    let l = ledger::check(&conn, &plan, &recs).unwrap();
    assert_eq!(l.order_violations, 1, "{:?}", l.examples);
    assert_eq!(l.lost + l.phantom + l.duplicate, 0);
}

#[test]
fn content_other_than_written_is_a_lost_write() {
    let (_d, conn, plan) = setup(1, 1);
    let e0 = commit(&conn, &plan, 0, 0);
    conn.execute("UPDATE tasks SET body = 'not what was written'", [])
        .unwrap();
    let l = ledger::check(&conn, &plan, &[record(0, 0, Outcome::Committed, Some(e0))]).unwrap();
    assert_eq!(l.lost, 1, "{:?}", l.examples);
    assert!(l.examples[0].contains("other content than written"));
}

#[test]
fn an_event_id_that_changed_hands_is_a_lost_write() {
    let (_d, conn, plan) = setup(2, 1);
    let e0 = commit(&conn, &plan, 0, 0);
    let e1 = commit(&conn, &plan, 1, 0);
    // Worker 1 was told its commit got event e0 (as after a lost write whose id was reused).
    let recs = [
        record(0, 0, Outcome::Committed, Some(e1)),
        record(1, 0, Outcome::Committed, Some(e0)),
    ];
    let l = ledger::check(&conn, &plan, &recs).unwrap();
    assert_eq!(l.lost, 2, "{:?}", l.examples);
}
