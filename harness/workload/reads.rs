//! The reader role's SQL (`read_snapshot` ops): one read of the kanban board, small enough to
//! repeat inside one read transaction and wide enough that any commit a writer makes changes
//! it (a create adds a task and an event, a claim, heartbeat or completion changes the
//! checksum, a gc removes events).

use rusqlite::Connection;

use super::Steps;
use crate::observe::SnapshotRead;
use crate::observe::clock::monotonic_ns;
use crate::observe::step::{StepAction, StepResult};

/// Reads the board once, as one step. The checksum mixes each task's status with its
/// timestamps, modulo a prime, so it stays an `i64` whatever the board's size.
pub fn read_board(conn: &Connection, gate: &impl Steps) -> rusqlite::Result<SnapshotRead> {
    gate.step(
        StepAction::statement("read board"),
        || {
            let (tasks, checksum) = conn.prepare_cached(
                "SELECT count(*), coalesce(sum((length(status) * 7919
                        + updated_at % 1000003 + coalesce(heartbeat_at, 0) % 1000003) % 2147483647), 0)
                 FROM tasks",
            )?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let events = conn
                .prepare_cached("SELECT count(*) FROM task_events")?
                .query_row([], |r| r.get(0))?;
            Ok(SnapshotRead {
                tasks,
                events,
                checksum,
                t_ns: monotonic_ns(),
            })
        },
        StepResult::of_sql,
    )
}
