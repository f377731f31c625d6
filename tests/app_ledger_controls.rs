//! Negative controls for the app-defined ledger (`[ledger]`), on a real SQLite database with
//! an app schema of its own: each anomaly is made by hand and must be counted exactly.

use rusqlite::Connection;
use walburst::check::app_ledger;
use walburst::error::Chain;
use walburst::observe::{OpRecord, Outcome};
use walburst::plan::{self, Plan};
use walburst::scenario::{LedgerTable, ScenarioSource, parse_str};

const LEDGER: &str = r#"
[ledger]
present = "SELECT worker, seq FROM jobs"
[[ledger.rows]]
name = "audit"
query = "SELECT w, s FROM audit"
kinds = ["create_task"]
"#;

fn setup() -> (tempfile::TempDir, Connection, Plan, LedgerTable) {
    let scenario = parse_str(
        &format!(
            "name = \"a\"\n[workload]\nworkers = 2\nops_per_worker = 3\n[worker]\ncommand = [\"sh\"]\n{LEDGER}"
        ),
        &ScenarioSource::Embedded("a".into()),
    )
    .unwrap();
    let plan = plan::build(&scenario, 1);
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("app.db")).unwrap();
    conn.execute_batch(
        "CREATE TABLE jobs (worker, seq); CREATE TABLE audit (w INTEGER, s INTEGER);",
    )
    .unwrap();
    (dir, conn, plan, scenario.ledger.unwrap())
}

fn write(conn: &Connection, w: u32, s: u32) {
    conn.execute("INSERT INTO jobs VALUES (?1, ?2)", [w, s])
        .unwrap();
    conn.execute("INSERT INTO audit VALUES (?1, ?2)", [w, s])
        .unwrap();
}

fn record(worker: u32, seq: u32, outcome: Outcome) -> OpRecord {
    let mut r: OpRecord = serde_json::from_value(serde_json::json!({
        "worker": worker, "actor": 0, "seq": seq, "kind": "create_task",
        "outcome": "committed", "t_start_ns": 0, "t_end_ns": 0,
    }))
    .unwrap();
    r.outcome = outcome;
    r
}

/// Every op of both workers committed and written once.
fn all_committed(conn: &Connection) -> Vec<OpRecord> {
    let mut recs = Vec::new();
    for w in 0..2 {
        for s in 0..3 {
            write(conn, w, s);
            recs.push(record(w, s, Outcome::Committed));
        }
    }
    recs
}

#[test]
fn a_clean_history_is_clean() {
    let (_d, conn, plan, table) = setup();
    let recs = all_committed(&conn);
    let rep = app_ledger::check(&conn, &table, &plan, &recs).unwrap();
    assert!(rep.clean(), "{rep:?}");
    assert_eq!(rep.ambiguous, 0);
}

#[test]
fn an_acknowledged_commit_that_is_absent_is_lost_in_both_queries() {
    let (_d, conn, plan, table) = setup();
    let recs = all_committed(&conn);
    conn.execute_batch(
        "DELETE FROM jobs WHERE worker = 1 AND seq = 2; DELETE FROM audit WHERE w = 0 AND s = 0;",
    )
    .unwrap();
    let rep = app_ledger::check(&conn, &table, &plan, &recs).unwrap();
    assert_eq!((rep.lost, rep.phantom, rep.duplicate), (2, 0, 0), "{rep:?}");
}

#[test]
fn rolled_back_but_present_strays_and_garbage_are_phantoms() {
    let (_d, conn, plan, table) = setup();
    let mut recs = all_committed(&conn);
    recs[1].outcome = Outcome::RolledBack; // (0, 1) present although rolled back
    conn.execute_batch("INSERT INTO jobs VALUES (7, 0); INSERT INTO jobs VALUES ('x', NULL);")
        .unwrap();
    let rep = app_ledger::check(&conn, &table, &plan, &recs).unwrap();
    // jobs: (0,1) rolled back, (7,0) no such op, ('x', NULL) no identity; audit: (0,1).
    assert_eq!((rep.lost, rep.phantom, rep.duplicate), (0, 4, 0), "{rep:?}");
}

#[test]
fn identities_listed_twice_are_duplicates() {
    let (_d, conn, plan, table) = setup();
    let recs = all_committed(&conn);
    write(&conn, 1, 1);
    let rep = app_ledger::check(&conn, &table, &plan, &recs).unwrap();
    assert_eq!((rep.lost, rep.phantom, rep.duplicate), (0, 0, 2), "{rep:?}");
}

#[test]
fn unreported_ops_are_ambiguous_and_settled_by_presence() {
    let (_d, conn, plan, table) = setup();
    let mut recs = all_committed(&conn);
    conn.execute_batch(
        "DELETE FROM jobs WHERE worker = 1 AND seq = 2; DELETE FROM audit WHERE w = 1 AND s = 2;",
    )
    .unwrap();
    recs.retain(|r| (r.worker, r.seq) != (1, 2) && (r.worker, r.seq) != (0, 2));
    recs[0].outcome = Outcome::Ambiguous; // (0, 0): present
    let rep = app_ledger::check(&conn, &table, &plan, &recs).unwrap();
    assert!(rep.clean(), "{rep:?}");
    assert_eq!((rep.ambiguous, rep.ambiguous_committed), (3, 2), "{rep:?}");
}

#[test]
fn a_failing_query_is_an_error_never_a_pass() {
    let (_d, conn, plan, mut table) = setup();
    table.present = "SELECT worker, seq FROM no_such_table".into();
    let err = app_ledger::check(&conn, &table, &plan, &[]).unwrap_err();
    let err = Chain(&err).to_string();
    assert!(
        err.contains("`ledger.present`") && err.contains("no_such_table"),
        "{err}"
    );
    table.present = "SELECT worker FROM jobs".into();
    let err = app_ledger::check(&conn, &table, &plan, &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("must return (worker, seq)"), "{err}");
}
