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
