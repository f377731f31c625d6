//! The read-modify-write lists (`list_write = "rewrite"`, and its lost-update control) as a
//! history: each transaction reads the lists it touches (what it read from
//! `list_registers`) and appends its values. Its reads say what it saw, but the lists it
//! wrote back are no record of the order its appends committed in, so after the run one
//! read of the `lists` log (written in the same transactions, in `id` order: the order the
//! writes committed, SQLite having one writer) closes the history and gives each key its
//! version order; a second read, of the registers themselves, shows what the lists hold at
//! the end. A write built on a stale read is then T1 -ww-> T2 -rw-> T1: G-single, a lost
//! update; and the element it overwrote is missing from the registers read after the run
//! (incompatible-order against the log).

use std::collections::BTreeMap;

use rusqlite::Connection;

use super::history::{Mop, Outcome, Txn};
use super::records::{IsolationReport, history, report};
use crate::observe::OpRecord;
use crate::plan::Plan;
use crate::workload::list_rewrite;

/// Each key's values as a read after the run returned them.
pub type Lists = BTreeMap<u64, Vec<u64>>;

/// The `lists` log: each key's appended values in commit order.
pub fn log(conn: &Connection) -> rusqlite::Result<Lists> {
    let mut lists = Lists::new();
    let mut stmt = conn.prepare("SELECT key, value FROM lists ORDER BY id")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (k, v) = row?;
        lists
            .entry(u64::try_from(k).unwrap_or_default())
            .or_default()
            .push(u64::try_from(v).unwrap_or_default());
    }
    Ok(lists)
}

/// The registers, each key's list as the read-modify-writes left it.
pub fn registers(conn: &Connection) -> rusqlite::Result<Lists> {
    let mut lists = Lists::new();
    let mut stmt = conn.prepare("SELECT key, list FROM list_registers ORDER BY key")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (k, text) = row?;
        lists.insert(
            u64::try_from(k).unwrap_or_default(),
            list_rewrite::decode(&text)?,
        );
    }
    Ok(lists)
}

/// A read of every key after the run, by its own process at `at` (after every op ended).
fn read_after(lists: &Lists, process: u64, at: u64) -> Txn {
    Txn {
        process,
        outcome: Outcome::Ok,
        start_ns: at,
        end_ns: Some(at + 1),
        mops: lists
            .iter()
            .map(|(key, values)| Mop::Read {
                key: *key,
                values: Some(values.clone()),
            })
            .collect(),
    }
}

/// The checker's report on the run's history closed by the log and register reads.
pub fn judge(plan: &Plan, records: &[OpRecord], log: &Lists, registers: &Lists) -> IsolationReport {
    let (mut history, ids) = history(plan, records);
    let last_end = records.iter().map(|r| r.t_end_ns).max().unwrap_or(0);
    history
        .txns
        .push(read_after(log, u64::MAX - 1, last_end + 1));
    history
        .txns
        .push(read_after(registers, u64::MAX, last_end + 3));
    let n = ids.len();
    let mut rep = report(&history, |t| match t {
        _ if t < n => Some(format!(
            "worker {} actor {} seq {}",
            ids[t].worker, ids[t].actor, ids[t].seq
        )),
        _ if t == n => Some("the read of the lists log (commit order) after the run".into()),
        _ => Some("the read of list_registers after the run".into()),
    });
    rep.transactions = Some("read-modify-write".into());
    rep
}

