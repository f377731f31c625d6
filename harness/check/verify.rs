//! Post-run verification of the database, after every worker has exited, from a fresh
//! connection with normal locking (never `immutable=1`, never the db without its `-wal`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

use crate::scenario::JournalMode;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// `ok`, or every line integrity_check printed (capped).
    pub integrity_check: Vec<String>,
    pub quick_check: Vec<String>,
    pub journal_mode: String,
    pub journal_mode_ok: bool,
    pub page_count: u64,
    pub page_size: u64,
    pub file_size: u64,
    /// After `wal_checkpoint(TRUNCATE)`: `file_size == page_count * page_size`.
    pub final_length_ok: bool,
    /// Errors that stopped a step (the database could not be opened, a query failed).
    pub errors: Vec<String>,
    /// The final `wal_checkpoint(TRUNCATE)` answered busy: some process still holds the
    /// database after every worker exited. The length is then not judged (committed pages
    /// legitimately remain in `-wal`), and the database is not called unreadable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_blocked: Option<String>,
}

impl Verification {
    /// `integrity_check` answered exactly `ok` (an error while checking is its own line).
    pub fn integrity_ok(&self) -> bool {
        self.integrity_check == ["ok"]
    }
    /// `quick_check` answered exactly `ok`.
    pub fn quick_ok(&self) -> bool {
        self.quick_check == ["ok"]
    }
}

const MAX_CHECK_LINES: usize = 200;

/// The check's answer, line by line; a check that cannot run answers `error: ...`, which
/// is not `ok` (an error while checking is never a pass).
pub(super) fn check_lines(conn: &Connection, pragma: &str) -> Vec<String> {
    let sql = format!("PRAGMA {pragma}({MAX_CHECK_LINES})");
    let lines = conn.prepare(&sql).and_then(|mut stmt| {
        stmt.query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()
    });
    lines.unwrap_or_else(|e| vec![format!("error: {pragma}: {e}")])
}

/// Opens the database for verification: read-write (recovery of a hot journal or WAL needs
/// it), no create, a busy timeout in case a straggler still holds a lock.
pub fn open_for_verify(db: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(30))?;
    Ok(conn)
}

/// How long the after-run readers (ledger and invariant queries, read-only: see
/// `observe::invariants::open_read_only`) wait for a lock: every worker has exited, so only
/// a leftover process could hold one.
pub const AFTER_RUN_BUSY: Duration = Duration::from_secs(30);

/// Structural checks; the ledger reads the rows through the same connection before the
/// final checkpoint (see [`finalize`]).
pub fn structural(conn: &Connection, expected_mode: JournalMode) -> Verification {
    let mut v = Verification::default();
    match conn.query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0)) {
        Ok(m) => {
            // `app`: judged against what the app reported, by `app_journal_mode`.
            v.journal_mode_ok = expected_mode == JournalMode::App
                || m.eq_ignore_ascii_case(expected_mode.as_sql())
                // DELETE, TRUNCATE and PERSIST are per connection: a fresh one reports its
                // default. Only WAL is a property of the file.
                || (expected_mode != JournalMode::Wal && !m.eq_ignore_ascii_case("wal"));
            v.journal_mode = m;
        }
        Err(e) => v.errors.push(format!("journal_mode: {e}")),
    }
    // A check that errors out has found damage too; its error is its output.
    v.quick_check = check_lines(conn, "quick_check");
    v.integrity_check = check_lines(conn, "integrity_check");
    v
}

/// Checkpoints everything back into the main file and checks the exact length invariant,
/// which holds once no committed page lives only in `-wal`.
pub fn finalize(conn: &Connection, db: &Path, v: &mut Verification) {
    if v.journal_mode.eq_ignore_ascii_case("wal") {
        match conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            r.get::<_, i64>(0)
        }) {
            Ok(0) => {}
            Ok(_) => {
                v.checkpoint_blocked = Some(
                    "wal_checkpoint(TRUNCATE) was blocked (busy) after every worker had exited: another process still holds the database".into(),
                );
                // Still measured for the report; not judged.
            }
            Err(e) => v.errors.push(format!("wal_checkpoint(TRUNCATE): {e}")),
        }
    }
    let pc = conn.query_row("PRAGMA page_count", [], |r| {
        r.get::<_, i64>(0).map(|v| v as u64)
    });
    let ps = conn.query_row("PRAGMA page_size", [], |r| {
        r.get::<_, i64>(0).map(|v| v as u64)
    });
    match (pc, ps, std::fs::metadata(db)) {
        (Ok(pc), Ok(ps), Ok(md)) => {
            v.page_count = pc;
            v.page_size = ps;
            v.file_size = md.len();
            v.final_length_ok = md.len() == pc * ps;
        }
        (pc, ps, md) => {
            let why = [
                pc.err().map(|e| format!("page_count: {e}")),
                ps.err().map(|e| format!("page_size: {e}")),
                md.err().map(|e| format!("stat: {e}")),
            ];
            let why: Vec<String> = why.into_iter().flatten().collect();
            v.errors
                .push(format!("final length not checked: {}", why.join("; ")));
        }
    }
}

