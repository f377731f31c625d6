//! Deliberate damage after the run (`[faults] after_run`), the positive controls that prove
//! the ledger and integrity checks fire. Runs only after every worker has exited.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use rand::RngExt;
use rusqlite::Connection;

use crate::plan::stream;
use crate::scenario::Tamper;

/// Why a `[faults] after_run` tamper could not be applied: the positive control would prove
/// nothing, so the run stops with this error instead of judging an untouched database.
#[derive(Debug, thiserror::Error)]
pub enum TamperError {
    /// A SQLite step on the database failed.
    #[error("after_run = {}: {step} on {}", name(*tamper), db.display())]
    Sqlite {
        tamper: Tamper,
        db: PathBuf,
        step: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// A file operation (on the database, its `-wal` or `-shm`) failed.
    #[error("after_run = {}: {step} {}", name(*tamper), path.display())]
    Io {
        tamper: Tamper,
        path: PathBuf,
        step: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The database offers nothing for the tamper to act on.
    #[error("{}: {why}", name(*tamper))]
    NothingToTamper { tamper: Tamper, why: String },
}

/// The tamper as the scenario file spells it (`garbage-page`).
fn name(t: Tamper) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{t:?}"))
}

/// Error constructors for one tamper on one database.
#[derive(Clone, Copy)]
struct On<'a> {
    tamper: Tamper,
    db: &'a Path,
}

impl On<'_> {
    fn sql(self, step: &'static str) -> impl Fn(rusqlite::Error) -> TamperError {
        move |source| TamperError::Sqlite {
            tamper: self.tamper,
            db: self.db.to_path_buf(),
            step,
            source,
        }
    }

    fn io<'p>(
        self,
        step: &'static str,
        path: &'p Path,
    ) -> impl Fn(std::io::Error) -> TamperError + 'p {
        let tamper = self.tamper;
        move |source| TamperError::Io {
            tamper,
            path: path.to_path_buf(),
            step,
            source,
        }
    }

    fn nothing(self, why: impl Into<String>) -> TamperError {
        TamperError::NothingToTamper {
            tamper: self.tamper,
            why: why.into(),
        }
    }

    fn open(self) -> Result<Connection, TamperError> {
        let conn = Connection::open(self.db).map_err(self.sql("opening"))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(self.sql("setting the busy timeout"))?;
        Ok(conn)
    }

    fn close(self, conn: Connection) -> Result<(), TamperError> {
        conn.close().map_err(|(_, e)| self.sql("closing")(e))
    }

    /// Checkpoints everything into the main file, then returns (page size, pages, root page
    /// of `tasks`). The connection is closed before any raw write: a descriptor closed in a
    /// process that holds SQLite connections would drop their POSIX locks.
    fn settle(self) -> Result<(u64, u64, u64), TamperError> {
        let conn = self.open()?;
        let pragma = |sql: &str| -> rusqlite::Result<i64> { conn.query_row(sql, [], |r| r.get(0)) };
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(self.sql("reading the journal mode"))?;
        if mode.eq_ignore_ascii_case("wal") {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(self.sql("checkpointing"))?;
        }
        let ps = pragma("PRAGMA page_size").map_err(self.sql("reading the page size"))?;
        let pc = pragma("PRAGMA page_count").map_err(self.sql("reading the page count"))?;
        let root =
            pragma("SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = 'tasks'")
                .map_err(self.sql("finding the root page of `tasks`"))?;
        self.close(conn)?;
        Ok((ps as u64, pc as u64, root as u64))
    }

    /// Opens the main file for a raw write (only after [`On::settle`] closed its connection).
    fn raw(self) -> Result<std::fs::File, TamperError> {
        OpenOptions::new()
            .write(true)
            .open(self.db)
            .map_err(self.io("opening", self.db))
    }
}

