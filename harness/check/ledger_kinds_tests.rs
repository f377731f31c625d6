//! The kanban ledger, op kind by op kind (issue 27): each row every write kind leaves is
//! removed, duplicated, re-attributed and damaged in turn, on a real SQLite file written by
//! the workload's own SQL, and the ledger must count exactly that anomaly. The older
//! controls only ever touched `create_task` rows, so a ledger that stopped checking a
//! comment's row or a claim's `task_runs` row passed everything.

use rusqlite::Connection;

use super::*;
use crate::plan::{GC_AGE_MS, WorkerPlan};
use crate::protocol::WorkerOp;
use crate::workload::Unstepped;
use crate::workload::kanban;

const SEED: u64 = 11;

/// (kind, actor, at_ms) of each op of worker 0, in seq order.
type Ops = [(OpKind, u32, i64)];

/// Every write kind once, in an order where each finds what it needs (a task to claim, an
/// open run to heartbeat and complete), then a checkpoint, which writes nothing.
const HISTORY: [(OpKind, u32, i64); 7] = [
    (OpKind::CreateTask, 0, 0),
    (OpKind::ClaimTask, 0, 0),
    (OpKind::Heartbeat, 0, 0),
    (OpKind::AddComment, 0, 0),
    (OpKind::CompleteTask, 0, 0),
    (OpKind::GcEvents, 0, 0),
    (OpKind::Checkpoint, 0, 0),
];

/// The rows each write kind leaves: (kind, table, worker column, seq column).
const ROWS: [(OpKind, &str, &str, &str); 9] = [
    (OpKind::CreateTask, "tasks", "created_worker", "created_seq"),
    (OpKind::CreateTask, "task_events", "worker", "seq"),
    (OpKind::ClaimTask, "task_runs", "worker", "seq"),
    (OpKind::ClaimTask, "task_events", "worker", "seq"),
    (OpKind::Heartbeat, "task_events", "worker", "seq"),
    (OpKind::AddComment, "task_comments", "worker", "seq"),
    (OpKind::AddComment, "task_events", "worker", "seq"),
    (OpKind::CompleteTask, "task_events", "worker", "seq"),
    (OpKind::GcEvents, "task_events", "worker", "seq"),
];

struct Db {
    _dir: tempfile::TempDir,
    conn: Connection,
    plan: Plan,
    records: Vec<OpRecord>,
}

impl Db {
    fn check(&self) -> LedgerReport {
        check(&self.conn, &self.plan, &self.records).unwrap()
    }

    fn exec(&self, sql: &str) {
        self.conn.execute_batch(sql).unwrap();
    }
}

fn plan(ops: &Ops) -> Plan {
    Plan {
        format: String::new(),
        scenario: "kinds".into(),
        seed: SEED,
        schedule_hash: String::new(),
        workers: vec![WorkerPlan {
            worker: 0,
            ops: ops
                .iter()
                .zip(0..)
                .map(|(&(kind, actor, at_ms), seq)| PlannedOp {
                    seq,
                    actor,
                    kind,
                    think_us: 0,
                    payload_len: 16,
                    at_ms,
                })
                .collect(),
        }],
    }
}

fn record(op: &PlannedOp, event_id: i64) -> OpRecord {
    let mut r: OpRecord = serde_json::from_value(serde_json::json!({
        "worker": 0, "actor": op.actor, "seq": op.seq, "kind": op.kind.name(),
        "outcome": "committed", "t_start_ns": 0, "t_end_ns": 0,
    }))
    .unwrap();
    r.event_id = Some(event_id);
    r
}

/// Runs the write ops of `ops` in the order `order` (seqs), each in its own committed
/// transaction, and records each as committed with its event id.
fn run_in(ops: &Ops, order: &[u32]) -> Db {
    let plan = plan(ops);
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("kanban.db")).unwrap();
    kanban::create_schema(&conn).unwrap();
    let mut records = Vec::new();
    for &seq in order {
        let op = &plan.workers[0].ops[seq as usize];
        if !op.kind.is_write() {
            continue;
        }
        let gate = Unstepped;
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        let applied = kanban::apply(&conn, &gate, 0, &WorkerOp::from_plan(SEED, 0, op)).unwrap();
        let kanban::Applied::Wrote { event_id, .. } = applied else {
            panic!("seq {seq} ({}) wrote nothing: {applied:?}", op.kind.name())
        };
        conn.execute_batch("COMMIT").unwrap();
        records.push(record(op, event_id));
    }
    Db {
        _dir: dir,
        conn,
        plan,
        records,
    }
}

