//! The app-defined ledger (`[ledger]`): the app's own SQL lists the (worker, seq) of every
//! write present; walburst judges them against the acknowledged records. Without knowing
//! the app's columns there is no content or commit-order check; lost, phantom, duplicate
//! and ambiguous writes are counted exactly as the kanban ledger counts them.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Connection;

use super::failure::FailureCategory;
use super::ledger::{LedgerError, LedgerQuery, LedgerReport};
use crate::observe::{OpRecord, Outcome};
use crate::plan::{Plan, PlannedOp};
use crate::scenario::LedgerTable;

type Id = (u32, u32);

/// How often each identity is listed, and how many rows had no usable identity.
struct Listed {
    counts: BTreeMap<Id, u64>,
    unattributable: u64,
}

/// Runs `sql`, reading its first two columns loosely (a damaged database must still be
/// judged): rows that are not two non-negative integers are counted, not believed.
fn list(conn: &Connection, query: &LedgerQuery, sql: &str) -> Result<Listed, LedgerError> {
    use rusqlite::types::Value;
    let fail = |source| LedgerError::Query {
        query: query.clone(),
        source,
    };
    let mut st = conn.prepare(sql).map_err(fail)?;
    if st.column_count() < 2 {
        return Err(LedgerError::NotIdentities {
            query: query.clone(),
            columns: st.column_count(),
        });
    }
    let mut q = st.query([]).map_err(fail)?;
    let mut out = Listed {
        counts: BTreeMap::new(),
        unattributable: 0,
    };
    let int = |v: Value| match v {
        Value::Integer(i) => u32::try_from(i).ok(),
        _ => None,
    };
    while let Some(r) = q.next().map_err(fail)? {
        let w = int(r.get(0).map_err(fail)?);
        let s = int(r.get(1).map_err(fail)?);
        match w.zip(s) {
            Some(id) => *out.counts.entry(id).or_default() += 1,
            None => out.unattributable += 1,
        }
    }
    Ok(out)
}

/// The identities `sql` lists, each once (the durability oracle's view of what survived).
pub(super) fn identities(
    conn: &Connection,
    query: &LedgerQuery,
    sql: &str,
) -> Result<BTreeSet<Id>, LedgerError> {
    Ok(list(conn, query, sql)?.counts.into_keys().collect())
}

fn count(l: &Listed, id: &Id) -> u64 {
    l.counts.get(id).copied().unwrap_or(0)
}

/// Checks the database behind `conn` with the scenario's ledger queries.
pub fn check(
    conn: &Connection,
    table: &LedgerTable,
    plan: &Plan,
    records: &[OpRecord],
) -> Result<LedgerReport, LedgerError> {
    let present = list(conn, &LedgerQuery::Present, &table.present)?;
    let mut rep = LedgerReport::default();
    let planned: BTreeMap<Id, &PlannedOp> = plan
        .workers
        .iter()
        .flat_map(|wp| wp.ops.iter().map(move |op| ((wp.worker, op.seq), op)))
        .filter(|(_, op)| op.kind.is_write())
        .collect();
    let reported: BTreeMap<Id, &OpRecord> =
        records.iter().map(|r| ((r.worker, r.seq), r)).collect();
    let committed = settle(&planned, &reported, &present, &mut rep);
    count_present_strays(&planned, &present, &mut rep);
    for (i, rc) in table.rows.iter().enumerate() {
        let query = LedgerQuery::Rows {
            index: i,
            name: rc.name.clone(),
        };
        let listed = list(conn, &query, &rc.query)?;
        let of_kind =
            |op: &PlannedOp| rc.kinds.is_empty() || rc.kinds.iter().any(|k| k == op.kind.name());
        let expected: BTreeSet<Id> = committed
            .iter()
            .copied()
            .filter(|id| of_kind(planned[id]))
            .collect();
        judge_rows_query(&query, &listed, &expected, &mut rep);
    }
    Ok(rep)
}

