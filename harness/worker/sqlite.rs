//! Opening connections the way the field app does, and naming SQLite's result codes.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, ffi};

use crate::scenario::{JournalMode, SqliteConfig};

/// The SQLite library linked into this binary (rusqlite's bundled copy).
pub fn sqlite_version() -> &'static str {
    rusqlite::version()
}

/// What a connection actually runs with, read back from SQLite (PROTOCOL.md, `settings`):
/// the same message an adapter sends, so a report shows what ran, not what was asked.
pub fn read_settings(conn: &Connection) -> crate::observe::AppSettings {
    let text = |pragma: &str| -> Option<String> {
        conn.query_row(&format!("PRAGMA {pragma}"), [], |r| r.get::<_, String>(0))
            .ok()
            .map(|v| v.to_lowercase())
    };
    let int = |pragma: &str| -> Option<i64> {
        conn.query_row(&format!("PRAGMA {pragma}"), [], |r| r.get(0))
            .ok()
    };
    crate::observe::AppSettings {
        sqlite_version: sqlite_version().to_string(),
        journal_mode: text("journal_mode"),
        synchronous: int("synchronous").and_then(|n| {
            crate::scenario::Synchronous::ALL
                .get(usize::try_from(n).ok()?)
                .map(|s| s.as_sql().to_string())
        }),
        wal_autocheckpoint: int("wal_autocheckpoint"),
        busy_timeout_ms: int("busy_timeout"),
        locking_mode: text("locking_mode"),
        mmap_size: int("mmap_size"),
    }
}

/// Opens a connection and applies the scenario's settings in the field app's order:
/// `busy_timeout` first (so that `journal_mode=WAL` waits instead of failing), then the
/// journal mode, then the rest.
pub fn open(path: &Path, cfg: &SqliteConfig, busy_timeout_ms: u32) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    // Workers of an `[io]` scenario open through the fault VFS; everyone else through
    // SQLite's own (the fault VFS is then not even registered).
    let conn = match super::vfs::active() {
        Some(vfs) => Connection::open_with_flags_and_vfs(path, flags, vfs)?,
        None => Connection::open_with_flags(path, flags)?,
    };
    conn.busy_timeout(Duration::from_millis(u64::from(busy_timeout_ms)))?;
    if let Some(ps) = cfg.page_size {
        conn.pragma_update(None, "page_size", ps)?;
    }
    // `journal_mode = "app"`: the app's connections choose; walburst's own (the runner's
    // setup) leave the file in SQLite's default rollback journal, so the app's rule is
    // what decides whether the database becomes WAL.
    let mode: String = match cfg.journal_mode.fixed() {
        Some(m) => conn.query_row(&format!("PRAGMA journal_mode={}", m.as_sql()), [], |r| {
            r.get(0)
        })?,
        None => conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?,
    };
    if !mode.eq_ignore_ascii_case(cfg.journal_mode.as_sql()) && cfg.journal_mode == JournalMode::Wal
    {
        // SQLite answers with the mode in force when it could not switch; never run a
        // WAL scenario silently in another mode.
        return Err(rusqlite::Error::SqliteFailure(
            ffi::Error::new(ffi::SQLITE_ERROR),
            Some(format!(
                "journal_mode=wal was refused; the database stayed in {mode}"
            )),
        ));
    }
    if !cfg.checkpoint_on_close {
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
            true,
        )?;
    }
    conn.pragma_update(None, "synchronous", cfg.synchronous.as_sql())?;
    // Answers with the size in force: read back in the worker's `settings`.
    if let Some(m) = cfg.mmap_size {
        conn.execute_batch(&format!("PRAGMA mmap_size={m}"))?;
    }
    conn.pragma_update(None, "wal_autocheckpoint", cfg.wal_autocheckpoint)?;
    conn.query_row(
        &format!("PRAGMA journal_size_limit={}", cfg.journal_size_limit),
        [],
        |_| Ok(()),
    )?;
    conn.pragma_update(
        None,
        "secure_delete",
        if cfg.secure_delete { "ON" } else { "OFF" },
    )?;
    conn.pragma_update(
        None,
        "cell_size_check",
        if cfg.cell_size_check { "ON" } else { "OFF" },
    )?;
    Ok(conn)
}