fn run(ops: &Ops) -> Db {
    let order: Vec<u32> = (0..ops.len() as u32).collect();
    run_in(ops, &order)
}

fn seq_of(kind: OpKind) -> u32 {
    HISTORY.iter().position(|op| op.0 == kind).unwrap() as u32
}

/// (lost, phantom, duplicate, order violations).
fn counts(l: &LedgerReport) -> (u64, u64, u64, u64) {
    (l.lost, l.phantom, l.duplicate, l.order_violations)
}

fn clean_history() -> Db {
    let db = run(&HISTORY);
    let l = db.check();
    assert!(l.clean(), "{:?}", l.examples);
    assert_eq!((l.ambiguous, l.gc_removed), (0, 0));
    // Clean means no example either: an anomaly of count zero is no anomaly.
    assert!(l.examples.is_empty() && l.first.is_empty() && l.ambiguous_ops.is_empty());
    db
}

#[test]
fn each_kinds_rows_removed_in_turn_are_lost_writes() {
    for (kind, table, wcol, scol) in ROWS {
        let db = clean_history();
        let seq = seq_of(kind);
        db.exec(&format!(
            "DELETE FROM {table} WHERE {wcol} = 0 AND {scol} = {seq}"
        ));
        let l = db.check();
        assert_eq!(counts(&l), (1, 0, 0, 0), "{table} of {kind:?}: {l:?}");
        let first = &l.first[&FailureCategory::LostWrites];
        assert!(
            first.contains(&format!("seq {seq} ({})", kind.name())),
            "{first}"
        );
        let row = if table == "task_events" {
            "event"
        } else {
            table
        };
        assert!(first.contains(&format!("{row} row is missing")), "{first}");
    }
}

/// A copy of the row(s) of (0, `seq`) in `table`, under a fresh primary key.
fn duplicate(db: &Db, table: &str, wcol: &str, scol: &str, seq: u32) {
    let mut st = db
        .conn
        .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
        .unwrap();
    let columns: Vec<String> = st
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    // `tasks` has a text key to make fresh; the others an autoincrement id to leave out.
    let (into, from): (Vec<&str>, Vec<String>) = columns
        .iter()
        .filter(|c| table == "tasks" || *c != "id")
        .map(|c| match c.as_str() {
            "id" => ("id", "id || '-copy'".to_string()),
            other => (other, other.to_string()),
        })
        .unzip();
    db.exec(&format!(
        "INSERT INTO {table} ({}) SELECT {} FROM {table} WHERE {wcol} = 0 AND {scol} = {seq}",
        into.join(", "),
        from.join(", ")
    ));
}

#[test]
fn each_kinds_rows_duplicated_in_turn_are_duplicates() {
    for (kind, table, wcol, scol) in ROWS {
        let db = clean_history();
        duplicate(&db, table, wcol, scol, seq_of(kind));
        let l = db.check();
        assert_eq!(counts(&l), (0, 0, 1, 0), "{table} of {kind:?}: {l:?}");
        assert!(
            l.first[&FailureCategory::DuplicateWrites].contains(kind.name()),
            "{l:?}"
        );
    }
}

/// A row that carries another identity is lost for its op and a phantom for the identity
/// no planned op has: every table takes part in both sides.
#[test]
fn each_kinds_rows_reattributed_in_turn_are_lost_and_phantom() {
    for (kind, table, wcol, scol) in ROWS {
        let db = clean_history();
        let seq = seq_of(kind);
        db.exec(&format!(
            "UPDATE {table} SET {scol} = 1000 WHERE {wcol} = 0 AND {scol} = {seq}"
        ));
        let l = db.check();
        assert_eq!(counts(&l), (1, 1, 0, 0), "{table} of {kind:?}: {l:?}");
        assert!(
            l.first[&FailureCategory::PhantomWrites].contains("worker 0 seq 1000"),
            "{l:?}"
        );
    }
}

/// Rows whose identity is unreadable are phantoms, whichever table holds them.
#[test]
fn each_tables_unattributable_rows_are_phantoms() {
    for (kind, table, wcol, scol) in ROWS {
        let db = clean_history();
        duplicate(&db, table, wcol, scol, seq_of(kind));
        db.exec(&format!(
            "UPDATE {table} SET {wcol} = 'x' WHERE rowid = (SELECT max(rowid) FROM {table})"
        ));
        let l = db.check();
        assert_eq!(counts(&l), (0, 1, 0, 0), "{table} of {kind:?}: {l:?}");
    }
}

