//! The ledger: no lost, phantom or duplicated writes. Every row an op writes carries its
//! (worker, seq); the workers' records say which ops committed; the plan says what each op
//! wrote. Committed ops must be present exactly once with their content, others absent,
//! ambiguous ones are settled by probing, and each actor's commits keep their order.

use std::collections::BTreeMap;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::failure::FailureCategory;
use crate::observe::{OpRecord, Outcome};
use crate::plan::{OpKind, Plan, PlannedOp, payload};
use crate::workload::kanban::{event_kind, gc_cutoff};

const MAX_EXAMPLES: usize = 10;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LedgerReport {
    /// Committed ops whose rows are missing or wrong (content mismatches included).
    pub lost: u64,
    /// Rows whose op did not commit, or that no planned op wrote.
    pub phantom: u64,
    /// Committed ops whose rows are present more than once.
    pub duplicate: u64,
    /// Ops whose outcome nobody knew (ambiguous COMMIT, or never reported).
    pub ambiguous: u64,
    /// Of those, how many the probe found committed.
    pub ambiguous_committed: u64,
    /// Committed ops of one actor whose event ids do not increase with seq.
    pub order_violations: u64,
    /// Heartbeat events removed by a later committed gc, as they should be.
    pub gc_removed: u64,
    /// Every ambiguous op and what the probe found (at most 100 listed).
    pub ambiguous_ops: Vec<String>,
    pub examples: Vec<String>,
    /// The first example of each kind of anomaly, for the failure that names its counter.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub first: BTreeMap<FailureCategory, String>,
}

impl LedgerReport {
    pub fn clean(&self) -> bool {
        self.lost == 0 && self.phantom == 0 && self.duplicate == 0 && self.order_violations == 0
    }

    pub(super) fn example(&mut self, kind: FailureCategory, text: String) {
        self.first.entry(kind).or_insert_with(|| text.clone());
        if self.examples.len() < MAX_EXAMPLES {
            self.examples.push(text);
        }
    }
}

type Id = (u32, u32);

/// The rows of the database, keyed by the (worker, seq) they carry.
#[derive(Default)]
struct Rows {
    /// (event id, kind) per identity.
    events: BTreeMap<Id, Vec<(i64, String)>>,
    /// task bodies per creating identity.
    tasks: BTreeMap<Id, Vec<String>>,
    runs: BTreeMap<Id, u64>,
    /// comment bodies.
    comments: BTreeMap<Id, Vec<String>>,
    /// Rows whose identity columns hold no usable (worker, seq).
    unattributable: u64,
}

/// A row's (worker, seq), or `None` when a damaged database returns something else.
fn identity(w: Option<i64>, s: Option<i64>) -> Option<Id> {
    let w = u32::try_from(w?).ok()?;
    let s = u32::try_from(s?).ok()?;
    Some((w, s))
}

/// Why the ledger could not be checked: a damaged database, or a scenario's `[ledger]` query
/// that does not run. The ledger's counts are then unknown, and the verdict never reads that
/// as a pass (`Checks::ledger_error`).
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// Reading one of the kanban tables failed.
    #[error("ledger could not read the tables: reading `{table}`")]
    Table {
        table: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// One of the scenario's ledger queries failed to prepare or run.
    #[error("ledger query {query} failed")]
    Query {
        query: LedgerQuery,
        #[source]
        source: rusqlite::Error,
    },
    /// The read-only connection the scenario's `[ledger]` queries run on could not be
    /// opened (evidence is never run as code on a writable connection).
    #[error("ledger could not open the database read-only")]
    ReadOnly {
        #[source]
        source: rusqlite::Error,
    },
    /// A ledger query returns fewer than the two identity columns.
    #[error("ledger query {query} returns {columns} column(s); it must return (worker, seq)")]
    NotIdentities { query: LedgerQuery, columns: usize },
}

/// Which of the scenario's `[ledger]` queries, named as the scenario file names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerQuery {
    /// `ledger.present`.
    Present,
    /// `ledger.rows[index]`, called `name`.
    Rows { index: usize, name: String },
}

impl std::fmt::Display for LedgerQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LedgerQuery::Present => f.write_str("`ledger.present`"),
            LedgerQuery::Rows { index, name } => write!(f, "`ledger.rows[{index}]` ({name})"),
        }
    }
}

/// Runs `sql` over `table`, handing each row to `each`; any error names the table.
fn scan(
    conn: &Connection,
    table: &'static str,
    sql: &str,
    mut each: impl FnMut(&rusqlite::Row) -> rusqlite::Result<()>,
) -> Result<(), LedgerError> {
    let fail = |source| LedgerError::Table { table, source };
    let mut st = conn.prepare(sql).map_err(fail)?;
    let mut q = st.query([]).map_err(fail)?;
    while let Some(r) = q.next().map_err(fail)? {
        each(r).map_err(fail)?;
    }
    Ok(())
}

