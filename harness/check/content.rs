//! A canonical hash of the database's content: every table by name, every row in
//! primary-key order, every value typed. Two lockstep runs of one seed must agree on it.

use rusqlite::Connection;
use rusqlite::types::ValueRef;
use sha2::{Digest, Sha256};

use crate::plan::digest_hex;

pub fn content_hash(conn: &Connection) -> rusqlite::Result<String> {
    let mut h = Sha256::new();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for t in tables {
        let pk: Vec<String> = conn
            .prepare(&format!(
                "SELECT name FROM pragma_table_info('{t}') WHERE pk > 0 ORDER BY pk"
            ))?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let order = if pk.is_empty() {
            "rowid".to_string()
        } else {
            pk.join(", ")
        };
        h.update(format!("table {t}\n").as_bytes());
        let mut st = conn.prepare(&format!("SELECT * FROM \"{t}\" ORDER BY {order}"))?;
        let n = st.column_count();
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            for i in 0..n {
                match r.get_ref(i)? {
                    ValueRef::Null => h.update(b"N;"),
                    ValueRef::Integer(v) => h.update(format!("I{v};").as_bytes()),
                    ValueRef::Real(v) => h.update(format!("R{};", v.to_bits()).as_bytes()),
                    ValueRef::Text(v) => {
                        h.update(format!("T{}:", v.len()).as_bytes());
                        h.update(v);
                    }
                    ValueRef::Blob(v) => {
                        h.update(format!("B{}:", v.len()).as_bytes());
                        h.update(v);
                    }
                }
            }
            h.update(b"\n");
        }
    }
    Ok(digest_hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kanban schema plus a table without a primary key and one with a composite key,
    /// one row in each, on a real SQLite file.
    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("c.db")).unwrap();
        crate::workload::kanban::create_schema(&conn).unwrap();
        conn.execute_batch(
            "CREATE TABLE bare (a, b);
             CREATE TABLE pair (x INTEGER, y TEXT, v, PRIMARY KEY (y, x));
             INSERT INTO tasks (id, title, body, created_at, updated_at, created_worker, created_seq)
                 VALUES ('t', 'title', 'body', 1, 1, 0, 0);
             INSERT INTO task_events (task_id, kind, payload, created_at, worker, seq)
                 VALUES ('t', 'created', '{}', 1, 0, 0);
             INSERT INTO task_runs (task_id, claimed_by, started_at, worker, seq)
                 VALUES ('t', 'w000', 1, 0, 1);
             INSERT INTO task_comments (task_id, author, body, created_at, worker, seq)
                 VALUES ('t', 'w000', 'c', 1, 0, 2);
             INSERT INTO bare VALUES (1, 'one');
             INSERT INTO pair VALUES (1, 'a', 'v');",
        )
        .unwrap();
        (dir, conn)
    }

    const TABLES: [&str; 6] = [
        "tasks",
        "task_events",
        "task_runs",
        "task_comments",
        "bare",
        "pair",
    ];

    /// Issue 27: the hash covers every table, the schema's and any other: one more row, or
    /// one value changed, in any one table changes it; undoing the change restores it.
    #[test]
    fn a_change_to_any_one_table_changes_the_hash() {
        let (_d, conn) = db();
        let before = content_hash(&conn).unwrap();
        assert_eq!(content_hash(&conn).unwrap(), before, "stable");
        for t in TABLES {
            conn.execute_batch("SAVEPOINT s").unwrap();
            // One value changed: the last column of its one row.
            let last: String = conn
                .query_row(
                    &format!("SELECT name FROM pragma_table_info('{t}') ORDER BY cid DESC LIMIT 1"),
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            conn.execute_batch(&format!("UPDATE {t} SET {last} = 'changed'"))
                .unwrap();
            assert_ne!(content_hash(&conn).unwrap(), before, "{t}.{last} changed");
            conn.execute_batch("ROLLBACK TO s; RELEASE s").unwrap();
            assert_eq!(content_hash(&conn).unwrap(), before, "{t} restored");
        }
        for t in TABLES {
            conn.execute_batch("SAVEPOINT s").unwrap();
            conn.execute_batch(&format!("DELETE FROM {t}")).unwrap();
            assert_ne!(content_hash(&conn).unwrap(), before, "{t} emptied");
            conn.execute_batch("ROLLBACK TO s; RELEASE s").unwrap();
        }
    }

    /// A value's type is part of it, and so is a table's name: the same bytes under another
    /// type or in another table hash differently.
    #[test]
    fn types_and_table_names_are_hashed() {
        let hash_of = |sql: &str| {
            let conn = Connection::open_in_memory().unwrap();
            conn.execute_batch(sql).unwrap();
            content_hash(&conn).unwrap()
        };
        let values = [
            "NULL", "''", "1", "'1'", "1.0", "x'31'", "2", "'2'", "x'32'",
        ];
        let hashes: std::collections::BTreeSet<String> = values
            .iter()
            .map(|v| hash_of(&format!("CREATE TABLE t (v); INSERT INTO t VALUES ({v});")))
            .collect();
        assert_eq!(hashes.len(), values.len(), "every value hashes apart");
        assert_ne!(
            hash_of("CREATE TABLE t (v); INSERT INTO t VALUES (1);"),
            hash_of("CREATE TABLE u (v); INSERT INTO u VALUES (1);")
        );
        // Value and row boundaries count.
        assert_ne!(
            hash_of("CREATE TABLE t (a, b); INSERT INTO t VALUES ('ab', 'c');"),
            hash_of("CREATE TABLE t (a, b); INSERT INTO t VALUES ('a', 'bc');")
        );
        assert_ne!(
            hash_of("CREATE TABLE t (a); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2);"),
            hash_of("CREATE TABLE t (a, b); INSERT INTO t VALUES (1, 2);")
        );
    }

    /// Rows are hashed in primary-key order (all of the key, in its order), so the order of
    /// insertion, which sets the rowids, does not matter; a table without a key is hashed in
    /// rowid order.
    #[test]
    fn rows_are_hashed_in_primary_key_order() {
        let hash_of = |sql: &str| {
            let conn = Connection::open_in_memory().unwrap();
            conn.execute_batch(
                "CREATE TABLE pair (x INTEGER, y TEXT, v, PRIMARY KEY (y, x)); CREATE TABLE bare (a);",
            )
            .unwrap();
            conn.execute_batch(sql).unwrap();
            content_hash(&conn).unwrap()
        };
        let (a, b, c) = (
            "INSERT INTO pair VALUES (2, 'a', 'v');",
            "INSERT INTO pair VALUES (1, 'b', 'v');",
            "INSERT INTO pair VALUES (1, 'a', 'v');",
        );
        let one = hash_of(&format!("{a}{b}{c}"));
        assert_eq!(hash_of(&format!("{c}{b}{a}")), one);
        assert_eq!(hash_of(&format!("{b}{a}{c}")), one);
        // Without a key, rowid order: another order of insertion is other content.
        assert_ne!(
            hash_of("INSERT INTO bare VALUES (1); INSERT INTO bare VALUES (2);"),
            hash_of("INSERT INTO bare VALUES (2); INSERT INTO bare VALUES (1);")
        );
    }
}
