//! The "kanban" workload profile: a schema and writes that mirror the field app's task board
//! (BRIEF section 2). Every row an op writes carries the op's (worker, seq) identity, so the
//! ledger can find it; timestamps come from the plan, never from the wall clock.

use rusqlite::{Connection, OptionalExtension, params};

use super::Steps;
use crate::observe::step::{StepAction, StepResult};
use crate::plan::{GC_AGE_MS, OpKind, task_id, worker_name};
use crate::protocol::WorkerOp;

pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS tasks (
    id             TEXT PRIMARY KEY,
    board          TEXT NOT NULL DEFAULT 'default',
    title          TEXT NOT NULL,
    body           TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'ready',
    priority       INTEGER NOT NULL DEFAULT 0,
    assignee       TEXT,
    claim_lock     TEXT,
    claimed_by     TEXT,
    result         TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    heartbeat_at   INTEGER,
    completed_at   INTEGER,
    created_worker INTEGER NOT NULL,
    created_seq    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_tasks_status_priority ON tasks(status, priority DESC, created_at);
CREATE INDEX IF NOT EXISTS idx_tasks_board_status ON tasks(board, status);
CREATE INDEX IF NOT EXISTS idx_tasks_assignee ON tasks(assignee);
CREATE INDEX IF NOT EXISTS idx_tasks_claim_lock ON tasks(claim_lock);
CREATE INDEX IF NOT EXISTS idx_tasks_claimed_by ON tasks(claimed_by, status);
CREATE INDEX IF NOT EXISTS idx_tasks_updated_at ON tasks(updated_at);
CREATE INDEX IF NOT EXISTS idx_tasks_origin ON tasks(created_worker, created_seq);
CREATE TABLE IF NOT EXISTS task_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id    TEXT,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    worker     INTEGER NOT NULL,
    seq        INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_events_task ON task_events(task_id, id);
CREATE INDEX IF NOT EXISTS idx_events_kind_created ON task_events(kind, created_at);
CREATE TABLE IF NOT EXISTS task_runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id      TEXT NOT NULL,
    claimed_by   TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER,
    ended_at     INTEGER,
    outcome      TEXT,
    worker       INTEGER NOT NULL,
    seq          INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_runs_task ON task_runs(task_id);
CREATE INDEX IF NOT EXISTS idx_runs_open ON task_runs(claimed_by, ended_at);
CREATE TABLE IF NOT EXISTS task_comments (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id    TEXT NOT NULL,
    author     TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    worker     INTEGER NOT NULL,
    seq        INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_comments_task ON task_comments(task_id);
"#;

/// Creates the schema inside one write transaction (idempotent, safe to race).
pub fn create_schema(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(&format!("BEGIN IMMEDIATE;{SCHEMA}COMMIT;"))
}

/// What an op body did inside its transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Rows written; the transaction should commit.
    Wrote {
        event_id: i64,
        task_id: Option<String>,
    },
    /// Nothing to do (no ready task to claim, ...); the transaction should roll back.
    Nothing(&'static str),
}

/// One statement as one lockstep step, labelled for the trace.
fn sql<T>(
    gate: &impl Steps,
    label: &str,
    f: impl FnOnce() -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    gate.step(StepAction::statement(label), f, StepResult::of_sql)
}

/// Runs the body of one write op inside an open `BEGIN IMMEDIATE` transaction; every
/// statement is one step of the gate.
pub fn apply(
    conn: &Connection,
    gate: &impl Steps,
    worker: u32,
    op: &WorkerOp,
) -> rusqlite::Result<Applied> {
    let me = worker_name(worker);
    let body = || op.payload.as_str();
    let (w, s, at) = (worker, op.seq, op.at_ms);
    let event = |task: Option<&str>, kind: &str, detail: String| -> rusqlite::Result<i64> {
        sql(gate, "insert event", || {
            conn.prepare_cached(
                "INSERT INTO task_events (task_id, kind, payload, created_at, worker, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![task, kind, detail, at, w, s])?;
            Ok(conn.last_insert_rowid())
        })
    };
    // The worker's open run (oldest first for complete, newest for heartbeat).
    let open_run = |action: &str, order: &str| -> rusqlite::Result<Option<(i64, String)>> {
        sql(gate, action, || {
            conn.prepare_cached(&format!(
                "SELECT id, task_id FROM task_runs WHERE claimed_by = ?1 AND ended_at IS NULL ORDER BY id {order} LIMIT 1"
            ))?
            .query_row([&me], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
        })
    };
    match op.kind {
        OpKind::CreateTask => {
            let id = op.task_id.clone().unwrap_or_else(|| task_id(w, s));
            sql(gate, "insert task", || {
                conn.prepare_cached(
                    "INSERT INTO tasks (id, title, body, priority, created_at, updated_at, created_worker, created_seq)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)",
                )?
                .execute(params![id, format!("task {s} of {me}"), body(), i64::from(s % 5), at, w, s])
            })?;
            let event_id = event(Some(&id), "created", format!("{{\"by\":\"{me}\"}}"))?;
            Ok(Applied::Wrote {
                event_id,
                task_id: Some(id),
            })
        }
        OpKind::ClaimTask => {
            let Some(id) = ready_task(conn, gate)? else {
                return Ok(Applied::Nothing("no ready task to claim"));
            };
            // Compare-and-swap, as the field app does: only a still-ready, unlocked task.
            let changed = sql(gate, "claim task", || {
                conn.prepare_cached(
                    "UPDATE tasks SET status = 'running', claim_lock = ?2, claimed_by = ?3, assignee = ?3, updated_at = ?4
                     WHERE id = ?1 AND status = 'ready' AND claim_lock IS NULL",
                )?
                .execute(params![id, format!("{me}:{s}"), me, at])
            })?;
            if changed != 1 {
                return Ok(Applied::Nothing("claim lost the compare-and-swap"));
            }
            record_claim(conn, gate, worker, op, id)
        }
        OpKind::Heartbeat => {
            let Some((run_id, id)) = open_run("select open run", "DESC")? else {
                return Ok(Applied::Nothing("no running task to heartbeat"));
            };
            sql(gate, "update run", || {
                conn.prepare_cached("UPDATE task_runs SET heartbeat_at = ?2 WHERE id = ?1")?
                    .execute(params![run_id, at])
            })?;
            sql(gate, "update task", || {
                conn.prepare_cached("UPDATE tasks SET heartbeat_at = ?2 WHERE id = ?1")?
                    .execute(params![id, at])
            })?;
            let event_id = event(Some(&id), "heartbeat", format!("{{\"run\":{run_id}}}"))?;
            Ok(Applied::Wrote {
                event_id,
                task_id: Some(id),
            })
        }
        OpKind::AddComment => {
            let target: Option<String> = sql(gate, "select task", || {
                conn.prepare_cached("SELECT id FROM tasks ORDER BY updated_at DESC, id LIMIT 1")?
                    .query_row([], |r| r.get(0))
                    .optional()
            })?;
            let Some(id) = target else {
                return Ok(Applied::Nothing("no task to comment on"));
            };
            sql(gate, "insert comment", || {
                conn.prepare_cached(
                    "INSERT INTO task_comments (task_id, author, body, created_at, worker, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![id, me, body(), at, w, s])
            })?;
            let event_id = event(Some(&id), "commented", format!("{{\"by\":\"{me}\"}}"))?;
            Ok(Applied::Wrote {
                event_id,
                task_id: Some(id),
            })
        }
        OpKind::CompleteTask => {
            let Some((run_id, id)) = open_run("select open run", "ASC")? else {
                return Ok(Applied::Nothing("no running task to complete"));
            };
            sql(gate, "complete task", || {
                conn.prepare_cached(
                    "UPDATE tasks SET status = 'done', result = ?2, claim_lock = NULL, completed_at = ?3, updated_at = ?3 WHERE id = ?1",
                )?
                .execute(params![id, body(), at])
            })?;
            sql(gate, "end run", || {
                conn.prepare_cached(
                    "UPDATE task_runs SET ended_at = ?2, outcome = 'done' WHERE id = ?1",
                )?
                .execute(params![run_id, at])
            })?;
            let event_id = event(Some(&id), "completed", format!("{{\"run\":{run_id}}}"))?;
            Ok(Applied::Wrote {
                event_id,
                task_id: Some(id),
            })
        }
        OpKind::GcEvents => {
            let deleted = sql(gate, "delete old heartbeats", || {
                conn.prepare_cached(
                    "DELETE FROM task_events WHERE kind = 'heartbeat' AND created_at < ?1",
                )?
                .execute([gc_cutoff(at)])
            })?;
            let event_id = event(None, "gc", format!("{{\"deleted\":{deleted}}}"))?;
            Ok(Applied::Wrote {
                event_id,
                task_id: None,
            })
        }
        OpKind::Checkpoint => unreachable!("checkpoints are not write transactions"),
        OpKind::ListTxn => unreachable!("list transactions run in exec::list_append"),
        OpKind::ReadSnapshot => unreachable!("a reader's op is a read transaction"),
    }
}

/// The task a claim takes: the oldest ready, unlocked one of the highest priority.
pub fn ready_task(conn: &Connection, gate: &impl Steps) -> rusqlite::Result<Option<String>> {
    sql(gate, "select ready task", || {
        conn.prepare_cached(
            "SELECT id FROM tasks WHERE status = 'ready' AND claim_lock IS NULL
             ORDER BY priority DESC, created_at LIMIT 1",
        )?
        .query_row([], |r| r.get(0))
        .optional()
    })
}

/// `claim = "read-then-write"`: claims `id` by its id alone, whatever its status now (no
/// compare-and-swap: the race this claim exists to show). One `write` step, so that in a
/// deferred transaction the coordinator sees the write lock taken; returns the rows changed
/// and when the statement returned (the start of the write-lock interval).
pub fn claim_by_id(
    conn: &Connection,
    gate: &impl Steps,
    worker: u32,
    op: &WorkerOp,
    id: &str,
) -> rusqlite::Result<(usize, u64)> {
    let me = worker_name(worker);
    gate.step(
        StepAction::write("claim task by id"),
        || {
            let n = conn
                .prepare_cached(
                    "UPDATE tasks SET status = 'running', claim_lock = ?2, claimed_by = ?3, assignee = ?3, updated_at = ?4
                     WHERE id = ?1",
                )?
                .execute(params![id, format!("{me}:{}", op.seq), me, op.at_ms])?;
            Ok((n, crate::observe::clock::monotonic_ns()))
        },
        StepResult::of_sql,
    )
}

/// The rows every claim leaves once the task is its: the run, then the `claimed` event.
pub fn record_claim(
    conn: &Connection,
    gate: &impl Steps,
    worker: u32,
    op: &WorkerOp,
    id: String,
) -> rusqlite::Result<Applied> {
    let me = worker_name(worker);
    let (w, s, at) = (worker, op.seq, op.at_ms);
    sql(gate, "insert run", || {
        conn.prepare_cached(
            "INSERT INTO task_runs (task_id, claimed_by, started_at, worker, seq) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![id, me, at, w, s])
    })?;
    let event_id = sql(gate, "insert event", || {
        conn.prepare_cached(
            "INSERT INTO task_events (task_id, kind, payload, created_at, worker, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![id, "claimed", format!("{{\"by\":\"{me}\"}}"), at, w, s])?;
        Ok(conn.last_insert_rowid())
    })?;
    Ok(Applied::Wrote {
        event_id,
        task_id: Some(id),
    })
}

/// Heartbeat events older than this (logical time) are deleted by a gc op planned at `at`.
pub fn gc_cutoff(at_ms: i64) -> i64 {
    at_ms - GC_AGE_MS
}

/// The kind of event row each write op leaves.
pub fn event_kind(kind: OpKind) -> &'static str {
    match kind {
        OpKind::CreateTask => "created",
        OpKind::ClaimTask => "claimed",
        OpKind::Heartbeat => "heartbeat",
        OpKind::AddComment => "commented",
        OpKind::CompleteTask => "completed",
        OpKind::GcEvents => "gc",
        OpKind::Checkpoint => "",
        OpKind::ListTxn => "list_txn",
        OpKind::ReadSnapshot => "",
    }
}