/// Reads every row's identity. Values are read loosely (NULLs, wrong types) because a
/// damaged database must still be judged; rows without a usable identity are counted.
fn read_rows(conn: &Connection) -> Result<Rows, LedgerError> {
    use rusqlite::types::Value;
    let text = |v: Value| match v {
        Value::Text(t) => t,
        other => format!("{other:?}"),
    };
    let int = |v: Value| match v {
        Value::Integer(i) => Some(i),
        _ => None,
    };
    let mut rows = Rows::default();
    let id = |r: &rusqlite::Row| -> rusqlite::Result<Option<Id>> {
        Ok(identity(int(r.get(0)?), int(r.get(1)?)))
    };
    scan(
        conn,
        "task_events",
        "SELECT worker, seq, id, kind FROM task_events",
        |r| {
            match id(r)? {
                Some(id) => rows
                    .events
                    .entry(id)
                    .or_default()
                    .push((int(r.get(2)?).unwrap_or(-1), text(r.get(3)?))),
                None => rows.unattributable += 1,
            }
            Ok(())
        },
    )?;
    scan(
        conn,
        "tasks",
        "SELECT created_worker, created_seq, body FROM tasks",
        |r| {
            match id(r)? {
                Some(id) => rows.tasks.entry(id).or_default().push(text(r.get(2)?)),
                None => rows.unattributable += 1,
            }
            Ok(())
        },
    )?;
    scan(
        conn,
        "task_runs",
        "SELECT worker, seq FROM task_runs",
        |r| {
            match id(r)? {
                Some(id) => *rows.runs.entry(id).or_default() += 1,
                None => rows.unattributable += 1,
            }
            Ok(())
        },
    )?;
    scan(
        conn,
        "task_comments",
        "SELECT worker, seq, body FROM task_comments",
        |r| {
            match id(r)? {
                Some(id) => rows.comments.entry(id).or_default().push(text(r.get(2)?)),
                None => rows.unattributable += 1,
            }
            Ok(())
        },
    )?;
    Ok(rows)
}

impl Rows {
    fn count_for(&self, id: Id) -> usize {
        self.events.get(&id).map_or(0, Vec::len)
            + self.tasks.get(&id).map_or(0, Vec::len)
            + self.runs.get(&id).map_or(0, |&n| n as usize)
            + self.comments.get(&id).map_or(0, Vec::len)
    }
}

/// What committed, by (worker, seq): the planned op and the event id it committed as.
type Committed<'p> = BTreeMap<Id, (&'p PlannedOp, Option<i64>)>;

/// Checks the database behind `conn` against the records and the plan.
pub fn check(
    conn: &Connection,
    plan: &Plan,
    records: &[OpRecord],
) -> Result<LedgerReport, LedgerError> {
    let rows = read_rows(conn)?;
    let mut rep = LedgerReport::default();
    let planned: BTreeMap<Id, &PlannedOp> = plan
        .workers
        .iter()
        .flat_map(|wp| wp.ops.iter().map(move |op| ((wp.worker, op.seq), op)))
        .collect();
    let reported: BTreeMap<Id, &OpRecord> =
        records.iter().map(|r| ((r.worker, r.seq), r)).collect();
    let committed = settle(&planned, &reported, &rows, &mut rep);
    judge_committed(plan, &rows, &committed, &mut rep);
    count_strays(&planned, &rows, &mut rep);
    check_order(&committed, &mut rep);
    Ok(rep)
}

/// Settles what committed: reported commits, plus ambiguous or unreported ops whose rows the
/// database holds. An op reported as anything else that left rows wrote phantoms.
fn settle<'p>(
    planned: &BTreeMap<Id, &'p PlannedOp>,
    reported: &BTreeMap<Id, &OpRecord>,
    rows: &Rows,
    rep: &mut LedgerReport,
) -> Committed<'p> {
    let mut committed: Committed = BTreeMap::new();
    for (&id, &op) in planned {
        if !op.kind.is_write() {
            continue;
        }
        match reported.get(&id).map(|r| r.outcome) {
            Some(Outcome::Committed) => {
                committed.insert(id, (op, reported[&id].event_id));
            }
            Some(Outcome::Ambiguous) | None => {
                rep.ambiguous += 1;
                let found = rows.count_for(id) > 0;
                if rep.ambiguous_ops.len() < 100 {
                    rep.ambiguous_ops.push(format!(
                        "worker {} seq {} ({}, {}): {}",
                        id.0,
                        id.1,
                        op.kind.name(),
                        if reported.contains_key(&id) {
                            "COMMIT failed"
                        } else {
                            "never reported"
                        },
                        if found { "committed" } else { "absent" }
                    ));
                }
                if found {
                    rep.ambiguous_committed += 1;
                    let eid = rows.events.get(&id).and_then(|v| v.first()).map(|e| e.0);
                    committed.insert(id, (op, eid));
                }
            }
            Some(_) => {
                let n = rows.count_for(id);
                if n > 0 {
                    rep.phantom += n as u64;
                    let r = reported[&id];
                    rep.example(
                        FailureCategory::PhantomWrites,
                        format!(
                            "phantom: worker {} seq {} ({}) reported {} but left {n} row(s)",
                            id.0,
                            id.1,
                            op.kind.name(),
                            r.outcome.name()
                        ),
                    );
                }
            }
        }
    }
    committed
}