/// What committed: acknowledged commits, plus ambiguous or unreported ops that
/// `ledger.present` lists. Acknowledged commits it does not list are lost; ops reported as
/// anything else that it lists are phantoms; any op listed more than once is duplicated.
fn settle(
    planned: &BTreeMap<Id, &PlannedOp>,
    reported: &BTreeMap<Id, &OpRecord>,
    present: &Listed,
    rep: &mut LedgerReport,
) -> BTreeSet<Id> {
    let mut committed: BTreeSet<Id> = BTreeSet::new();
    for (&id, op) in planned {
        let what = format!("worker {} seq {} ({})", id.0, id.1, op.kind.name());
        let n = count(present, &id);
        match reported.get(&id).map(|r| r.outcome) {
            Some(Outcome::Committed) => {
                committed.insert(id);
                if n == 0 {
                    rep.lost += 1;
                    rep.example(
                        FailureCategory::LostWrites,
                        format!(
                        "lost: {what} acknowledged committed but `ledger.present` does not list it"
                    ));
                }
            }
            Some(Outcome::Ambiguous) | None => {
                rep.ambiguous += 1;
                if rep.ambiguous_ops.len() < 100 {
                    rep.ambiguous_ops.push(format!(
                        "{what}, {}: {}",
                        if reported.contains_key(&id) {
                            "COMMIT failed"
                        } else {
                            "never reported"
                        },
                        if n > 0 { "committed" } else { "absent" }
                    ));
                }
                if n > 0 {
                    rep.ambiguous_committed += 1;
                    committed.insert(id);
                }
            }
            Some(other) => {
                if n > 0 {
                    rep.phantom += n;
                    rep.example(
                        FailureCategory::PhantomWrites,
                        format!(
                        "phantom: {what} reported {other:?} but `ledger.present` lists it {n} time(s)"
                    ));
                }
                continue;
            }
        }
        if n > 1 {
            rep.duplicate += n - 1;
            rep.example(
                FailureCategory::DuplicateWrites,
                format!("duplicate: {what} is listed {n} times by `ledger.present`"),
            );
        }
    }
    committed
}

/// Identities `ledger.present` lists that no planned write op has, and rows it returned
/// without a readable identity: phantoms.
fn count_present_strays(
    planned: &BTreeMap<Id, &PlannedOp>,
    present: &Listed,
    rep: &mut LedgerReport,
) {
    for (id, &n) in &present.counts {
        if !planned.contains_key(id) {
            rep.phantom += n;
            rep.example(
                FailureCategory::PhantomWrites,
                format!(
                "phantom: `ledger.present` lists worker {} seq {}, which no planned write op has",
                id.0, id.1
            ));
        }
    }
    if present.unattributable > 0 {
        rep.phantom += present.unattributable;
        rep.example(
            FailureCategory::PhantomWrites,
            format!(
            "phantom: `ledger.present` returned {} row(s) whose (worker, seq) is not two integers",
            present.unattributable
        ));
    }
}

