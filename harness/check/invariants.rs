//! The app's invariants (`[[invariants]]`): each query lists the rows that break a rule of
//! the app's data ("no task claimed by two workers"); any row fails the run, naming the
//! invariant and its first rows. The queries run on a read-only connection
//! (`verify::open_read_only`): evidence is never run as code that could change it, so an
//! invariant written as `DELETE ... RETURNING` fails instead of emptying what it checks.
//! An invariant that cannot run is a failure too, never a pass.

use std::path::Path;

use rusqlite::Connection;
use rusqlite::types::Value;
use serde::{Deserialize, Serialize};

use super::verify;
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

/// Checks every invariant against the database at `db`, through one read-only connection
/// opened for them alone and closed before returning.
pub fn check_file(db: &Path, invariants: &[Invariant]) -> Vec<InvariantReport> {
    match verify::open_read_only(db) {
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
        let reps = check_file(&path, &[inv("none", "SELECT task_id FROM task_runs")]);
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
        let reps = check_file(&dir.path().join("absent.db"), &[inv("x", "SELECT 1")]);
        assert!(
            reps[0].error.as_deref().unwrap().contains("cannot open"),
            "{reps:?}"
        );
    }

    #[test]
    fn long_values_are_cut() {
        let long = show(Value::Text("x".repeat(500)));
        assert_eq!(long.chars().count(), MAX_VALUE_CHARS + 3);
        assert_eq!(show(Value::Blob(vec![1, 255])), "x'01ff'");
        assert_eq!(show(Value::Null), "NULL");
    }
}
