//! Unit tests of `check::durability::check_app`: real SQLite databases holding an app's own rows.

use rusqlite::Connection;

use super::*;
use crate::scenario::RowCheck;

fn scenario(sync: &str) -> Scenario {
    super::tests::scenario(sync, "wal")
}

/// An acknowledged write of worker 0, begun at `start` and acknowledged at `end` (ns).
fn acked(seq: u32, start: u64, end: u64) -> OpRecord {
    OpRecord {
        t_start_ns: start,
        t_end_ns: end,
        event_id: None,
        ..super::tests::committed(0, seq, 0)
    }
}

/// The app's ledger: `jobs` lists what is present, `job_log` is the row each job writes.
fn ledger() -> LedgerTable {
    LedgerTable {
        present: "SELECT worker, seq FROM jobs".into(),
        rows: vec![RowCheck {
            name: "log".into(),
            query: "SELECT worker, seq FROM job_log".into(),
            kinds: vec!["create_task".into()],
        }],
    }
}

/// Judges `records` against a database holding `jobs` rows for `jobs` and `job_log` rows
/// for `logged` (seqs of worker 0).
fn judge(sync: &str, records: &[OpRecord], jobs: &[u32], logged: &[u32]) -> Durability {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("app.db")).unwrap();
    conn.execute_batch("CREATE TABLE jobs(worker, seq); CREATE TABLE job_log(worker, seq);")
        .unwrap();
    for (table, seqs) in [("jobs", jobs), ("job_log", logged)] {
        for s in seqs {
            conn.execute(&format!("INSERT INTO {table} VALUES (0, ?1)"), [s])
                .unwrap();
        }
    }
    check_app(&conn, &scenario(sync), &ledger(), records)
}

#[test]
fn every_acknowledged_write_present_is_durable() {
    let recs = [acked(1, 0, 10), acked(2, 20, 30)];
    let d = judge("full", &recs, &[1, 2], &[1, 2]);
    assert_eq!((d.acknowledged, d.lost, d.torn), (2, 0, 0), "{d:?}");
    assert_eq!(d.failure(), None);
}

/// WAL at FULL promises every acknowledged commit: one missing fails, named.
#[test]
fn a_lost_acknowledged_write_fails_where_none_may_be_lost() {
    let recs = [acked(1, 0, 10), acked(2, 20, 30)];
    let d = judge("full", &recs, &[1], &[1]);
    assert_eq!(d.lost, 1);
    let f = d.failure().expect("FULL promises none lost");
    assert!(f.message.contains("worker 0 seq 2"), "{}", f.message);
}

/// NORMAL: the last commits may go; a lost commit that a later-begun survivor outlived may
/// not (real-time order); overlapping commits are not ordered.
#[test]
fn at_normal_only_a_real_time_suffix_may_be_lost() {
    let suffix = judge("normal", &[acked(1, 0, 10), acked(2, 20, 30)], &[1], &[1]);
    assert!(
        suffix.lost_is_suffix && suffix.failure().is_none(),
        "{suffix:?}"
    );
    let hole = judge("normal", &[acked(1, 0, 10), acked(2, 20, 30)], &[2], &[2]);
    assert!(!hole.lost_is_suffix, "{hole:?}");
    assert!(hole.failure().unwrap().message.contains("not a suffix"));
    // Seq 2 began (5) before seq 1 was acknowledged (10): not ordered, not blamed.
    let overlap = judge("normal", &[acked(1, 0, 10), acked(2, 5, 30)], &[2], &[2]);
    assert!(overlap.lost_is_suffix, "{overlap:?}");
}

/// A write present without the row it writes beside (or that row without the write) is
/// torn: a failure at every level but OFF.
#[test]
fn a_write_whose_row_disagrees_is_torn() {
    let recs = [acked(1, 0, 10), acked(2, 20, 30)];
    let d = judge("normal", &recs, &[1, 2], &[1]);
    assert_eq!(d.torn, 1, "{d:?}");
    let f = d.failure().expect("torn");
    assert!(f.message.contains("ledger.rows \"log\""), "{}", f.message);
    let d = judge("off", &recs, &[1, 2], &[1]);
    assert_eq!(d.failure(), None, "OFF: reported, not judged");
}

/// A ledger query that cannot run is an error, never a pass.
#[test]
fn an_unreadable_ledger_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("empty.db")).unwrap();
    let d = check_app(&conn, &scenario("full"), &ledger(), &[acked(1, 0, 10)]);
    assert!(d.error.is_some(), "{d:?}");
    assert!(
        d.failure()
            .unwrap()
            .message
            .contains("could not be checked")
    );
}

/// Only acknowledged writes are judged (a rolled-back write or a read missing from the
/// ledger is not lost), and every torn write is counted, five shown.
#[test]
fn only_acknowledged_writes_are_judged_and_five_torn_are_shown() {
    let rolled_back = OpRecord {
        outcome: Outcome::RolledBack,
        ..acked(1, 0, 10)
    };
    let read = OpRecord {
        kind: OpKind::ReadSnapshot,
        ..acked(2, 20, 30)
    };
    let d = judge("full", &[rolled_back, read], &[], &[]);
    assert_eq!((d.acknowledged, d.lost, d.torn), (0, 0, 0), "{d:?}");
    let recs: Vec<OpRecord> = (1..=7)
        .map(|s| acked(s, 10 * u64::from(s), 10 * u64::from(s) + 5))
        .collect();
    let d = judge("full", &recs, &[1, 2, 3, 4, 5, 6, 7], &[]);
    assert_eq!((d.acknowledged, d.torn), (7, 7), "{d:?}");
    assert_eq!(d.torn_examples.len(), MAX_EXAMPLES);
}
