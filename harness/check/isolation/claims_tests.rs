//! The claims' history read from a real SQLite database (the kanban schema's `task_runs`),
//! an ambiguous claim, and the read after the run (mutation-testing controls, MUTANTS.md:
//! before these, only the end-to-end claim tests, `tests/claims_isolation.rs`, reached
//! `final_claims` and `check`).

use rusqlite::Connection;

use super::*;
use crate::check::isolation::EdgeKind;
use crate::observe::OpRecord;
use crate::plan::{PlannedOp, WorkerPlan};

/// A claim record as a worker reports it.
fn claim(worker: u32, seq: u32, task: &str, outcome: &str, t: (u64, u64)) -> OpRecord {
    serde_json::from_value(serde_json::json!({
        "worker": worker, "actor": 0, "seq": seq, "kind": "claim_task", "outcome": outcome,
        "task_id": task, "t_start_ns": t.0, "t_end_ns": t.1,
    }))
    .unwrap()
}

/// A real database file with the kanban schema, and `task_runs` rows (id, task, worker, seq).
fn db(runs: &[(i64, &str, u32, u32)]) -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("claims.db")).unwrap();
    crate::workload::kanban::create_schema(&conn).unwrap();
    for (id, task, worker, seq) in runs {
        conn.execute(
            "INSERT INTO task_runs (id, task_id, claimed_by, started_at, worker, seq)
             VALUES (?1, ?2, ?3, 0, ?4, ?5)",
            rusqlite::params![id, task, format!("w{worker:03}"), worker, seq],
        )
        .unwrap();
    }
    (dir, conn)
}

/// A plan of one worker per kind list: worker `w` runs `kinds[w]`, seqs from 1.
fn plan(kinds: &[&[OpKind]]) -> Plan {
    let workers = kinds
        .iter()
        .zip(0u32..)
        .map(|(ops, worker)| WorkerPlan {
            worker,
            ops: ops
                .iter()
                .zip(1u32..)
                .map(|(kind, seq)| PlannedOp::bare(seq, 0, *kind))
                .collect(),
        })
        .collect();
    Plan {
        format: "test".into(),
        scenario: "claims".into(),
        seed: 1,
        schedule_hash: String::new(),
        workers,
    }
}

/// `final_claims` is every `task_runs` row, in `id` order (the commit order), not the order
/// the rows were written in.
#[test]
fn the_committed_claims_are_task_runs_rows_in_id_order() {
    let (_dir, conn) = db(&[(5, "t-b", 1, 2), (2, "t-a", 0, 1), (9, "t-a", 2, 3)]);
    assert_eq!(
        final_claims(&conn).unwrap(),
        [
            ("t-a".to_string(), 0, 1),
            ("t-b".to_string(), 1, 2),
            ("t-a".to_string(), 2, 3)
        ]
    );
}

/// `check` reads the committed claims from the database and judges them: a task claimed
/// twice is the G-single cycle and the lost update (a history that forgot the committed
/// claims would have no version order, so no cycle); one claim per task is clean; a plan
/// without claims has no claims' history at all.
#[test]
fn check_judges_the_claims_committed_in_the_database() {
    let records = [
        claim(0, 1, "t-a", "committed", (10, 30)),
        claim(1, 1, "t-a", "committed", (12, 40)),
    ];
    let claims = plan(&[&[OpKind::ClaimTask], &[OpKind::ClaimTask]]);
    let (_dir, conn) = db(&[(1, "t-a", 0, 1), (2, "t-a", 1, 1)]);
    let rep = check(&conn, &claims, &records, ClaimReads::Inferred).expect("a claims' history");
    assert_eq!(
        rep.classes.keys().collect::<Vec<_>>(),
        ["G-single", "lost-update"],
        "{rep:#?}"
    );
    assert_eq!(rep.transactions.as_deref(), Some("claim"));
    assert_eq!(
        (rep.txns, rep.keys),
        (3, 1),
        "two claims and the read after"
    );
    assert_eq!(rep.key_names["0"], "task t-a");

    let one_each = [
        claim(0, 1, "t-a", "committed", (10, 30)),
        claim(1, 1, "t-b", "committed", (12, 40)),
    ];
    let (_dir, conn) = db(&[(1, "t-a", 0, 1), (2, "t-b", 1, 1)]);
    let rep = check(&conn, &claims, &one_each, ClaimReads::Inferred).expect("a claims' history");
    assert!(!rep.failed(), "{rep:#?}");
    assert_eq!((rep.txns, rep.keys), (3, 2));

    let no_claims = plan(&[&[OpKind::CreateTask]]);
    assert_eq!(check(&conn, &no_claims, &[], ClaimReads::Inferred), None);
}

/// A database whose `task_runs` cannot be read fails the claims' history with an error
/// that says so, as a claims' report (never a pass, never a list-append report).
#[test]
fn an_unreadable_task_runs_is_an_error_of_the_claims_history() {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("empty.db")).unwrap();
    let records = [claim(0, 1, "t-a", "committed", (10, 30))];
    let rep = check(
        &conn,
        &plan(&[&[OpKind::ClaimTask]]),
        &records,
        ClaimReads::Inferred,
    )
    .expect("a claims' history");
    assert!(rep.failed());
    let error = rep.error.as_deref().unwrap_or_default();
    assert!(
        error.starts_with("cannot read task_runs after the run: no such table: task_runs"),
        "{error}"
    );
    assert_eq!(rep.transactions.as_deref(), Some("claim"));
    assert_eq!(rep.txns, 0, "nothing judged");
}

/// A claim whose COMMIT's outcome is unknown may have committed: it is an `info`
/// transaction, whether its row is in `task_runs` (it did) or not (it did not), never a
/// failed one (a failed claim whose row is there would be an aborted read, and the row's
/// claim would be counted twice).
#[test]
fn an_ambiguous_claim_may_have_committed() {
    let records = [
        claim(0, 1, "t-a", "ambiguous", (10, 20)),
        claim(1, 1, "t-b", "ambiguous", (15, 25)),
    ];
    let after = [("t-a".to_string(), 0, 1)];
    let rep = judge(&records, &after, ClaimReads::Inferred);
    assert!(!rep.failed(), "{rep:#?}");
    assert_eq!(rep.txns, 3, "two claims and the read after: {rep:#?}");
    assert_eq!(
        rep.outcomes.iter().collect::<Vec<_>>(),
        [(&"info".to_string(), &2), (&"ok".to_string(), &1)]
    );
}

/// The read of `task_runs` starts after every claim ended, so every claim precedes it in
/// real time: two overlapping claims each get an rt edge to it.
#[test]
fn the_read_after_the_run_follows_every_claim_in_real_time() {
    let records = [
        claim(0, 1, "t-a", "committed", (10, 20)),
        claim(1, 1, "t-b", "committed", (15, 25)),
    ];
    let after = [("t-a".to_string(), 0, 1), ("t-b".to_string(), 1, 1)];
    let h = history(&records, &after, ClaimReads::Inferred).unwrap();
    let read = h.history.txns.last().unwrap();
    assert!(read.start_ns > 25, "starts at {}", read.start_ns);
    let rep = judge(&records, &after, ClaimReads::Inferred);
    assert!(!rep.failed(), "{rep:#?}");
    assert_eq!(rep.edges.get(&EdgeKind::Rt), Some(&2), "{:?}", rep.edges);
}
