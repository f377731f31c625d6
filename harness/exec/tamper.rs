//! Deliberate damage after the run (`[faults] after_run`), the positive controls that prove
//! the ledger and integrity checks fire. Runs only after every worker has exited.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;

use rand::RngExt;
use rusqlite::Connection;

use crate::plan::stream;
use crate::scenario::Tamper;

fn open(db: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open(db)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}

/// Checkpoints everything into the main file, then returns (page size, pages, root page of
/// `tasks`). The connection is closed before any raw write: a descriptor closed in a process
/// that holds SQLite connections would drop their POSIX locks.
fn settle(db: &Path) -> anyhow::Result<(u64, u64, u64)> {
    let conn = open(db)?;
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    if mode.eq_ignore_ascii_case("wal") {
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    }
    let ps: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let pc: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    let root: i64 = conn.query_row(
        "SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = 'tasks'",
        [],
        |r| r.get(0),
    )?;
    conn.close().map_err(|(_, e)| e)?;
    Ok((ps as u64, pc as u64, root as u64))
}

/// Applies `tamper` to the database; returns what was done, for the report.
pub fn apply(db: &Path, tamper: Tamper, seed: u64) -> anyhow::Result<Option<String>> {
    match tamper {
        Tamper::None => Ok(None),
        Tamper::DeleteCommittedRow => {
            let conn = open(db)?;
            let victim: Option<(i64, i64, i64)> = conn
                .query_row(
                    "SELECT id, worker, seq FROM task_events WHERE kind = 'created' ORDER BY id LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .ok();
            let Some((id, w, s)) = victim else {
                anyhow::bail!("delete-committed-row: no committed `created` event to delete");
            };
            conn.execute("DELETE FROM task_events WHERE id = ?1", [id])?;
            conn.close().map_err(|(_, e)| e)?;
            Ok(Some(format!(
                "injected fault: deleted event {id} (worker {w} seq {s}) after the run"
            )))
        }
        Tamper::GarbagePage => {
            let (ps, _, root) = settle(db)?;
            let mut rng = stream(seed, "tamper", 0, 0);
            let garbage: Vec<u8> = (0..ps).map(|_| rng.random()).collect();
            let f = OpenOptions::new().write(true).open(db)?;
            f.write_all_at(&garbage, (root - 1) * ps)?;
            f.sync_all()?;
            Ok(Some(format!(
                "injected fault: overwrote page {root} (root of `tasks`) with {ps} bytes of garbage"
            )))
        }
        Tamper::RemoveWal => {
            let mut removed = Vec::new();
            for suffix in ["-wal", "-shm"] {
                let mut p = db.as_os_str().to_owned();
                p.push(suffix);
                let p = std::path::PathBuf::from(p);
                if p.exists() {
                    let len = std::fs::metadata(&p)?.len();
                    std::fs::remove_file(&p)?;
                    removed.push(format!("{suffix} ({len} bytes)"));
                }
            }
            if removed.is_empty() {
                anyhow::bail!(
                    "remove-wal: there was no -wal to remove (was checkpoint_on_close left on?)"
                );
            }
            Ok(Some(format!(
                "injected fault: removed {} while no connection was open",
                removed.join(" and ")
            )))
        }
        Tamper::LeaveWal => {
            let conn = open(db)?;
            let before: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
            if !before.eq_ignore_ascii_case("wal") {
                anyhow::bail!("leave-wal: the database is in {before} mode, not wal");
            }
            let after: String = conn.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
            conn.close().map_err(|(_, e)| e)?;
            Ok(Some(format!(
                "injected fault: switched the journal mode from {before} to {after}"
            )))
        }
        Tamper::AppendPage => {
            let (ps, pc, _) = settle(db)?;
            let f = OpenOptions::new().write(true).open(db)?;
            f.set_len((pc + 1) * ps)?;
            f.sync_all()?;
            Ok(Some(format!(
                "injected fault: grew the main file from {pc} to {} pages",
                pc + 1
            )))
        }
        Tamper::TruncatePage => {
            let (ps, pc, _) = settle(db)?;
            let f = OpenOptions::new().write(true).open(db)?;
            f.set_len((pc - 1) * ps)?;
            f.sync_all()?;
            Ok(Some(format!(
                "injected fault: cut the main file from {pc} to {} pages",
                pc - 1
            )))
        }
    }
}
