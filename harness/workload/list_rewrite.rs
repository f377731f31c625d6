//! The list-append profile's read-modify-write shape (`list_write = "rewrite"` and its
//! `rewrite-stale-retry` control): each list is one row of `list_registers` holding the whole
//! list, read and written back whole, as apps keep a JSON array or a counter in one column.
//! Every write also appends its values to `lists`, in the same transaction: with SQLite's
//! single writer, `lists.id` order is the order in which the writes committed, which the
//! isolation checker takes as each key's version order (`check::isolation::rewrite`).

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::Steps;
use super::kanban;
use crate::observe::step::{StepAction, StepResult};
use crate::plan::list_append::ListMop;
use crate::protocol::WorkerOp;

/// The whole list of a key in one row: values in order, space-separated decimal.
pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS list_registers (
    key  INTEGER PRIMARY KEY,
    list TEXT NOT NULL
);
"#;

/// Values and keys are far below `i64::MAX` (`plan::list_append::value`).
fn sql_int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub fn encode(list: &[u64]) -> String {
    let items: Vec<String> = list.iter().map(u64::to_string).collect();
    items.join(" ")
}

/// A register's text as values; a word that is not a number is a corrupt row, reported as
/// an error rather than read as something else.
pub fn decode(text: &str) -> rusqlite::Result<Vec<u64>> {
    text.split_whitespace()
        .map(|w| {
            w.parse::<u64>().map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
            })
        })
        .collect()
}

/// The keys a transaction touches, in the order it first touches them: each is read once.
pub fn keys(planned: &[ListMop]) -> Vec<u64> {
    let mut keys = Vec::new();
    for m in planned {
        let k = match m {
            ListMop::Append { key, .. } | ListMop::Read { key, .. } => *key,
        };
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys
}

/// Reads key `key`'s list (empty when it has no row yet), as one step.
pub fn read(conn: &Connection, gate: &impl Steps, key: u64) -> rusqlite::Result<Vec<u64>> {
    gate.step(
        StepAction::statement("read register"),
        || {
            let text: Option<String> = conn
                .prepare_cached("SELECT list FROM list_registers WHERE key = ?1")?
                .query_row([sql_int(key)], |r| r.get(0))
                .optional()?;
            decode(text.as_deref().unwrap_or(""))
        },
        StepResult::of_sql,
    )
}

/// What the transaction reports: each key's read, in first-touch order, then its appends in
/// plan order. A planned read of a key is that one read (a read-modify-write reads each
/// list once and works on it in memory).
pub fn record(read: &[(u64, Vec<u64>)], planned: &[ListMop]) -> Vec<ListMop> {
    let reads = read.iter().map(|(key, values)| ListMop::Read {
        key: *key,
        values: Some(values.clone()),
    });
    let appends = planned
        .iter()
        .filter(|m| matches!(m, ListMop::Append { .. }))
        .cloned();
    reads.chain(appends).collect()
}

/// Writes each appended key's list back whole (what was read, then this transaction's
/// values), appends the values to the `lists` log and inserts the op's event, as one write
/// step: in a deferred transaction its first statement takes the write lock, or is turned
/// away before anything is written. Returns the event id and when the write lock was held.
pub fn write(
    conn: &Connection,
    gate: &impl Steps,
    worker: u32,
    op: &WorkerOp,
    read: &[(u64, Vec<u64>)],
) -> rusqlite::Result<(i64, u64)> {
    let (w, s) = (worker, op.seq);
    let mut lists: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    let mut appended = Vec::new();
    for m in &op.list {
        if let ListMop::Append { key, value } = m {
            let base = read.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
            lists
                .entry(*key)
                .or_insert_with(|| base.unwrap_or_default())
                .push(*value);
            appended.push((*key, *value));
        }
    }
    gate.step(
        StepAction::write("rewrite lists"),
        || {
            // The event first: a transaction with no append still writes, so every one
            // takes the write lock at this step and is accounted for by the ledger.
            conn.prepare_cached(
                "INSERT INTO task_events (task_id, kind, payload, created_at, worker, seq) VALUES (NULL, ?1, '', ?2, ?3, ?4)",
            )?
            .execute(params![kanban::event_kind(op.kind), op.at_ms, w, s])?;
            let event_id = conn.last_insert_rowid();
            let locked = crate::observe::clock::monotonic_ns();
            for (key, list) in &lists {
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO list_registers (key, list) VALUES (?1, ?2)",
                )?
                .execute(params![sql_int(*key), encode(list)])?;
            }
            for (key, value) in &appended {
                conn.prepare_cached(
                    "INSERT INTO lists (key, value, worker, seq) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![sql_int(*key), sql_int(*value), w, s])?;
            }
            Ok((event_id, locked))
        },
        StepResult::of_sql,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip_and_a_corrupt_row_is_an_error() {
        assert_eq!(decode(&encode(&[1, 22, 333])).unwrap(), [1, 22, 333]);
        assert_eq!(decode("").unwrap(), Vec::<u64>::new());
        assert!(decode("1 x").is_err());
    }

    #[test]
    fn each_key_is_read_once_then_the_appends_follow() {
        let planned = [
            ListMop::Append { key: 2, value: 20 },
            ListMop::Read {
                key: 1,
                values: None,
            },
            ListMop::Read {
                key: 2,
                values: None,
            },
            ListMop::Append { key: 2, value: 21 },
        ];
        assert_eq!(keys(&planned), [2, 1]);
        let rec = record(&[(2, vec![5]), (1, vec![])], &planned);
        assert_eq!(
            rec,
            [
                ListMop::Read {
                    key: 2,
                    values: Some(vec![5])
                },
                ListMop::Read {
                    key: 1,
                    values: Some(vec![])
                },
                ListMop::Append { key: 2, value: 20 },
                ListMop::Append { key: 2, value: 21 },
            ]
        );
    }
}