/// One `[[ledger.rows]]` query: every committed op of its kinds listed exactly once, and
/// nothing else.
fn judge_rows_query(
    query: &LedgerQuery,
    listed: &Listed,
    expected: &BTreeSet<Id>,
    rep: &mut LedgerReport,
) {
    let what_q = query.to_string();
    for id in expected {
        match count(listed, id) {
            1 => {}
            0 => {
                rep.lost += 1;
                rep.example(
                    FailureCategory::LostWrites,
                    format!(
                        "lost: worker {} seq {} committed but {what_q} does not list it",
                        id.0, id.1
                    ),
                );
            }
            n => {
                rep.duplicate += n - 1;
                rep.example(
                    FailureCategory::DuplicateWrites,
                    format!(
                        "duplicate: worker {} seq {} is listed {n} times by {what_q}",
                        id.0, id.1
                    ),
                );
            }
        }
    }
    for (id, &n) in &listed.counts {
        if !expected.contains(id) {
            rep.phantom += n;
            rep.example(
                FailureCategory::PhantomWrites,
                format!(
                "phantom: {what_q} lists worker {} seq {}, which is not a committed op of its kinds",
                id.0, id.1
            ));
        }
    }
    rep.phantom += listed.unattributable;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::ledger::no_plan;
    use crate::scenario::RowCheck;

    fn table(present: &str, rows: &str) -> LedgerTable {
        LedgerTable {
            present: present.into(),
            rows: vec![RowCheck {
                name: "jobs".into(),
                query: rows.into(),
                kinds: Vec::new(),
            }],
        }
    }

    #[test]
    fn a_failing_query_is_an_error_naming_that_query() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE jobs (worker, seq);")
            .unwrap();
        let t = table(
            "SELECT worker, seq FROM jobs",
            "SELECT worker, seq FROM gone",
        );
        match check(&conn, &t, &no_plan(), &[]) {
            Err(LedgerError::Query { query, .. }) => assert_eq!(
                query,
                LedgerQuery::Rows {
                    index: 0,
                    name: "jobs".into()
                }
            ),
            other => panic!("expected a query error, got {other:?}"),
        }
        let t = table("SELECT worker FROM jobs", "SELECT worker, seq FROM jobs");
        match check(&conn, &t, &no_plan(), &[]) {
            Err(LedgerError::NotIdentities { query, columns }) => {
                assert_eq!((query, columns), (LedgerQuery::Present, 1));
            }
            other => panic!("expected a shape error, got {other:?}"),
        }
    }

    use crate::plan::{OpKind, WorkerPlan};

    /// Worker 0: a task, a comment, a task, a checkpoint (no write).
    fn plan() -> Plan {
        let kinds = [
            OpKind::CreateTask,
            OpKind::AddComment,
            OpKind::CreateTask,
            OpKind::Checkpoint,
        ];
        Plan {
            workers: vec![WorkerPlan {
                worker: 0,
                ops: kinds
                    .into_iter()
                    .zip(0..)
                    .map(|(kind, seq)| PlannedOp::bare(seq, 0, kind))
                    .collect(),
            }],
            ..no_plan()
        }
    }

    fn record(seq: u32, outcome: Outcome) -> OpRecord {
        let mut r: OpRecord = serde_json::from_value(serde_json::json!({
            "worker": 0, "actor": 0, "seq": seq, "kind": "create_task",
            "outcome": "committed", "t_start_ns": 0, "t_end_ns": 0,
        }))
        .unwrap();
        r.outcome = outcome;
        r
    }

    /// `jobs` lists every write, `audit` (the `[[ledger.rows]]` query, of `create_task`
    /// only) the two tasks, `notes` (a rows query of every kind) all three writes.
    fn db() -> (Connection, LedgerTable, Vec<OpRecord>) {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE jobs (worker, seq); CREATE TABLE audit (w, s); CREATE TABLE notes (w, s);
             INSERT INTO jobs VALUES (0, 0), (0, 1), (0, 2);
             INSERT INTO audit VALUES (0, 0), (0, 2);
             INSERT INTO notes VALUES (0, 0), (0, 1), (0, 2);",
        )
        .unwrap();
        let mut t = table("SELECT worker, seq FROM jobs", "SELECT w, s FROM audit");
        t.rows[0].name = "audit".into();
        t.rows[0].kinds = vec!["create_task".into()];
        t.rows.push(RowCheck {
            name: "notes".into(),
            query: "SELECT w, s FROM notes".into(),
            kinds: Vec::new(),
        });
        let recs = (0..3).map(|s| record(s, Outcome::Committed)).collect();
        (conn, t, recs)
    }

    /// (lost, phantom, duplicate).
    fn counts(conn: &Connection, t: &LedgerTable, recs: &[OpRecord]) -> (u64, u64, u64) {
        let l = check(conn, t, &plan(), recs).unwrap();
        (l.lost, l.phantom, l.duplicate)
    }

    /// Issue 27: a `[[ledger.rows]]` query that returns strays: an op not of its kinds, an
    /// identity no planned op has, a checkpoint's, one that is not two integers. Each is
    /// a phantom of that query alone.
    #[test]
    fn a_rows_query_returning_strays_counts_phantoms() {
        for stray in ["(0, 1)", "(5, 0)", "(0, 3)", "('x', NULL)", "(0, -1)"] {
            let (conn, t, recs) = db();
            let clean = check(&conn, &t, &plan(), &recs).unwrap();
            // Clean means no example either (mutants `n >= 0`, `n >= 1` reported anomalies
            // of count zero).
            assert!(clean.clean() && clean.examples.is_empty(), "{clean:?}");
            assert!(clean.first.is_empty() && clean.ambiguous_ops.is_empty());
            conn.execute_batch(&format!("INSERT INTO audit VALUES {stray}"))
                .unwrap();
            assert_eq!(counts(&conn, &t, &recs), (0, 1, 0), "audit lists {stray}");
        }
        // An op that rolled back, listed by the rows query only.
        let (conn, t, mut recs) = db();
        conn.execute_batch("DELETE FROM jobs WHERE seq = 2; DELETE FROM notes WHERE s = 2")
            .unwrap();
        recs[2].outcome = Outcome::RolledBack;
        let l = check(&conn, &t, &plan(), &recs).unwrap();
        assert_eq!((l.lost, l.phantom, l.duplicate), (0, 1, 0));
        assert_eq!(
            l.examples,
            [
                "phantom: `ledger.rows[0]` (audit) lists worker 0 seq 2, which is not a committed op of its kinds"
            ]
        );
    }

    /// Each rows query is judged on its own: one missing there is lost, one listed twice a
    /// duplicate, in the query of every kind as in the one of `create_task` only.
    #[test]
    fn each_rows_query_counts_its_own_lost_and_duplicate_rows() {
        for (sql, expected) in [
            ("DELETE FROM audit WHERE s = 2", (1, 0, 0)),
            ("DELETE FROM notes WHERE s = 1", (1, 0, 0)),
            ("INSERT INTO audit VALUES (0, 0)", (0, 0, 1)),
            ("INSERT INTO notes VALUES (0, 1), (0, 1)", (0, 0, 2)),
            ("INSERT INTO jobs VALUES (0, 3)", (0, 1, 0)),
            ("INSERT INTO jobs VALUES (0, 1)", (0, 0, 1)),
        ] {
            let (conn, t, recs) = db();
            conn.execute_batch(sql).unwrap();
            assert_eq!(counts(&conn, &t, &recs), expected, "{sql}");
        }
    }

    /// An unreported op found by `ledger.present` committed: the rows queries must list it;
    /// one found absent: they must not.
    #[test]
    fn the_rows_queries_follow_what_the_probe_settled() {
        let (conn, t, mut recs) = db();
        recs.truncate(2); // (0, 2) never reported, and listed everywhere: committed
        let l = check(&conn, &t, &plan(), &recs).unwrap();
        assert_eq!((l.lost, l.phantom, l.duplicate), (0, 0, 0), "{l:?}");
        assert_eq!((l.ambiguous, l.ambiguous_committed), (1, 1));
        assert_eq!(
            l.ambiguous_ops,
            ["worker 0 seq 2 (create_task), never reported: committed"]
        );
        conn.execute_batch("DELETE FROM audit WHERE s = 2").unwrap();
        assert_eq!(counts(&conn, &t, &recs), (1, 0, 0));
        // Absent from `ledger.present`: not committed, so any row of it is a phantom.
        let (conn, t, mut recs) = db();
        recs.truncate(2);
        conn.execute_batch("DELETE FROM jobs WHERE seq = 2")
            .unwrap();
        let l = check(&conn, &t, &plan(), &recs).unwrap();
        assert_eq!((l.lost, l.phantom, l.duplicate), (0, 2, 0), "{l:?}");
        assert_eq!((l.ambiguous, l.ambiguous_committed), (1, 0));
        assert_eq!(
            l.ambiguous_ops,
            ["worker 0 seq 2 (create_task), never reported: absent"]
        );
        // Reported ambiguous and listed: committed too.
        let (conn, t, mut recs) = db();
        recs[1].outcome = Outcome::Ambiguous;
        let l = check(&conn, &t, &plan(), &recs).unwrap();
        assert!(l.clean(), "{l:?}");
        assert_eq!((l.ambiguous, l.ambiguous_committed), (1, 1));
        assert_eq!(
            l.ambiguous_ops,
            ["worker 0 seq 1 (add_comment), COMMIT failed: committed"]
        );
    }

    /// At most 100 ambiguous ops are listed; the count stays exact (mutant `< 100` to
    /// `<= 100`).
    #[test]
    fn ambiguous_ops_are_listed_up_to_a_hundred() {
        let mut p = plan();
        p.workers[0].ops = (0..101)
            .map(|seq| PlannedOp::bare(seq, 0, OpKind::CreateTask))
            .collect();
        let (conn, t, _) = db();
        conn.execute_batch("DELETE FROM jobs; DELETE FROM audit; DELETE FROM notes")
            .unwrap();
        let l = check(&conn, &t, &p, &[]).unwrap();
        assert_eq!((l.ambiguous, l.ambiguous_committed), (101, 0));
        assert_eq!(l.ambiguous_ops.len(), 100);
    }
}
