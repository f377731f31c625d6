//! The app's invariants (`[[invariants]]`), queried: each query lists the rows that break a
//! rule of the app's data ("no task claimed by two workers"). The queries run on a
//! read-only connection ([`open_read_only`]): evidence is never run as code that could
//! change it, so an invariant written as `DELETE ... RETURNING` fails instead of emptying
//! what it checks. They run after the run (`check::run`, which judges every invariant) and,
//! in lockstep, at the run's quiescent points during it (the runner, [`InvariantsDuring`]):
//! a rule the app breaks for a while and repairs before the end is seen too.

use std::path::Path;
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

use crate::scenario::Invariant;

/// The rows of one violated invariant kept in the report; the count stays exact.
pub const MAX_FIRST_ROWS: usize = 5;
/// One value's text in a kept row, in characters (a payload column must not flood the page).
const MAX_VALUE_CHARS: usize = 80;

/// One invariant, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvariantReport {
    pub name: String,
    /// Rows the query returned: each one breaks the invariant.
    pub rows: u64,
    /// The first rows (at most [`MAX_FIRST_ROWS`]), each as `column = value, ...`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub first_rows: Vec<String>,
    /// Why the query could not run (an error while checking: a failure, never a pass).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl InvariantReport {
    /// It ran and returned no row.
    pub fn holds(&self) -> bool {
        self.error.is_none() && self.rows == 0
    }
}

/// A read-only connection for reading evidence (ledger and invariant queries): a query that
/// writes fails instead of changing what it reads (`query_only` as well, for the temp
/// schema). `busy`: how long to wait for a lock another connection holds.
pub fn open_read_only(db: &Path, busy: Duration) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(busy)?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

/// Checks every invariant against the database at `db`, through one read-only connection
/// opened for them alone (waiting up to `busy` for a lock) and closed before returning.
pub fn check_file(db: &Path, invariants: &[Invariant], busy: Duration) -> Vec<InvariantReport> {
    match open_read_only(db, busy) {
        Ok(conn) => check(&conn, invariants),
        Err(e) => invariants
            .iter()
            .map(|inv| InvariantReport {
                name: inv.name.clone(),
                error: Some(format!("cannot open the database read-only: {e}")),
                ..Default::default()
            })
            .collect(),
    }
}

/// Checks every invariant through `conn`, which the caller opened read-only.
pub fn check(conn: &Connection, invariants: &[Invariant]) -> Vec<InvariantReport> {
    invariants
        .iter()
        .map(|inv| {
            let mut rep = InvariantReport {
                name: inv.name.clone(),
                ..Default::default()
            };
            if let Err(e) = rows(conn, &inv.sql, &mut rep) {
                rep.error = Some(e.to_string());
            }
            rep
        })
        .collect()
}

/// Counts the rows `sql` returns, keeping the first few as text.
fn rows(conn: &Connection, sql: &str, rep: &mut InvariantReport) -> rusqlite::Result<()> {
    let mut st = conn.prepare(sql)?;
    let names: Vec<String> = st.column_names().map(str::to_string).collect();
    let mut q = st.query([])?;
    while let Some(r) = q.next()? {
        rep.rows += 1;
        if rep.first_rows.len() < MAX_FIRST_ROWS {
            let cells: Vec<String> = names
                .iter()
                .enumerate()
                .map(|(i, n)| Ok(format!("{n} = {}", show(r.get::<_, Value>(i)?))))
                .collect::<rusqlite::Result<_>>()?;
            rep.first_rows.push(cells.join(", "));
        }
    }
    Ok(())
}

