//! In-process controls of the state oracle, on real SQLite files written by the workload's
//! own SQL (the property tests in `props_tests.rs` judge it over generated histories).

use super::*;
use crate::plan::{OpKind, PlannedOp, WorkerPlan};
use crate::protocol::WorkerOp;
use crate::workload::Unstepped;

/// The replay diverges where an op does not insert the event its record says it committed
/// as, and says so: the first difference names the op, the event it committed as and the
/// one the replay inserted (mutant `got == *event_id` -> `true`, which let the replay run on
/// and compare equal tables).
#[test]
fn a_replay_that_inserts_another_event_than_committed_names_the_op() {
    let dir = tempfile::tempdir().unwrap();
    let db = Connection::open(dir.path().join("s.db")).unwrap();
    kanban::create_schema(&db).unwrap();
    let op = PlannedOp::bare(0, 0, OpKind::CreateTask);
    let gate = Unstepped;
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    let applied = kanban::apply(&db, &gate, 0, &WorkerOp::from_plan(1, 0, &op)).unwrap();
    db.execute_batch("COMMIT").unwrap();
    assert!(matches!(applied, Applied::Wrote { event_id: 1, .. }));
    let plan = Plan {
        format: String::new(),
        scenario: "s".into(),
        seed: 1,
        schedule_hash: String::new(),
        workers: vec![WorkerPlan {
            worker: 0,
            ops: vec![op],
        }],
    };
    let record = |event_id| {
        let mut r: OpRecord = serde_json::from_value(serde_json::json!({
            "worker": 0, "actor": 0, "seq": 0, "kind": "create_task",
            "outcome": "committed", "t_start_ns": 0, "t_end_ns": 0,
        }))
        .unwrap();
        r.event_id = Some(event_id);
        r
    };
    let same = check(
        &db,
        &plan,
        &[record(1)],
        crate::scenario::ClaimStyle::CompareAndSwap,
    )
    .unwrap();
    assert!(same.matches && same.difference.is_none(), "{same:?}");
    let other = check(
        &db,
        &plan,
        &[record(7)],
        crate::scenario::ClaimStyle::CompareAndSwap,
    )
    .unwrap();
    assert!(!other.matches, "{other:?}");
    assert_eq!(
        other.difference.as_deref(),
        Some("replaying worker 0 seq 0 (create_task), committed as event 7: it inserted event 1")
    );
}