/// Every committed op left exactly its rows: its event (unless a committed gc removed a
/// heartbeat's), and its task, comment or run row with the content written.
fn judge_committed(plan: &Plan, rows: &Rows, committed: &Committed, rep: &mut LedgerReport) {
    // Committed gc ops, as (event id, cutoff), for judging missing heartbeat events.
    let gcs: Vec<(i64, i64)> = committed
        .values()
        .filter(|(op, _)| op.kind == OpKind::GcEvents)
        .filter_map(|(op, eid)| eid.map(|e| (e, gc_cutoff(op.at_ms))))
        .collect();
    let removed_by_gc = |eid: i64, at: i64| gcs.iter().any(|&(g, cutoff)| g > eid && at < cutoff);
    for (&id, &(op, reported_eid)) in committed {
        let events = rows.events.get(&id).map(Vec::as_slice).unwrap_or(&[]);
        let what = format!("worker {} seq {} ({})", id.0, id.1, op.kind.name());
        match reported_eid {
            Some(eid) if op.kind == OpKind::Heartbeat && removed_by_gc(eid, op.at_ms) => {
                if events.is_empty() {
                    rep.gc_removed += 1;
                } else {
                    rep.lost += 1;
                    rep.example(FailureCategory::LostWrites, format!(
                        "lost delete: {what} event {eid} should have been removed by a committed gc but is present"
                    ));
                }
            }
            _ => judge_event_row(events, op, reported_eid, &what, rep),
        }
        let body = || payload(plan.seed, id.0, id.1, op.payload_len);
        match op.kind {
            OpKind::CreateTask => {
                judge_body_rows("tasks", rows.tasks.get(&id), &body(), &what, rep)
            }
            OpKind::AddComment => {
                judge_body_rows("task_comments", rows.comments.get(&id), &body(), &what, rep)
            }
            OpKind::ClaimTask => {
                judge_run_rows(rows.runs.get(&id).copied().unwrap_or(0), &what, rep)
            }
            _ => {}
        }
    }
}

/// A committed op's event: exactly one row, of its kind, with the id it reported.
fn judge_event_row(
    events: &[(i64, String)],
    op: &PlannedOp,
    reported_eid: Option<i64>,
    what: &str,
    rep: &mut LedgerReport,
) {
    match events.len() {
        0 => {
            rep.lost += 1;
            rep.example(
                FailureCategory::LostWrites,
                format!("lost: {what} committed but its event row is missing"),
            );
        }
        1 => {
            let (eid, kind) = &events[0];
            if kind != event_kind(op.kind) {
                rep.lost += 1;
                rep.example(
                    FailureCategory::LostWrites,
                    format!("lost: {what} event row has kind {kind:?}"),
                );
            } else if reported_eid.is_some_and(|r| r != *eid) {
                rep.lost += 1;
                rep.example(
                    FailureCategory::LostWrites,
                    format!(
                        "lost: {what} committed as event {} but its row has id {eid}",
                        reported_eid.unwrap_or_default()
                    ),
                );
            }
        }
        n => {
            rep.duplicate += (n - 1) as u64;
            rep.example(
                FailureCategory::DuplicateWrites,
                format!("duplicate: {what} has {n} event rows"),
            );
        }
    }
}

/// A committed op's row in `table` (tasks, task_comments): exactly one, as written.
fn judge_body_rows(
    table: &str,
    found: Option<&Vec<String>>,
    expected_body: &str,
    what: &str,
    rep: &mut LedgerReport,
) {
    let found = found.map(Vec::as_slice).unwrap_or(&[]);
    match found.len() {
        0 => {
            rep.lost += 1;
            rep.example(
                FailureCategory::LostWrites,
                format!("lost: {what} committed but its {table} row is missing"),
            );
        }
        1 if found[0] != expected_body => {
            rep.lost += 1;
            rep.example(
                FailureCategory::LostWrites,
                format!("lost: {what} {table} row has other content than written"),
            );
        }
        1 => {}
        n => {
            rep.duplicate += (n - 1) as u64;
            rep.example(
                FailureCategory::DuplicateWrites,
                format!("duplicate: {what} has {n} {table} rows"),
            );
        }
    }
}

