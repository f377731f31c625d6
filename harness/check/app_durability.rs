//! The durability oracle for an app that keeps its own ledger (`[ledger]`): after a simulated
//! power loss, an acknowledged commit survived when `ledger.present` lists its (worker, seq),
//! and it is torn when a `[[ledger.rows]]` query that covers its kind disagrees (its row
//! survived without the op, or the op without its row). The rule per synchronous level is
//! the kanban oracle's (`durability::rule`).
//!
//! Commit order: an app's rows carry no commit sequence walburst can read, so "only a suffix
//! was lost" is judged in real time, which never blames a correct database: a loss breaks
//! the suffix rule only when a commit that *began* after the lost one was acknowledged
//! survived (it committed later, so a later commit outlived an earlier one). Commits that
//! overlapped in time are not ordered by this rule.

use rusqlite::Connection;

use super::app_ledger::identities;
use super::durability::{Durability, MAX_EXAMPLES};
use super::ledger::LedgerQuery;
use crate::observe::{OpRecord, Outcome};
use crate::scenario::{LedgerTable, Scenario};

/// Checks every acknowledged write, and every `[[ledger.rows]]` row of its kind, against the
/// database behind `conn` (a fresh connection after recovery).
pub fn check(
    conn: &Connection,
    s: &Scenario,
    table: &LedgerTable,
    records: &[OpRecord],
) -> Durability {
    let mut d = Durability::judging(s);
    let present = match identities(conn, &LedgerQuery::Present, &table.present) {
        Ok(p) => p,
        Err(e) => {
            d.error = Some(crate::error::Chain(&e).to_string());
            return d;
        }
    };
    let mut rows = Vec::new();
    for (i, rc) in table.rows.iter().enumerate() {
        let query = LedgerQuery::Rows {
            index: i,
            name: rc.name.clone(),
        };
        match identities(conn, &query, &rc.query) {
            Ok(ids) => rows.push((rc, ids)),
            Err(e) => {
                d.error = Some(crate::error::Chain(&e).to_string());
                return d;
            }
        }
    }
    let acknowledged: Vec<&OpRecord> = records
        .iter()
        .filter(|r| r.outcome == Outcome::Committed && r.kind.is_write())
        .collect();
    let mut lost: Vec<&OpRecord> = Vec::new();
    let mut survivors_began: Vec<u64> = Vec::new();
    for r in &acknowledged {
        d.acknowledged += 1;
        let id = (r.worker, r.seq);
        let survived = present.contains(&id);
        if survived {
            survivors_began.push(r.t_start_ns);
        } else {
            lost.push(r);
        }
        for (rc, ids) in &rows {
            let covers = rc.kinds.is_empty() || rc.kinds.iter().any(|k| k == r.kind.name());
            if covers && ids.contains(&id) != survived {
                d.torn += 1;
                if d.torn_examples.len() < MAX_EXAMPLES {
                    d.torn_examples.push(format!(
                        "worker {} seq {} ({}): ledger.present {} it but ledger.rows {:?} {}",
                        r.worker,
                        r.seq,
                        r.kind.name(),
                        if survived { "lists" } else { "does not list" },
                        rc.name,
                        if survived { "does not" } else { "does" },
                    ));
                }
            }
        }
    }
    let last_began = survivors_began.iter().copied().max();
    d.lost = lost.len() as u64;
    // Broken only when some survivor began after a lost commit was acknowledged.
    d.lost_is_suffix = lost
        .iter()
        .all(|l| last_began.is_none_or(|b| b <= l.t_end_ns));
    lost.sort_by_key(|r| (r.t_end_ns, r.worker, r.seq));
    d.lost_examples = lost
        .iter()
        .take(MAX_EXAMPLES)
        .map(|r| format!("worker {} seq {} ({})", r.worker, r.seq, r.kind.name()))
        .collect();
    d
}

#[cfg(test)]
#[path = "app_durability_tests.rs"]
mod tests;