/// The event row's kind, and the body of a task or comment, are the op's content.
#[test]
fn each_kinds_damaged_content_is_a_lost_write() {
    let damage = [
        (OpKind::CreateTask, "UPDATE tasks SET body = 'x'"),
        (OpKind::AddComment, "UPDATE task_comments SET body = 'x'"),
    ]
    .into_iter()
    .chain(HISTORY.iter().filter(|op| op.0.is_write()).map(|op| {
        (
            op.0,
            "UPDATE task_events SET kind = 'other' WHERE worker = 0 AND seq = SEQ",
        )
    }));
    for (kind, sql) in damage {
        let db = clean_history();
        db.exec(&sql.replace("SEQ", &seq_of(kind).to_string()));
        let l = db.check();
        assert_eq!(counts(&l), (1, 0, 0, 0), "{sql} ({kind:?}): {l:?}");
        assert!(l.examples[0].contains(kind.name()), "{l:?}");
    }
}

/// A reported rollback whose rows are present: every one of its rows is a phantom.
#[test]
fn each_kinds_rows_after_a_rollback_are_phantoms() {
    for op in HISTORY.iter().filter(|op| op.0.is_write()) {
        let kind = op.0;
        let mut db = clean_history();
        let seq = seq_of(kind);
        let r = db.records.iter_mut().find(|r| r.seq == seq).unwrap();
        r.outcome = Outcome::RolledBack;
        let rows = ROWS.iter().filter(|row| row.0 == kind).count() as u64;
        let l = db.check();
        assert_eq!(counts(&l), (0, rows, 0, 0), "{kind:?}: {l:?}");
    }
}

/// A reported rollback that left nothing (each kind in turn) is no anomaly: no count and
/// no example, since an example is what a failure would quote.
#[test]
fn each_kinds_rollback_that_left_nothing_is_no_example() {
    for op in HISTORY.iter().filter(|op| op.0.is_write()) {
        let kind = op.0;
        let mut db = clean_history();
        let seq = seq_of(kind);
        for (_, table, wcol, scol) in ROWS.iter().filter(|row| row.0 == kind) {
            db.exec(&format!(
                "DELETE FROM {table} WHERE {wcol} = 0 AND {scol} = {seq}"
            ));
        }
        let r = db.records.iter_mut().find(|r| r.seq == seq).unwrap();
        r.outcome = Outcome::RolledBack;
        let l = db.check();
        assert_eq!(counts(&l), (0, 0, 0, 0), "{kind:?}: {l:?}");
        assert!(
            l.examples.is_empty() && l.first.is_empty(),
            "{kind:?}: {l:?}"
        );
    }
}

/// An op that never reported is settled by probing every table it writes: one row left in
/// any of them says it committed (and the missing rest is then lost).
#[test]
fn an_unreported_op_is_found_committed_by_any_one_of_its_rows() {
    for (kind, table, _, _) in ROWS.into_iter().filter(|r| r.1 != "task_events") {
        let mut db = clean_history();
        let seq = seq_of(kind);
        db.records.retain(|r| r.seq != seq);
        db.exec(&format!(
            "DELETE FROM task_events WHERE worker = 0 AND seq = {seq}"
        ));
        let l = db.check();
        assert_eq!(
            (l.ambiguous, l.ambiguous_committed),
            (1, 1),
            "{table}: {l:?}"
        );
        assert_eq!(counts(&l), (1, 0, 0, 0), "{table}: {l:?}");
        assert!(
            l.ambiguous_ops[0].ends_with("never reported): committed"),
            "{l:?}"
        );
    }
    // Every row gone: absent, and nothing to count.
    let mut db = clean_history();
    db.records.retain(|r| r.seq != 0);
    db.exec("DELETE FROM task_events WHERE seq = 0; DELETE FROM tasks WHERE created_seq = 0");
    let l = db.check();
    assert_eq!((l.ambiguous, l.ambiguous_committed), (1, 0), "{l:?}");
    assert!(l.clean(), "{l:?}");
}