/// A value as SQL would write it, cut to [`MAX_VALUE_CHARS`].
fn show(v: Value) -> String {
    let text = match v {
        Value::Null => "NULL".to_string(),
        Value::Integer(i) => i.to_string(),
        Value::Real(f) => f.to_string(),
        Value::Text(t) => format!("'{}'", t.replace('\'', "''")),
        Value::Blob(b) => format!(
            "x'{}'",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ),
    };
    match text.char_indices().nth(MAX_VALUE_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

/// Lockstep: the invariants queried at the run's quiescent points, where every live actor
/// is parked outside any transaction (nothing half-done is in the database's committed
/// state) and at least one step ran since the last point. The runner's connection is
/// read-only, waits for no lock (a lock held there is not the schedule's: the point is not
/// judged) and closes before the next step is granted, so it changes nothing the workers
/// see: the schedule, the trace and its hash are the same with or without invariants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvariantsDuring {
    /// Quiescent points at which the invariants not yet broken were queried.
    pub points: u64,
    /// (point, invariant) pairs not judged: the database could not be read there, or the
    /// query failed (its table did not exist yet, a lock was held outside the schedule).
    /// After the run every invariant is judged again, errors included.
    pub not_judged: u64,
    /// The first of those, with its step and reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_not_judged: Option<String>,
    /// Each invariant's first breach during the run, in the order they were found; an
    /// invariant once broken is not queried again. Invariant: names are unique.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub broken: Vec<BrokenAt>,
}

/// Why reading `db` now would change its directory, if it would: a database in WAL mode whose
/// `-wal` is gone (the last connection closed, checkpointed and deleted it) makes any
/// connection, a read-only one included, create `-wal` and `-shm`, which a read-only one
/// cannot delete again. The runner then does not read: it must not leave files the workers
/// would not have found. The header is read with a plain descriptor, closed at once; the
/// runner holds no SQLite connection to the database then (POSIX locks are per process).
fn reading_would_create_files(db: &Path) -> Option<&'static str> {
    use std::io::Read;
    let mut header = [0u8; 20];
    std::fs::File::open(db).ok()?.read_exact(&mut header).ok()?;
    // Byte 19, the file format's read version, is what SQLite opens a WAL by (2: WAL);
    // byte 18, the write version, only makes the file read-only when over 2. A damaged
    // header can set one without the other.
    let wal = header[19] == 2;
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    (wal && !Path::new(&name).exists()).then_some(
        "the database is in WAL mode and has no -wal (every connection had closed): reading it would create -wal and -shm",
    )
}

/// An invariant's first breach during the run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenAt {
    /// Steps the coordinator had recorded: the breach was committed by step `step - 1` at
    /// the latest.
    pub step: u64,
    #[serde(flatten)]
    pub report: InvariantReport,
}

impl InvariantsDuring {
    /// Queries, at the quiescent point after `step` steps, every invariant not yet broken.
    pub fn check_at(&mut self, db: &Path, invariants: &[Invariant], step: u64) {
        let open: Vec<Invariant> = invariants
            .iter()
            .filter(|inv| self.first_breach(&inv.name).is_none())
            .cloned()
            .collect();
        if open.is_empty() {
            return;
        }
        self.points += 1;
        if let Some(why) = reading_would_create_files(db) {
            self.not_judged += open.len() as u64;
            if self.first_not_judged.is_none() {
                self.first_not_judged = Some(format!("step {step}: {why}"));
            }
            return;
        }
        for report in check_file(db, &open, Duration::ZERO) {
            if let Some(e) = &report.error {
                self.not_judged += 1;
                if self.first_not_judged.is_none() {
                    self.first_not_judged = Some(format!("step {step}, {:?}: {e}", report.name));
                }
            } else if report.rows > 0 {
                self.broken.push(BrokenAt { step, report });
            }
        }
        debug_assert!(
            self.broken.iter().enumerate().all(|(i, b)| self.broken[..i]
                .iter()
                .all(|o| o.report.name != b.report.name)),
            "an invariant's first breach is recorded once"
        );
    }

    /// The first breach of the invariant named `name`, if it broke during the run.
    pub fn first_breach(&self, name: &str) -> Option<&BrokenAt> {
        self.broken.iter().find(|b| b.report.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(name: &str, sql: &str) -> Invariant {
        Invariant {
            name: name.into(),
            sql: sql.into(),
        }
    }

    /// A real database file with two runs of one task (a double claim) and one of another.
    fn db() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             CREATE TABLE task_runs (task_id TEXT, claimed_by TEXT);
             INSERT INTO task_runs VALUES ('a', 'w0'), ('a', 'w1'), ('b', 'w2');",
        )
        .unwrap();
        (dir, path)
    }

    const DOUBLE_CLAIM: &str = "SELECT task_id, group_concat(claimed_by) AS by FROM task_runs
         GROUP BY task_id HAVING count(DISTINCT claimed_by) > 1";

