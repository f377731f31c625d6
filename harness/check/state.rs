//! The state oracle (kanban workload, built-in worker): the committed ops replayed in commit
//! order through the workload's own SQL on a fresh in-memory database must give exactly the
//! database the run left, every row of every table. The insert ledger sees rows that are
//! missing, extra or doubled; this sees a lost UPDATE on an unindexed column, a claim
//! applied to the wrong task, a heartbeat that never landed.
//!
//! Commit order is the order of the `task_events` ids the ops inserted (every kanban write
//! inserts one, AUTOINCREMENT, inside its transaction). It judges only a run the ledger
//! found clean (no lost, phantom, duplicate or reordered write) on a healthy database: there
//! it adds what the ledger cannot see, and it never repeats the ledger's failures.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use crate::observe::{OpRecord, Outcome};
use crate::plan::{OpKind, Plan};
use crate::protocol::WorkerOp;
use crate::scenario::ClaimStyle;
use crate::workload::Unstepped;
use crate::workload::kanban::{self, Applied};

/// What the state oracle found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StateReport {
    /// Committed ops replayed.
    pub replayed: u64,
    /// The replay's final state equals the run's.
    pub matches: bool,
    /// Where they first differ (the table, and the op that diverged if the replay did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difference: Option<String>,
}

/// Why the replay could not be built (an error while checking: never a pass).
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state oracle: {doing}")]
    Sql {
        doing: String,
        #[source]
        source: rusqlite::Error,
    },
}

fn sql(doing: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> StateError {
    let doing = doing.into();
    move |source| StateError::Sql { doing, source }
}

/// Replays the run's committed ops and compares the final state with `db`'s. A claim of
/// `claim = "read-then-write"` took the task its stale read found, which commit order alone
/// does not tell: it is replayed as a claim of the task its record names.
pub fn check(
    db: &Connection,
    plan: &Plan,
    records: &[OpRecord],
    claim: ClaimStyle,
) -> Result<StateReport, StateError> {
    let order = commit_order(db, plan, records)?;
    let mem = Connection::open_in_memory().map_err(sql("opening the replay database"))?;
    kanban::create_schema(&mem).map_err(sql("creating the replay schema"))?;
    let mut rep = StateReport::default();
    for (event_id, (worker, op, task)) in &order {
        let gate = Unstepped;
        let doing = format!("replaying worker {worker} seq {}", op.seq);
        mem.execute_batch("BEGIN IMMEDIATE").map_err(sql(&doing))?;
        let applied = match task {
            Some(id) if claim == ClaimStyle::ReadThenWrite && op.kind == OpKind::ClaimTask => {
                claim_of(&mem, *worker, op, id)
            }
            _ => kanban::apply(&mem, &gate, *worker, op),
        }
        .map_err(sql(&doing))?;
        mem.execute_batch("COMMIT").map_err(sql(&doing))?;
        rep.replayed += 1;
        let diverged = match applied {
            Applied::Wrote { event_id: got, .. } if got == *event_id => None,
            Applied::Wrote { event_id: got, .. } => Some(format!("it inserted event {got}")),
            Applied::Nothing(why) => Some(format!("it found nothing to do ({why})")),
        };
        if let Some(how) = diverged {
            rep.difference = Some(format!(
                "replaying worker {worker} seq {} ({}), committed as event {event_id}: {how}",
                op.seq,
                op.kind.name()
            ));
            return Ok(rep);
        }
    }
    let tables = ["task_comments", "task_events", "task_runs", "tasks"];
    for t in tables {
        let (a, b) = (table_rows(db, t)?, table_rows(&mem, t)?);
        if a != b {
            let (sa, sb): (BTreeSet<&String>, BTreeSet<&String>) =
                (a.iter().collect(), b.iter().collect());
            let (only_run, only_replay) = (sa.difference(&sb).count(), sb.difference(&sa).count());
            let first = sa
                .difference(&sb)
                .next()
                .map(|r| format!("run has {r}"))
                .or_else(|| sb.difference(&sa).next().map(|r| format!("replay has {r}")))
                .unwrap_or_else(|| "the same rows in another order".into());
            rep.difference = Some(format!(
                "table {t}: {only_run} row(s) only in the run's database, {only_replay} only in the replay of its {} committed ops; first: {first}",
                rep.replayed
            ));
            return Ok(rep);
        }
    }
    rep.matches = true;
    Ok(rep)
}

/// A committed op: its worker, the op, and the task its record says it touched.
type Committed = (u32, WorkerOp, Option<String>);

/// A read-then-write claim of `id`, as the run's worker made it.
fn claim_of(mem: &Connection, worker: u32, op: &WorkerOp, id: &str) -> rusqlite::Result<Applied> {
    match kanban::claim_by_id(mem, &Unstepped, worker, op, id)? {
        (0, _) => Ok(Applied::Nothing("the task read is gone")),
        _ => kanban::record_claim(mem, &Unstepped, worker, op, id.to_string()),
    }
}

/// Every committed write op, by the event id it inserted: the acknowledged ones by their
/// records, the ambiguous or unreported ones by the event row they left (absent: not
/// committed).
fn commit_order(
    db: &Connection,
    plan: &Plan,
    records: &[OpRecord],
) -> Result<BTreeMap<i64, Committed>, StateError> {
    let mut events: BTreeMap<(u32, u32), i64> = BTreeMap::new();
    let mut st = db
        .prepare("SELECT worker, seq, id FROM task_events")
        .map_err(sql("reading task_events"))?;
    let rows = st
        .query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))
        .map_err(sql("reading task_events"))?;
    for row in rows {
        let (k, v) = row.map_err(sql("reading task_events"))?;
        events.insert(k, v);
    }
    let reported: BTreeMap<(u32, u32), &OpRecord> =
        records.iter().map(|r| ((r.worker, r.seq), r)).collect();
    let mut order = BTreeMap::new();
    for wp in &plan.workers {
        for op in wp.ops.iter().filter(|op| op.kind.is_write()) {
            let id = (wp.worker, op.seq);
            let task = reported.get(&id).and_then(|r| r.task_id.clone());
            let event = match reported.get(&id).map(|r| (r.outcome, r.event_id)) {
                Some((Outcome::Committed, Some(e))) => Some(e),
                Some((Outcome::Committed, None)) | Some((Outcome::Ambiguous, _)) | None => {
                    events.get(&id).copied()
                }
                Some(_) => None,
            };
            if let Some(e) = event {
                order.insert(
                    e,
                    (
                        wp.worker,
                        WorkerOp::from_plan(plan.seed, wp.worker, op),
                        task,
                    ),
                );
            }
        }
    }
    Ok(order)
}

/// A table's rows as text, in primary-key order.
fn table_rows(conn: &Connection, table: &str) -> Result<Vec<String>, StateError> {
    let doing = format!("reading {table}");
    let mut st = conn
        .prepare(&format!("SELECT * FROM {table} ORDER BY rowid"))
        .map_err(sql(&doing))?;
    let n = st.column_count();
    let rows = st
        .query_map(params![], |r| {
            let mut cells = Vec::with_capacity(n);
            for i in 0..n {
                let v: rusqlite::types::Value = r.get(i)?;
                cells.push(format!("{v:?}"));
            }
            Ok(cells.join("|"))
        })
        .map_err(sql(&doing))?;
    rows.collect::<Result<Vec<_>, _>>().map_err(sql(&doing))
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