/// Checks a read-modify-write run; the report's error says why when the tables cannot be
/// read (never a pass).
pub fn check(conn: &Connection, plan: &Plan, records: &[OpRecord]) -> IsolationReport {
    match log(conn).and_then(|l| Ok((l, registers(conn)?))) {
        Ok((log, registers)) => judge(plan, records, &log, &registers),
        Err(e) => IsolationReport {
            transactions: Some("read-modify-write".into()),
            error: Some(format!(
                "cannot read lists and list_registers after the run: {e}"
            )),
            ..IsolationReport::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::list_append::ListMop;
    use crate::scenario::{ScenarioSource, parse_str};

    fn plan() -> Plan {
        let toml = "name = \"lu\"\n[workload]\nprofile = \"list-append\"\nworkers = 2\nops_per_worker = 1\nlist_write = \"rewrite\"\n";
        let s = parse_str(toml, &ScenarioSource::Embedded("lu".into())).unwrap();
        crate::plan::build(&s, 3)
    }

    /// A committed read-modify-write of key 9: read `read`, append `value`.
    fn rmw(worker: u32, read: &[u64], value: u64, t: (u64, u64)) -> OpRecord {
        let mut r: OpRecord = serde_json::from_value(serde_json::json!({
            "worker": worker, "actor": 0, "seq": 0, "kind": "list_txn", "outcome": "committed",
            "t_start_ns": t.0, "t_end_ns": t.1,
        }))
        .unwrap();
        r.list = vec![
            ListMop::Read {
                key: 9,
                values: Some(read.to_vec()),
            },
            ListMop::Append { key: 9, value },
        ];
        r
    }

    fn lists(values: &[u64]) -> Lists {
        [(9, values.to_vec())].into()
    }

    /// The second writer read the list before the first's append and wrote its own list
    /// over it: a lost update (and its G-single cycle), and the register read after the run
    /// is missing the first's value.
    #[test]
    fn a_write_built_on_a_stale_read_is_a_lost_update() {
        let records = [rmw(0, &[], 1, (10, 20)), rmw(1, &[], 2, (12, 30))];
        let rep = judge(&plan(), &records, &lists(&[1, 2]), &lists(&[2]));
        assert_eq!(rep.transactions.as_deref(), Some("read-modify-write"));
        // The two reads after the run: their own processes, after every op in real time.
        use crate::check::isolation::edges::EdgeKind;
        assert_eq!(
            rep.edges,
            [
                (EdgeKind::Ww, 1),
                (EdgeKind::Wr, 2),
                (EdgeKind::Rw, 1),
                (EdgeKind::Rt, 3)
            ]
            .into(),
            "{rep:#?}"
        );
        assert!(
            rep.anomalies.iter().any(|f| f.explanation
                == "incompatible-order: on key 9, T3 (process 18446744073709551615) read [2] and T2 (process 18446744073709551614) read [1 2]; neither is a prefix of the other"),
            "{rep:#?}"
        );
        assert_eq!(
            rep.classes.keys().collect::<Vec<_>>(),
            ["G-single", "incompatible-order", "lost-update"],
            "{rep:#?}"
        );
        let lost = rep
            .anomalies
            .iter()
            .find(|f| f.class == crate::check::isolation::AnomalyClass::LostUpdate)
            .unwrap();
        assert!(
            lost.explanation.contains("on key 9"),
            "{}",
            lost.explanation
        );
        assert_eq!(rep.txn_ops["T0"], "worker 0 actor 0 seq 0");
        assert_eq!(rep.txn_ops["T1"], "worker 1 actor 0 seq 0");
        assert_eq!(
            rep.txn_ops["T2"],
            "the read of the lists log (commit order) after the run"
        );
        assert_eq!(
            rep.txn_ops["T3"],
            "the read of list_registers after the run"
        );
    }

    /// On a real database: the log is read in commit (`id`) order per key, the registers
    /// as written, and the lost update is found through them; unreadable tables are an
    /// error, never a pass.
    #[test]
    fn check_reads_the_log_and_the_registers_of_a_real_database() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("l.db")).unwrap();
        let records = [rmw(0, &[], 1, (10, 20)), rmw(1, &[], 2, (12, 30))];
        let rep = check(&conn, &plan(), &records);
        assert!(
            rep.error
                .as_deref()
                .unwrap()
                .starts_with("cannot read lists"),
            "{rep:?}"
        );
        assert!(rep.failed());
        assert_eq!(rep.transactions.as_deref(), Some("read-modify-write"));
        conn.execute_batch(crate::workload::list_append::SCHEMA)
            .unwrap();
        conn.execute_batch(list_rewrite::SCHEMA).unwrap();
        conn.execute_batch(
            "INSERT INTO lists (id, key, value, worker, seq) VALUES (5, 9, 2, 1, 0), (2, 9, 1, 0, 0), (3, 4, 7, 0, 1);
             INSERT INTO list_registers (key, list) VALUES (9, '2');",
        )
        .unwrap();
        assert_eq!(log(&conn).unwrap(), [(4, vec![7]), (9, vec![1, 2])].into());
        assert_eq!(registers(&conn).unwrap(), lists(&[2]));
        let rep = check(&conn, &plan(), &records);
        assert!(rep.error.is_none(), "{rep:?}");
        assert!(rep.classes.contains_key("lost-update"), "{rep:#?}");
    }

    /// The same writes with the second reading the first's list: clean.
    #[test]
    fn writes_built_on_fresh_reads_are_clean() {
        let records = [rmw(0, &[], 1, (10, 20)), rmw(1, &[1], 2, (12, 30))];
        let rep = judge(&plan(), &records, &lists(&[1, 2]), &lists(&[1, 2]));
        assert!(!rep.failed(), "{rep:#?}");
        assert_eq!(rep.txns, 4, "two writes and the two reads after the run");
    }
}