/// `journal_mode = "app"`: the mode the app chose, from what its connections reported
/// (`settings`) and what the database says at the end, judged as one mode for the run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppJournalMode {
    /// Each journal mode the app's connections reported, with the workers that reported
    /// it (empty: the adapter reported none).
    pub reported: BTreeMap<String, Vec<u32>>,
    /// The mode the run is judged in: the one the app reported, else the database's.
    pub chosen: String,
    /// Why the app's mode is not one mode for the whole run (the named failure), if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Judges the app's journal mode: one reported mode that the database still has at the
/// end (WAL is a property of the file; the rollback modes all read back as `delete` from
/// a fresh connection). Several reported modes, from one worker or from several, or a
/// database that ended in another mode than the one reported, is a mode that was not the
/// run's mode throughout: a failure. Nothing reported: the database's mode is the app's.
pub fn app_journal_mode(
    reported: impl IntoIterator<Item = (u32, String)>,
    db_mode: &str,
) -> AppJournalMode {
    let mut by_mode: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (worker, mode) in reported {
        let ws = by_mode.entry(mode.to_ascii_lowercase()).or_default();
        if !ws.contains(&worker) {
            ws.push(worker);
        }
    }
    let db = db_mode.to_ascii_lowercase();
    let is_wal = |m: &str| m == "wal";
    let mut a = AppJournalMode {
        chosen: db.clone(),
        ..Default::default()
    };
    let modes: Vec<&String> = by_mode.keys().collect();
    match modes.as_slice() {
        [] => {}
        [one] => {
            a.chosen = (*one).clone();
            if !db.is_empty() && is_wal(one) != is_wal(&db) {
                a.problem = Some(format!(
                    "the app's journal mode changed during the run: its connections set {one}, but the database ended in {db}"
                ));
            }
        }
        many => {
            let who: Vec<String> = many
                .iter()
                .map(|m| format!("{m} (workers {:?})", by_mode[*m]))
                .collect();
            let one_worker_changed = by_mode
                .values()
                .flatten()
                .any(|w| by_mode.values().filter(|ws| ws.contains(w)).count() > 1);
            a.chosen = db.clone();
            a.problem = Some(format!(
                "the app's connections ran in {} journal modes: {}{}; the database ended in {db}",
                many.len(),
                who.join(", "),
                if one_worker_changed {
                    " (a worker's mode changed during the run)"
                } else {
                    " (the workers disagree)"
                }
            ));
        }
    }
    a.reported = by_mode;
    a
}

#[cfg(test)]
mod app_mode_tests {
    use super::app_journal_mode;

    #[test]
    fn one_reported_mode_that_the_database_kept_is_the_apps_mode() {
        let a = app_journal_mode([(0, "delete".into()), (1, "DELETE".into())], "delete");
        assert_eq!(a.chosen, "delete");
        assert_eq!(a.problem, None);
        assert_eq!(a.reported["delete"], [0, 1]);
        let a = app_journal_mode([(0, "wal".into())], "wal");
        assert_eq!((a.chosen.as_str(), a.problem), ("wal", None));
        // TRUNCATE is per connection: a fresh connection reads it back as delete.
        let a = app_journal_mode([(0, "truncate".into())], "delete");
        assert_eq!((a.chosen.as_str(), a.problem), ("truncate", None));
    }

    #[test]
    fn a_mode_the_database_did_not_keep_is_a_change_during_the_run() {
        let a = app_journal_mode([(0, "delete".into())], "wal");
        let p = a.problem.expect("a change is a failure");
        assert!(p.contains("changed during the run"), "{p}");
        let a = app_journal_mode([(0, "wal".into())], "delete");
        assert!(a.problem.is_some());
    }

    #[test]
    fn several_modes_are_named_with_who_reported_them() {
        let a = app_journal_mode([(0, "wal".into()), (1, "delete".into())], "wal");
        let p = a.problem.expect("disagreeing workers fail");
        assert!(p.contains("the workers disagree"), "{p}");
        assert!(p.contains("delete (workers [1])"), "{p}");
        let a = app_journal_mode([(0, "delete".into()), (0, "wal".into())], "wal");
        let p = a.problem.expect("a switch fails");
        assert!(p.contains("changed during the run"), "{p}");
    }