/// Rows carrying the identity of a planned op that is not a write (a checkpoint) are
/// phantoms.
#[test]
fn rows_of_a_checkpoint_are_phantoms() {
    let db = clean_history();
    let seq = seq_of(OpKind::Checkpoint);
    db.exec(&format!(
        "INSERT INTO task_events (task_id, kind, payload, created_at, worker, seq)
         VALUES (NULL, 'gc', '{{}}', 0, 0, {seq})"
    ));
    let l = db.check();
    assert_eq!(counts(&l), (0, 1, 0, 0), "{l:?}");
}

/// Commit order is per actor, not per worker: two actors of one worker may commit in either
/// order; one actor may not.
#[test]
fn commit_order_is_judged_per_actor() {
    let two = [(OpKind::CreateTask, 0, 0), (OpKind::CreateTask, 1, 0)];
    let l = run_in(&two, &[1, 0]).check();
    assert_eq!(counts(&l), (0, 0, 0, 0), "{l:?}");
    let one = [(OpKind::CreateTask, 0, 0), (OpKind::CreateTask, 0, 0)];
    let l = run_in(&one, &[1, 0]).check();
    assert_eq!(counts(&l), (0, 0, 0, 1), "{l:?}");
    assert_eq!(
        l.first[&FailureCategory::OrderViolations],
        "order: worker 0 seq 1 committed as event 1, before seq 0 (event 2)"
    );
}

/// A committed gc removes the heartbeat events older than its cutoff: their absence is
/// `gc_removed`, their presence a lost delete. One at the cutoff, or written after the gc,
/// must stay.
#[test]
fn heartbeats_a_committed_gc_removed_are_judged_by_its_cutoff() {
    let gc_at = GC_AGE_MS + 5; // cutoff 5
    let with_heartbeat_at = |at: i64| {
        [
            (OpKind::CreateTask, 0, 0),
            (OpKind::ClaimTask, 0, 0),
            (OpKind::Heartbeat, 0, at),
            // Another actor, so that running it before the heartbeat keeps each actor's order.
            (OpKind::GcEvents, 1, gc_at),
        ]
    };
    // Older than the cutoff: removed, as it should be.
    let db = run(&with_heartbeat_at(4));
    let l = db.check();
    assert!(l.clean(), "{l:?}");
    assert_eq!(l.gc_removed, 1);
    // ... and put back: a lost delete.
    db.exec(
        "INSERT INTO task_events (task_id, kind, payload, created_at, worker, seq)
         VALUES ('t-000-000000', 'heartbeat', '{}', 4, 0, 2)",
    );
    let l = db.check();
    assert_eq!(counts(&l), (1, 0, 0, 0), "{l:?}");
    assert!(l.examples[0].starts_with("lost delete"), "{l:?}");
    // At the cutoff: kept (SQL `created_at < cutoff`), and the ledger must expect it.
    let l = run(&with_heartbeat_at(5)).check();
    assert!(l.clean(), "{l:?}");
    assert_eq!(l.gc_removed, 0);
    // Written after the gc: kept, however old its timestamp.
    let ops = with_heartbeat_at(0);
    let l = run_in(&ops, &[0, 1, 3, 2]).check();
    assert!(l.clean(), "{l:?}");
    assert_eq!(l.gc_removed, 0);
}

/// A heartbeat reported with the event id of the gc that followed it claims an id that is
/// not its own: its missing row is a lost write, not a removal by that gc (mutant `g >= eid`
/// in `removed_by_gc` counted it as removed).
#[test]
fn a_heartbeat_reported_with_the_gcs_event_id_is_not_removed_by_it() {
    let ops = [
        (OpKind::CreateTask, 0, 0),
        (OpKind::ClaimTask, 0, 0),
        (OpKind::Heartbeat, 0, 4),
        (OpKind::GcEvents, 1, GC_AGE_MS + 5),
    ];
    let mut db = run(&ops);
    let gc_eid = db.records[3].event_id;
    db.records[2].event_id = gc_eid;
    let l = db.check();
    assert_eq!((l.lost, l.gc_removed), (1, 0), "{l:?}");
}

/// At most 100 ambiguous ops are listed; the count stays exact (mutant `< 100` to `<= 100`).
#[test]
fn ambiguous_ops_are_listed_up_to_a_hundred() {
    let ops = [(OpKind::CreateTask, 0, 0); 101];
    let l = run_in(&ops, &[]).check();
    assert_eq!((l.ambiguous, l.ambiguous_committed), (101, 0));
    assert_eq!(l.ambiguous_ops.len(), 100);
}
