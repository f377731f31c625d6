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
    let count = |l: &Listed, id: &Id| l.counts.get(id).copied().unwrap_or(0);

    // What committed: acknowledged commits, plus ambiguous/unreported ops found present.
    let mut committed: BTreeSet<Id> = BTreeSet::new();
    for (&id, op) in &planned {
        let what = format!("worker {} seq {} ({})", id.0, id.1, op.kind.name());
        let n = count(&present, &id);
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

    for (i, rc) in table.rows.iter().enumerate() {
        let query = LedgerQuery::Rows {
            index: i,
            name: rc.name.clone(),
        };
        let what_q = query.to_string();
        let listed = list(conn, &query, &rc.query)?;
        let of_kind =
            |op: &PlannedOp| rc.kinds.is_empty() || rc.kinds.iter().any(|k| k == op.kind.name());
        let expected: BTreeSet<Id> = committed
            .iter()
            .copied()
            .filter(|id| of_kind(planned[id]))
            .collect();
        for id in &expected {
            match count(&listed, id) {
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
    Ok(rep)
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
}
