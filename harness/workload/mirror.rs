//! `[workload] attach = "aux"`: the second database every connection ATTACHes, and the row
//! each write op mirrors into it inside its own transaction. A commit then spans two files,
//! which SQLite makes atomic with a super-journal in rollback-journal mode; the ledger
//! (`check::multi_db`) judges each op all or nothing across the two.

use std::path::Path;

use rusqlite::{Connection, params};

use super::Steps;
use crate::observe::step::{StepAction, StepResult};
use crate::protocol::{AUX_SCHEMA_NAME, WorkerOp};
use crate::scenario::SqliteConfig;

/// The mirror table, in the attached schema; (worker, seq) as every kanban row carries it.
pub const AUX_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS aux.task_mirror (
    worker INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    kind   TEXT NOT NULL,
    body   TEXT NOT NULL
);
"#;

/// ATTACHes `aux_path` as `aux` and gives it the main database's journal mode and
/// synchronous level: a pragma without a schema name leaves an attached database at
/// SQLite's defaults, and a super-journal needs syncing on in every file of the commit.
pub fn attach(conn: &Connection, aux_path: &Path, cfg: &SqliteConfig) -> rusqlite::Result<()> {
    conn.execute(
        &format!("ATTACH DATABASE ?1 AS {AUX_SCHEMA_NAME}"),
        [aux_path.to_string_lossy()],
    )?;
    if let Some(m) = cfg.journal_mode.fixed() {
        conn.query_row(
            &format!("PRAGMA {AUX_SCHEMA_NAME}.journal_mode={}", m.as_sql()),
            [],
            |_| Ok(()),
        )?;
    }
    conn.execute_batch(&format!(
        "PRAGMA {AUX_SCHEMA_NAME}.synchronous={}",
        cfg.synchronous.as_sql()
    ))
}

/// Creates the mirror table (the runner's setup, after [`attach`]).
pub fn create_schema(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(&format!("BEGIN IMMEDIATE;{AUX_SCHEMA}COMMIT;"))
}

/// Mirrors one write op into `aux.task_mirror`, as one step, inside the op's open
/// transaction (after its kanban rows, before COMMIT).
pub fn mirror(
    conn: &Connection,
    gate: &impl Steps,
    worker: u32,
    op: &WorkerOp,
) -> rusqlite::Result<usize> {
    gate.step(
        StepAction::statement("insert aux mirror"),
        || {
            conn.prepare_cached(
                "INSERT INTO aux.task_mirror (worker, seq, kind, body) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![worker, op.seq, op.kind.name(), op.payload])
        },
        StepResult::of_sql,
    )
}
