//! The "list-append" workload profile: keyed lists in one table, appended to and read inside
//! write transactions (`plan::list_append` draws them). Each transaction also writes one
//! `task_events` row with its (worker, seq), so the built-in ledger accounts for it like any
//! other write; what it read goes into its record for the isolation checker.

use rusqlite::{Connection, params};

use super::Steps;
use super::kanban::{self, Applied};
use crate::observe::step::{StepAction, StepResult};
use crate::plan::list_append::ListMop;
use crate::protocol::WorkerOp;
use crate::scenario::Profile;

/// A list is its rows of one key in `id` order.
pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS lists (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    key    INTEGER NOT NULL,
    value  INTEGER NOT NULL,
    worker INTEGER NOT NULL,
    seq    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_lists_key ON lists(key, id);
"#;

/// The profile's schema in one write transaction (idempotent, safe to race); the kanban
/// tables always, since the ledger reads `task_events`.
pub fn create_schema(conn: &Connection, profile: Profile) -> rusqlite::Result<()> {
    match profile {
        Profile::Kanban => kanban::create_schema(conn),
        Profile::ListAppend => conn.execute_batch(&format!(
            "BEGIN IMMEDIATE;{}{SCHEMA}{}COMMIT;",
            kanban::SCHEMA,
            super::list_rewrite::SCHEMA
        )),
    }
}

/// Values and keys are far below `i64::MAX` (`plan::list_append::value`).
fn sql_int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn read_list(conn: &Connection, gate: &impl Steps, key: u64) -> rusqlite::Result<Vec<u64>> {
    gate.step(
        StepAction::statement("read list"),
        || {
            conn.prepare_cached("SELECT value FROM lists WHERE key = ?1 ORDER BY id")?
                .query_map([sql_int(key)], |r| r.get::<_, i64>(0))?
                .map(|v| v.map(|v| u64::try_from(v).unwrap_or_default()))
                .collect()
        },
        StepResult::of_sql,
    )
}

/// The `before-begin` variant (a negative control): every read of the transaction runs
/// first, each in its own autocommit statement, and is reported as part of it.
pub fn read_before_begin(
    conn: &Connection,
    gate: &impl Steps,
    list: &mut [ListMop],
) -> rusqlite::Result<()> {
    for mop in list {
        if let ListMop::Read { key, values } = mop {
            *values = Some(read_list(conn, gate, *key)?);
        }
    }
    Ok(())
}

/// Runs the transaction's micro-ops inside an open `BEGIN IMMEDIATE`, filling in what each
/// read returned (reads already run before BEGIN are left as they are).
pub fn apply(
    conn: &Connection,
    gate: &impl Steps,
    worker: u32,
    op: &WorkerOp,
    list: &mut [ListMop],
) -> rusqlite::Result<Applied> {
    let (w, s) = (worker, op.seq);
    for mop in list.iter_mut() {
        match mop {
            ListMop::Append { key, value } => {
                let (key, value) = (sql_int(*key), sql_int(*value));
                gate.step(
                    StepAction::statement("append"),
                    || {
                        conn.prepare_cached(
                            "INSERT INTO lists (key, value, worker, seq) VALUES (?1, ?2, ?3, ?4)",
                        )?
                        .execute(params![key, value, w, s])
                    },
                    StepResult::of_sql,
                )?;
            }
            ListMop::Read { key, values } => {
                if values.is_none() {
                    *values = Some(read_list(conn, gate, *key)?);
                }
            }
        }
    }
    let event_id = gate.step(
        StepAction::statement("insert event"),
        || {
            conn.prepare_cached(
                "INSERT INTO task_events (task_id, kind, payload, created_at, worker, seq) VALUES (NULL, ?1, '', ?2, ?3, ?4)",
            )?
            .execute(params![kanban::event_kind(op.kind), op.at_ms, w, s])?;
            Ok(conn.last_insert_rowid())
        },
        StepResult::of_sql,
    )?;
    Ok(Applied::Wrote {
        event_id,
        task_id: None,
    })
}