/// A committed claim's `task_runs` row: exactly one.
fn judge_run_rows(n: u64, what: &str, rep: &mut LedgerReport) {
    match n {
        1 => {}
        0 => {
            rep.lost += 1;
            rep.example(
                FailureCategory::LostWrites,
                format!("lost: {what} committed but its task_runs row is missing"),
            );
        }
        n => {
            rep.duplicate += n - 1;
            rep.example(
                FailureCategory::DuplicateWrites,
                format!("duplicate: {what} has {n} task_runs rows"),
            );
        }
    }
}

/// Rows that no planned write op could have written, and rows with no readable identity.
fn count_strays(planned: &BTreeMap<Id, &PlannedOp>, rows: &Rows, rep: &mut LedgerReport) {
    let all_ids = rows
        .events
        .keys()
        .chain(rows.tasks.keys())
        .chain(rows.runs.keys())
        .chain(rows.comments.keys());
    let strays: std::collections::BTreeSet<Id> = all_ids
        .filter(|id| !planned.get(id).is_some_and(|op| op.kind.is_write()))
        .copied()
        .collect();
    for id in strays {
        let n = rows.count_for(id);
        rep.phantom += n as u64;
        rep.example(
            FailureCategory::PhantomWrites,
            format!(
                "phantom: {n} row(s) carry worker {} seq {}, which no planned write op has",
                id.0, id.1
            ),
        );
    }
    if rows.unattributable > 0 {
        rep.phantom += rows.unattributable;
        rep.example(
            FailureCategory::PhantomWrites,
            format!(
                "phantom: {} row(s) have no readable (worker, seq) identity",
                rows.unattributable
            ),
        );
    }
}

/// Each actor runs its ops in order, so its commits' event ids must increase with seq.
fn check_order(committed: &Committed, rep: &mut LedgerReport) {
    let mut last: BTreeMap<(u32, u32), (u32, i64)> = BTreeMap::new();
    for (&id, &(op, eid)) in committed {
        let Some(eid) = eid else { continue };
        if let Some(&(prev_seq, prev)) = last.get(&(id.0, op.actor))
            && eid <= prev
        {
            rep.order_violations += 1;
            rep.example(FailureCategory::OrderViolations, format!(
                "order: worker {} seq {} committed as event {eid}, before seq {prev_seq} (event {prev})",
                id.0, id.1
            ));
        }
        last.insert((id.0, op.actor), (id.1, eid));
    }
}

/// A plan of no ops, for the ledgers' tests of errors while reading.
#[cfg(test)]
pub(super) fn no_plan() -> Plan {
    Plan {
        format: String::new(),
        scenario: "t".into(),
        seed: 1,
        schedule_hash: String::new(),
        workers: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_table_is_an_error_naming_it_never_a_clean_ledger() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE task_events (worker, seq, id, kind);")
            .unwrap();
        match check(&conn, &no_plan(), &[]) {
            Err(LedgerError::Table { table, source }) => {
                assert_eq!(table, "tasks");
                assert!(source.to_string().contains("no such table"), "{source}");
            }
            other => panic!("expected a table error, got {other:?}"),
        }
    }

    /// Each counter alone makes the ledger unclean; examples stop at ten, while the first
    /// of each kind is kept for the failure that names it.
    #[test]
    fn each_counter_alone_is_unclean_and_ten_examples_are_kept() {
        assert!(LedgerReport::default().clean());
        let unclean = [
            LedgerReport {
                lost: 1,
                ..LedgerReport::default()
            },
            LedgerReport {
                phantom: 1,
                ..LedgerReport::default()
            },
            LedgerReport {
                duplicate: 1,
                ..LedgerReport::default()
            },
            LedgerReport {
                order_violations: 1,
                ..LedgerReport::default()
            },
        ];
        for rep in unclean {
            assert!(!rep.clean(), "{rep:?}");
        }
        let mut rep = LedgerReport::default();
        for i in 0..=MAX_EXAMPLES {
            rep.example(FailureCategory::LostWrites, format!("lost {i}"));
        }
        rep.example(FailureCategory::PhantomWrites, "phantom".into());
        assert_eq!(rep.examples.len(), MAX_EXAMPLES);
        assert_eq!(rep.first[&FailureCategory::LostWrites], "lost 0");
        assert_eq!(rep.first[&FailureCategory::PhantomWrites], "phantom");
    }
}

#[cfg(test)]
#[path = "ledger_kinds_tests.rs"]
mod kinds_tests;