    /// One that holds passes with no row; one that is broken names its rows, exactly.
    #[test]
    fn a_broken_invariant_counts_and_shows_its_rows_and_one_that_holds_passes() {
        let (_d, path) = db();
        let reps = check_file(
            &path,
            &[
                inv(
                    "every run names its worker",
                    "SELECT * FROM task_runs WHERE claimed_by IS NULL",
                ),
                inv("no task claimed by two workers", DOUBLE_CLAIM),
            ],
            Duration::ZERO,
        );
        assert!(reps[0].holds(), "{reps:?}");
        assert!(reps[0].first_rows.is_empty());
        assert_eq!(reps[1].name, "no task claimed by two workers");
        assert_eq!(reps[1].rows, 1);
        assert_eq!(reps[1].first_rows, ["task_id = 'a', by = 'w0,w1'"]);
        assert!(!reps[1].holds());
    }

    /// The row count stays exact past the kept rows (mutant `<` to `<=`).
    #[test]
    fn only_the_first_rows_are_kept() {
        let (_d, path) = db();
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20)
             INSERT INTO task_runs SELECT 'c' || i, 'w' || i FROM n",
        )
        .unwrap();
        let reps = check_file(
            &path,
            &[inv("none", "SELECT task_id FROM task_runs")],
            Duration::ZERO,
        );
        assert_eq!(reps[0].rows, 23);
        assert_eq!(reps[0].first_rows.len(), MAX_FIRST_ROWS);
    }

    /// Evidence is never run as code that could change it: an invariant that writes fails
    /// (an error, not a pass) and the database keeps every row. A query that does not
    /// exist, or two statements in one, fail too.
    #[test]
    fn an_invariant_that_writes_or_cannot_run_fails_and_the_database_stays_whole() {
        let (_d, path) = db();
        let reps = check_file(
            &path,
            &[
                inv("deletes", "DELETE FROM task_runs RETURNING task_id"),
                inv("no such table", "SELECT * FROM gone"),
                inv("two statements", "SELECT 1 WHERE 0; DELETE FROM task_runs"),
            ],
            Duration::ZERO,
        );
        for r in &reps {
            assert!(r.error.is_some() && !r.holds(), "{r:?}");
        }
        let readonly = reps[0].error.as_deref().unwrap();
        assert!(
            readonly.contains("readonly")
                || readonly.contains("read-only")
                || readonly.contains("query_only"),
            "{readonly}"
        );
        let conn = Connection::open(&path).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM task_runs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 3);
    }

    /// A database that cannot be opened: every invariant fails with the reason.
    #[test]
    fn a_missing_database_fails_every_invariant() {
        let dir = tempfile::tempdir().unwrap();
        let reps = check_file(
            &dir.path().join("absent.db"),
            &[inv("x", "SELECT 1")],
            Duration::ZERO,
        );
        assert!(
            reps[0].error.as_deref().unwrap().contains("cannot open"),
            "{reps:?}"
        );
        assert_eq!(reps[0].name, "x", "each failure names its invariant");
    }

    /// Only a WAL database without its `-wal` would grow files when read: a rollback-mode
    /// database never does, nor a WAL database whose `-wal` is there.
    #[test]
    fn only_a_wal_database_without_its_wal_would_create_files() {
        let (dir, path) = db(); // WAL mode, -wal deleted
        assert!(reading_would_create_files(&path).is_some());
        let conn = Connection::open(&path).unwrap();
        conn.query_row("SELECT count(*) FROM task_runs", [], |_| Ok(()))
            .unwrap();
        assert_eq!(reading_would_create_files(&path), None, "-wal present");
        drop(conn);
        let rollback = dir.path().join("r.db");
        let conn = Connection::open(&rollback).unwrap();
        conn.execute_batch("PRAGMA journal_mode = delete; CREATE TABLE t(x);")
            .unwrap();
        drop(conn);
        assert!(!dir.path().join("r.db-wal").exists());
        assert_eq!(reading_would_create_files(&rollback), None, "rollback mode");
        // A damaged header: SQLite goes by the read version (byte 19) alone.
        let set = |b18: u8, b19: u8| {
            let mut bytes = std::fs::read(&rollback).unwrap();
            (bytes[18], bytes[19]) = (b18, b19);
            std::fs::write(&rollback, bytes).unwrap();
        };
        set(2, 1);
        assert_eq!(
            reading_would_create_files(&rollback),
            None,
            "write version only"
        );
        set(1, 2);
        assert!(
            reading_would_create_files(&rollback).is_some(),
            "read version 2"
        );
        // ... and SQLite does open that file as a WAL database, creating its -wal.
        let conn = Connection::open(&rollback).unwrap();
        conn.query_row("SELECT count(*) FROM t", [], |_| Ok(()))
            .unwrap();
        assert!(dir.path().join("r.db-wal").exists());
    }

    #[test]
    fn long_values_are_cut() {
        let long = show(Value::Text("x".repeat(500)));
        assert_eq!(long.chars().count(), MAX_VALUE_CHARS + 3);
        assert_eq!(show(Value::Blob(vec![1, 255])), "x'01ff'");
        assert_eq!(show(Value::Null), "NULL");
    }
    /// During the run: a breach is recorded once, at its first point, and the invariant is
    /// not read again; a query that cannot run there (its table not created yet) is counted
    /// as not judged, never as a breach or a pass; points count the reads.
    #[test]
    fn during_the_run_a_breach_is_kept_once_and_an_unreadable_point_is_not_judged() {
        let (_d, path) = db();
        // A worker's connection stays open, as in a run: the -wal is there.
        let worker = Connection::open(&path).unwrap();
        worker
            .query_row("SELECT count(*) FROM task_runs", [], |_| Ok(()))
            .unwrap();
        let invs = [
            inv("no task claimed by two workers", DOUBLE_CLAIM),
            inv("later", "SELECT * FROM not_yet"),
            inv("holds", "SELECT 1 WHERE 0"),
        ];
        let mut d = InvariantsDuring::default();
        d.check_at(&path, &invs, 4);
        d.check_at(&path, &invs, 9);
        assert_eq!(d.points, 2);
        assert_eq!(d.broken.len(), 1, "{d:?}");
        assert!(d.first_breach("holds").is_none(), "no rows: it held");
        assert_eq!(d.broken[0].step, 4);
        assert_eq!(
            d.first_breach("no task claimed by two workers")
                .unwrap()
                .report
                .rows,
            1
        );
        assert!(d.first_breach("later").is_none());
        assert_eq!(d.not_judged, 2);
        let why = d.first_not_judged.as_deref().unwrap();
        assert!(
            why.starts_with("step 4, \"later\": ") && why.contains("not_yet"),
            "{why}"
        );
        // Once every invariant broke, there is nothing left to read: no more points.
        let mut all = InvariantsDuring::default();
        all.check_at(&path, &invs[..1], 1);
        all.check_at(&path, &invs[..1], 2);
        assert_eq!((all.points, all.broken.len()), (1, 1));
    }
    /// A WAL database every connection has closed has no `-wal`: reading it would create
    /// `-wal` and `-shm` that the workers would not have found, so the point is not judged
    /// and the directory stays as it was (mutant: the guard removed).
    #[test]
    fn a_closed_wal_database_is_not_read_during_the_run() {
        let (dir, path) = db(); // WAL mode; its only connection closed, -wal deleted
        let wal = dir.path().join("t.db-wal");
        let shm = dir.path().join("t.db-shm");
        assert!(!wal.exists() && !shm.exists());
        let mut d = InvariantsDuring::default();
        d.check_at(
            &path,
            &[inv("no task claimed by two workers", DOUBLE_CLAIM)],
            3,
        );
        assert_eq!((d.points, d.not_judged, d.broken.len()), (1, 1, 0), "{d:?}");
        assert!(d.first_not_judged.unwrap().contains("would create -wal"));
        assert!(!wal.exists() && !shm.exists(), "the read left files behind");
        // With a connection open (its -wal present) the same point is read.
        let conn = Connection::open(&path).unwrap();
        conn.query_row("SELECT count(*) FROM task_runs", [], |_| Ok(()))
            .unwrap();
        assert!(wal.exists());
        let mut d = InvariantsDuring::default();
        d.check_at(
            &path,
            &[inv("no task claimed by two workers", DOUBLE_CLAIM)],
            3,
        );
        assert_eq!((d.not_judged, d.broken.len()), (0, 1), "{d:?}");
    }
}