/// Applies `tamper` to the database; returns what was done, for the report.
pub fn apply(db: &Path, tamper: Tamper, seed: u64) -> Result<Option<String>, TamperError> {
    let on = On { tamper, db };
    match tamper {
        Tamper::None => Ok(None),
        Tamper::DeleteCommittedRow => {
            let conn = on.open()?;
            let victim: Option<(i64, i64, i64)> = conn
                .query_row(
                    "SELECT id, worker, seq FROM task_events WHERE kind = 'created' ORDER BY id LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .ok();
            let Some((id, w, s)) = victim else {
                return Err(on.nothing("no committed `created` event to delete"));
            };
            conn.execute("DELETE FROM task_events WHERE id = ?1", [id])
                .map_err(on.sql("deleting the event"))?;
            on.close(conn)?;
            Ok(Some(format!(
                "injected fault: deleted event {id} (worker {w} seq {s}) after the run"
            )))
        }
        Tamper::LoseUpdate => {
            let conn = on.open()?;
            let victim: Option<String> = conn
                .query_row(
                    "SELECT id FROM tasks WHERE heartbeat_at IS NOT NULL ORDER BY id LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .ok();
            let Some(id) = victim else {
                return Err(on.nothing("no task with a committed heartbeat to undo"));
            };
            conn.execute("UPDATE tasks SET heartbeat_at = NULL WHERE id = ?1", [&id])
                .map_err(on.sql("undoing the heartbeat"))?;
            on.close(conn)?;
            Ok(Some(format!(
                "injected fault: undid the heartbeat of task {id} (tasks.heartbeat_at) after the run"
            )))
        }
        Tamper::GarbagePage => {
            let (ps, _, root) = on.settle()?;
            let mut rng = stream(seed, "tamper", 0, 0);
            let garbage: Vec<u8> = (0..ps).map(|_| rng.random()).collect();
            let f = on.raw()?;
            f.write_all_at(&garbage, (root - 1) * ps)
                .and_then(|()| f.sync_all())
                .map_err(on.io("overwriting a page of", db))?;
            Ok(Some(format!(
                "injected fault: overwrote page {root} (root of `tasks`) with {ps} bytes of garbage"
            )))
        }
        Tamper::RemoveWal => {
            let mut removed = Vec::new();
            for suffix in ["-wal", "-shm"] {
                let mut p = db.as_os_str().to_owned();
                p.push(suffix);
                let p = PathBuf::from(p);
                if p.exists() {
                    let len = std::fs::metadata(&p)
                        .map_err(on.io("reading the size of", &p))?
                        .len();
                    std::fs::remove_file(&p).map_err(on.io("removing", &p))?;
                    removed.push(format!("{suffix} ({len} bytes)"));
                }
            }
            if removed.is_empty() {
                return Err(
                    on.nothing("there was no -wal to remove (was checkpoint_on_close left on?)")
                );
            }
            Ok(Some(format!(
                "injected fault: removed {} while no connection was open",
                removed.join(" and ")
            )))
        }
        Tamper::LeaveWal => {
            let conn = on.open()?;
            let before: String = conn
                .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .map_err(on.sql("reading the journal mode"))?;
            if !before.eq_ignore_ascii_case("wal") {
                return Err(on.nothing(format!("the database is in {before} mode, not wal")));
            }
            let after: String = conn
                .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
                .map_err(on.sql("switching the journal mode"))?;
            on.close(conn)?;
            Ok(Some(format!(
                "injected fault: switched the journal mode from {before} to {after}"
            )))
        }
        Tamper::AppendPage => {
            let (ps, pc, _) = on.settle()?;
            let f = on.raw()?;
            f.set_len((pc + 1) * ps)
                .and_then(|()| f.sync_all())
                .map_err(on.io("growing", db))?;
            Ok(Some(format!(
                "injected fault: grew the main file from {pc} to {} pages",
                pc + 1
            )))
        }
        Tamper::ZeroSuperJournal => zero_super_journals(on),
        Tamper::TruncatePage => {
            let (ps, pc, _) = on.settle()?;
            let f = on.raw()?;
            f.set_len((pc - 1) * ps)
                .and_then(|()| f.sync_all())
                .map_err(on.io("cutting", db))?;
            Ok(Some(format!(
                "injected fault: cut the main file from {pc} to {} pages",
                pc - 1
            )))
        }
    }
}

/// `zero-super-journal`: every `<db>-mj...` beside the database, zeroed at its own length
/// (a zero-length file would read as absent to SQLite, which is no damage at all).
fn zero_super_journals(on: On) -> Result<Option<String>, TamperError> {
    let db = on.db;
    let dir = db.parent().unwrap_or(Path::new("."));
    let prefix = format!(
        "{}-mj",
        db.file_name().unwrap_or_default().to_string_lossy()
    );
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(on.io("listing", dir))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(on.nothing(
            "no super-journal was left beside the database (no multi-database commit was interrupted at its commit point)",
        ));
    }
    for n in &names {
        let p = dir.join(n);
        let len = std::fs::metadata(&p)
            .map_err(on.io("reading the size of", &p))?
            .len();
        let f = OpenOptions::new()
            .write(true)
            .open(&p)
            .map_err(on.io("opening", &p))?;
        f.write_all_at(&vec![0u8; len as usize], 0)
            .and_then(|()| f.sync_all())
            .map_err(on.io("zeroing", &p))?;
    }
    Ok(Some(format!(
        "injected fault: zeroed the super-journal(s) {} (their length kept) while no connection was open",
        names.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tamper_with_nothing_to_act_on_or_no_table_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        Connection::open(&db)
            .unwrap()
            .execute_batch("CREATE TABLE t (x);")
            .unwrap();
        match apply(&db, Tamper::LeaveWal, 1) {
            Err(TamperError::NothingToTamper { tamper, why }) => {
                assert_eq!(tamper, Tamper::LeaveWal);
                assert!(why.contains("not wal"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        // No super-journal beside the database: nothing zeroed, and the run is not judged.
        match apply(&db, Tamper::ZeroSuperJournal, 1) {
            Err(TamperError::NothingToTamper { tamper, why }) => {
                assert_eq!(tamper, Tamper::ZeroSuperJournal);
                assert!(why.contains("no super-journal"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        // One left beside it is zeroed at its own length (an empty file would read as absent).
        let sj = dir.path().join("x.db-mj0123459AB");
        std::fs::write(&sj, b"/r/x.db-journal\0/r/y.db-journal\0").unwrap();
        let done = apply(&db, Tamper::ZeroSuperJournal, 1).unwrap().unwrap();
        assert!(done.contains("x.db-mj0123459AB"), "{done}");
        assert_eq!(std::fs::read(&sj).unwrap(), vec![0u8; 32]);
        // No `tasks` table: the step that failed and the database are named.
        let e = apply(&db, Tamper::GarbagePage, 1).unwrap_err();
        assert!(
            e.to_string().starts_with("after_run = garbage-page: "),
            "{e}"
        );
        match e {
            TamperError::Sqlite {
                tamper,
                db: at,
                step,
                ..
            } => {
                assert_eq!((tamper, at), (Tamper::GarbagePage, db));
                assert_eq!(step, "finding the root page of `tasks`");
            }
            other => panic!("{other:?}"),
        }
    }
}
