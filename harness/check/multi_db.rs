//! The ledger across two databases (`[workload] attach = "aux"`): every write op wrote its
//! kanban rows into the main database and its mirror row into `aux.db` in one transaction,
//! which SQLite commits atomically through a super-journal. So each op is in both files or
//! in neither, whatever its record says (committed, rolled back, killed, ambiguous); an op
//! in one and not the other is a torn multi-database commit. The main ledger judges what
//! each op left in the main file; this check judges the pair, and the aux file's health.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::verify;
use crate::observe::{OpRecord, Outcome};
use crate::plan::{OpKind, Plan, PlannedOp};
use crate::workload::kanban::gc_cutoff;

const MAX_LISTED: usize = 10;

/// What the report's `checks.multi_db` carries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MultiDb {
    /// The attached database's file name in the run's `db/` directory.
    pub aux_file: String,
    /// Planned write ops judged (each one in both files, in neither, or torn).
    pub judged: u64,
    pub in_both: u64,
    pub in_neither: u64,
    /// Ops in one file and not the other.
    pub torn: u64,
    /// The torn ops, at most ten: which file holds them, and what their record said.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub torn_ops: Vec<String>,
    /// Mirror rows of no planned write op, or an op's mirror row more than once.
    pub aux_strays: u64,
    /// `PRAGMA integrity_check` / `quick_check` of the attached database, first line.
    pub integrity_check: String,
    pub quick_check: String,
    /// Why the pair could not be judged (a file or table unreadable); never a pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl MultiDb {
    pub fn healthy(&self) -> bool {
        self.integrity_check == "ok" && self.quick_check == "ok"
    }
}

type Id = (u32, u32);

/// The identities every kanban table's rows carry, in the main database.
const MAIN_IDS: &str = "SELECT worker, seq FROM task_events
     UNION SELECT created_worker, created_seq FROM tasks
     UNION SELECT worker, seq FROM task_runs
     UNION SELECT worker, seq FROM task_comments";

fn ids(conn: &Connection, sql: &str) -> rusqlite::Result<BTreeMap<Id, u64>> {
    let mut st = conn.prepare(sql)?;
    let mut out = BTreeMap::new();
    let mut q = st.query([])?;
    while let Some(r) = q.next()? {
        let (w, s): (Option<i64>, Option<i64>) = (r.get(0).ok(), r.get(1).ok());
        // An unreadable identity counts under (u32::MAX, u32::MAX): a stray, never an op.
        let id = match (
            w.and_then(|w| w.try_into().ok()),
            s.and_then(|s| s.try_into().ok()),
        ) {
            (Some(w), Some(s)) => (w, s),
            _ => (u32::MAX, u32::MAX),
        };
        *out.entry(id).or_default() += 1;
    }
    Ok(out)
}

/// Judges the main database (through `main`, the verification connection) against the
/// attached one at `aux_path`, opened here on its own (its hot journal, if any, is rolled
/// back or not by SQLite as any later opener would).
pub fn check(main: &Connection, aux_path: &Path, plan: &Plan, records: &[OpRecord]) -> MultiDb {
    let mut m = MultiDb {
        aux_file: aux_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        ..MultiDb::default()
    };
    let aux = match verify::open_for_verify(aux_path) {
        Ok(c) => c,
        Err(e) => {
            m.error = Some(format!("cannot open {}: {e}", m.aux_file));
            m.integrity_check = format!("not run: {}", m.error.as_deref().unwrap_or(""));
            m.quick_check = m.integrity_check.clone();
            return m;
        }
    };
    let first = |lines: Vec<String>| lines.into_iter().next().unwrap_or_default();
    m.integrity_check = first(verify::check_lines(&aux, "integrity_check"));
    m.quick_check = first(verify::check_lines(&aux, "quick_check"));
    let read = ids(main, MAIN_IDS).and_then(|main_ids| {
        let aux_ids = ids(&aux, "SELECT worker, seq FROM task_mirror")?;
        Ok((main_ids, aux_ids))
    });
    match read {
        Ok((main_ids, aux_ids)) => judge(&mut m, plan, records, &main_ids, &aux_ids),
        Err(e) => m.error = Some(format!("cannot read the identities of both files: {e}")),
    }
    m
}

/// Each planned write op in both files or in neither; every mirror row an op's, once.
fn judge(
    m: &mut MultiDb,
    plan: &Plan,
    records: &[OpRecord],
    main_ids: &BTreeMap<Id, u64>,
    aux_ids: &BTreeMap<Id, u64>,
) {
    let planned: BTreeMap<Id, &PlannedOp> = plan
        .workers
        .iter()
        .flat_map(|wp| wp.ops.iter().map(move |op| ((wp.worker, op.seq), op)))
        .filter(|(_, op)| op.kind.is_write())
        .collect();
    let outcome: BTreeMap<Id, Outcome> = records
        .iter()
        .map(|r| ((r.worker, r.seq), r.outcome))
        .collect();
    // A committed gc deletes older heartbeat events: such a heartbeat may be in aux.db and
    // have no row left in the main file, which is no tear.
    let gc_cutoffs: Vec<i64> = planned
        .iter()
        .filter(|(id, op)| op.kind == OpKind::GcEvents && main_ids.contains_key(id))
        .map(|(_, op)| gc_cutoff(op.at_ms))
        .collect();
    for (&id, op) in &planned {
        m.judged += 1;
        let in_aux = aux_ids.contains_key(&id);
        let in_main = main_ids.contains_key(&id)
            || (in_aux && op.kind == OpKind::Heartbeat && gc_cutoffs.iter().any(|&c| op.at_ms < c));
        match (in_main, in_aux) {
            (true, true) => m.in_both += 1,
            (false, false) => m.in_neither += 1,
            (main, _) => {
                m.torn += 1;
                if m.torn_ops.len() < MAX_LISTED {
                    let (has, lacks) = if main {
                        (crate::protocol::DB_FILE, m.aux_file.as_str())
                    } else {
                        (m.aux_file.as_str(), crate::protocol::DB_FILE)
                    };
                    m.torn_ops.push(format!(
                        "worker {} seq {} ({}, {}): in {has}, not in {lacks}",
                        id.0,
                        id.1,
                        op.kind.name(),
                        outcome.get(&id).map_or("never reported", |o| o.name())
                    ));
                }
            }
        }
    }
    let strays: BTreeSet<&Id> = aux_ids
        .keys()
        .filter(|id| !planned.contains_key(id))
        .collect();
    m.aux_strays = aux_ids
        .iter()
        .map(|(id, &n)| if strays.contains(id) { n } else { n - 1 })
        .sum();
}

#[cfg(test)]
#[path = "multi_db_tests.rs"]
mod tests;