    #[test]
    fn nothing_reported_takes_the_databases_mode() {
        let a = app_journal_mode(std::iter::empty(), "wal");
        assert_eq!((a.chosen.as_str(), a.problem), ("wal", None));
        assert!(a.reported.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database in `mode`, made by a real connection and closed, as a run leaves it.
    fn db_in(dir: &Path, mode: &str) -> std::path::PathBuf {
        let db = dir.join(format!("{mode}.db"));
        let c = Connection::open(&db).unwrap();
        c.execute_batch(&format!(
            "PRAGMA journal_mode={mode}; CREATE TABLE t(x); INSERT INTO t VALUES (1);"
        ))
        .unwrap();
        db
    }

    /// The journal-mode judgement, case by case: WAL is a property of the file, so a WAL
    /// run must find WAL and a rollback run must not; the rollback modes are per connection
    /// (a fresh one reads `delete`); `app` is judged elsewhere, against what the app said.
    #[test]
    fn structural_judges_the_journal_mode_the_file_keeps() {
        let dir = tempfile::tempdir().unwrap();
        let wal = db_in(dir.path(), "wal");
        let delete = db_in(dir.path(), "delete");
        let judged = |db: &Path, expected: JournalMode| {
            let v = structural(&open_for_verify(db).unwrap(), expected);
            assert!(v.errors.is_empty(), "{v:?}");
            (v.journal_mode.to_ascii_lowercase(), v.journal_mode_ok)
        };
        assert_eq!(judged(&wal, JournalMode::Wal), ("wal".into(), true));
        assert_eq!(
            judged(&delete, JournalMode::Delete),
            ("delete".into(), true)
        );
        // A WAL run whose file is not in WAL, and a rollback run whose file is: failures.
        assert_eq!(judged(&delete, JournalMode::Wal), ("delete".into(), false));
        assert_eq!(judged(&wal, JournalMode::Delete), ("wal".into(), false));
        assert_eq!(judged(&wal, JournalMode::Truncate), ("wal".into(), false));
        // TRUNCATE and PERSIST read back as `delete` from a fresh connection: not a failure.
        assert_eq!(
            judged(&delete, JournalMode::Truncate),
            ("delete".into(), true)
        );
        assert_eq!(
            judged(&delete, JournalMode::Persist),
            ("delete".into(), true)
        );
        // `app`: whatever the file says, judged by `app_journal_mode` instead.
        assert_eq!(judged(&wal, JournalMode::App), ("wal".into(), true));
        assert_eq!(judged(&delete, JournalMode::App), ("delete".into(), true));
    }

    /// A healthy file answers exactly `ok` to both checks; one that cannot be checked (here:
    /// not a database at all) answers with its error, which is not `ok`.
    #[test]
    fn only_an_exact_ok_is_a_healthy_check() {
        let dir = tempfile::tempdir().unwrap();
        let v = structural(
            &open_for_verify(&db_in(dir.path(), "wal")).unwrap(),
            JournalMode::Wal,
        );
        assert!(v.integrity_ok() && v.quick_ok(), "{v:?}");
        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, vec![0x5a; 8192]).unwrap();
        let v = structural(&open_for_verify(&junk).unwrap(), JournalMode::Delete);
        assert!(!v.integrity_ok() && !v.quick_ok(), "{v:?}");
        assert!(
            v.integrity_check[0].starts_with("error: integrity_check"),
            "{v:?}"
        );
        let mut v = v;
        v.integrity_check = vec!["ok".into(), "row 3 missing from index i".into()];
        assert!(!v.integrity_ok(), "an `ok` among other lines is not `ok`");
    }

    /// The verification connection may write (recovery of a hot journal needs it) and
    /// never creates a database that is not there.
    #[test]
    fn open_for_verify_reads_and_writes_but_never_creates() {
        let dir = tempfile::tempdir().unwrap();
        let db = db_in(dir.path(), "delete");
        let c = open_for_verify(&db).unwrap();
        c.execute("INSERT INTO t VALUES (2)", []).unwrap();
        let missing = dir.path().join("missing.db");
        assert!(open_for_verify(&missing).is_err());
        assert!(!missing.exists());
    }

    /// A process that still reads the database after the run blocks the final checkpoint:
    /// named as blocked (its own check), not as an unreadable database, and the length it
    /// leaves is measured but not judged. Real SQLite, a real second connection.
    #[test]
    fn a_reader_left_holding_the_database_blocks_the_final_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let writer = Connection::open(&db).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;
                 CREATE TABLE t(x); INSERT INTO t VALUES (1);",
            )
            .unwrap();
        let straggler = Connection::open(&db).unwrap();
        straggler
            .execute_batch("BEGIN; SELECT count(*) FROM t;")
            .unwrap();
        writer.execute("INSERT INTO t VALUES (2)", []).unwrap();

        let conn = open_for_verify(&db).unwrap();
        // The straggler never lets go: do not wait the verification's 30 s for it.
        conn.busy_timeout(Duration::from_millis(50)).unwrap();
        let mut v = structural(&conn, JournalMode::Wal);
        finalize(&conn, &db, &mut v);
        let blocked = v.checkpoint_blocked.as_deref().unwrap_or_default();
        assert!(blocked.contains("blocked (busy)"), "{v:?}");
        assert!(v.errors.is_empty(), "not an unreadable database: {v:?}");

        // Without the straggler the same database checkpoints and has its exact length.
        straggler.execute_batch("COMMIT").unwrap();
        drop(straggler);
        let mut v = structural(&conn, JournalMode::Wal);
        finalize(&conn, &db, &mut v);
        assert_eq!(v.checkpoint_blocked, None, "{v:?}");
        assert!(v.final_length_ok, "{v:?}");
    }
}
