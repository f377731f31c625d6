//! Snapshot stability (issue 24, item 3): every read inside one reader's read transaction
//! must return the same board, whatever the writers commit meanwhile; SQLite's threadtest3
//! checks the same of `count(*)` and calls a difference "Isolation failure". Pure over the
//! records: the readers' reads (`OpRecord::reads`) and, to say how much the check was worth,
//! the writers' commits that landed between a transaction's first and last read.

use serde::{Deserialize, Serialize};

use crate::observe::{OpRecord, Outcome, SnapshotRead};
use crate::plan::OpKind;

/// What the report's `checks.snapshots` carries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotReport {
    /// `read_snapshot` ops that reported.
    pub read_txns: u64,
    /// Those with two reads or more: the ones judged.
    pub judged: u64,
    /// Reads in the judged transactions.
    pub reads: u64,
    /// Judged transactions during which another worker certainly committed a write (its
    /// COMMIT issued after the first read returned, and returned before the last did): the
    /// ones where a broken snapshot would have shown.
    pub interleaved: u64,
    /// Judged transactions whose reads differ.
    pub unstable: u64,
    /// The first unstable one in words: worker, actor, transaction (seq), the two reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
}

impl SnapshotReport {
    pub fn failed(&self) -> bool {
        self.unstable > 0 || (self.read_txns > 0 && self.judged == 0)
    }
}

fn show(r: &SnapshotRead) -> String {
    format!(
        "tasks={} events={} checksum={}",
        r.tasks, r.events, r.checksum
    )
}

/// Judges every reader's read transaction; `None` when the run has no `read_snapshot` op.
pub fn check(records: &[OpRecord]) -> Option<SnapshotReport> {
    let readers: Vec<&OpRecord> = records
        .iter()
        .filter(|r| r.kind == OpKind::ReadSnapshot)
        .collect();
    if readers.is_empty() {
        return None;
    }
    // (issued, returned) of every committed write's COMMIT.
    let commits: Vec<(u32, u64, u64)> = records
        .iter()
        .filter(|r| r.outcome == Outcome::Committed && r.kind.is_write())
        .filter_map(|r| Some((r.worker, r.t_commit_issued_ns?, r.t_end_ns)))
        .collect();
    let mut rep = SnapshotReport {
        read_txns: readers.len() as u64,
        ..SnapshotReport::default()
    };
    for r in readers {
        let (Some(first), Some(last)) = (r.reads.first(), r.reads.last()) else {
            continue;
        };
        if r.reads.len() < 2 {
            continue;
        }
        rep.judged += 1;
        rep.reads += r.reads.len() as u64;
        if commits
            .iter()
            .any(|&(w, issued, done)| w != r.worker && issued > first.t_ns && done < last.t_ns)
        {
            rep.interleaved += 1;
        }
        let Some((i, changed)) = r
            .reads
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, x)| x.values() != first.values())
        else {
            continue;
        };
        rep.unstable += 1;
        rep.first.get_or_insert_with(|| {
            format!(
                "worker {} actor {} seq {} (one read transaction): read 1 returned {}, read {} returned {}",
                r.worker,
                r.actor,
                r.seq,
                show(first),
                i + 1,
                show(changed)
            )
        });
    }
    Some(rep)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(worker: u32, seq: u32, kind: OpKind, outcome: Outcome) -> OpRecord {
        serde_json::from_value(serde_json::json!({
            "worker": worker, "actor": 0, "seq": seq, "kind": kind, "outcome": outcome,
            "t_start_ns": 0, "t_end_ns": 0,
        }))
        .unwrap()
    }

    fn read(tasks: i64, t_ns: u64) -> SnapshotRead {
        SnapshotRead {
            tasks,
            events: tasks * 2,
            checksum: 7,
            t_ns,
        }
    }

    fn reader(seq: u32, reads: Vec<SnapshotRead>) -> OpRecord {
        let mut r = rec(1, seq, OpKind::ReadSnapshot, Outcome::Done);
        r.reads = reads;
        r
    }

    fn commit(worker: u32, issued: u64, done: u64) -> OpRecord {
        let mut r = rec(worker, 0, OpKind::CreateTask, Outcome::Committed);
        r.t_commit_issued_ns = Some(issued);
        r.t_end_ns = done;
        r
    }

    #[test]
    fn stable_reads_pass_and_count_the_commits_between_them() {
        let records = vec![
            reader(0, vec![read(3, 10), read(3, 20), read(3, 30)]),
            reader(1, vec![read(5, 100), read(5, 110)]),
            commit(2, 12, 25),
            // Its own worker's commit, and one only partly inside, prove nothing.
            commit(1, 101, 105),
            commit(3, 99, 105),
        ];
        let rep = check(&records).unwrap();
        assert!(!rep.failed(), "{rep:?}");
        assert_eq!((rep.read_txns, rep.judged, rep.reads), (2, 2, 5));
        assert_eq!(rep.interleaved, 1);
        assert_eq!(check(&[commit(2, 1, 2)]), None, "no reader: nothing said");
    }

    /// `interleaved` says how much the check was worth, so only a committed *write* of
    /// another worker counts: another reader's committed read, or another worker's write
    /// that failed, changed nothing a broken snapshot could have shown.
    #[test]
    fn only_another_workers_committed_write_counts_as_interleaved() {
        let mut other_read = commit(2, 12, 25);
        other_read.kind = OpKind::ReadSnapshot;
        let mut failed_write = commit(3, 12, 25);
        failed_write.outcome = Outcome::Failed;
        let records = vec![
            reader(0, vec![read(3, 10), read(3, 30)]),
            other_read,
            failed_write,
        ];
        let rep = check(&records).unwrap();
        assert_eq!((rep.judged, rep.interleaved), (1, 0), "{rep:?}");
    }

    /// A commit counts only if it certainly landed inside the reads: another worker's, its
    /// COMMIT issued strictly after the first read returned and returned strictly before
    /// the last read did. Each case alone, so that no second commit can make up the count.
    #[test]
    fn a_commit_counts_as_interleaved_only_strictly_inside_the_reads() {
        let cases = [
            (commit(2, 12, 25), 1, "inside"),
            (commit(1, 12, 25), 0, "the reader's own worker"),
            (commit(2, 9, 25), 0, "issued before the first read"),
            (commit(2, 10, 25), 0, "issued as the first read returned"),
            (commit(2, 12, 31), 0, "returned after the last read"),
            (commit(2, 12, 30), 0, "returned as the last read did"),
        ];
        for (c, want, what) in cases {
            let rep = check(&[reader(0, vec![read(3, 10), read(3, 30)]), c]).unwrap();
            assert_eq!(rep.interleaved, want, "{what}: {rep:?}");
        }
    }

    /// The detector's own control: one changed read fails the run, naming the op and the
    /// two boards.
    #[test]
    fn a_read_that_changed_inside_its_transaction_fails_by_name() {
        let records = vec![reader(4, vec![read(3, 10), read(3, 20), read(4, 30)])];
        let rep = check(&records).unwrap();
        assert!(rep.failed());
        assert_eq!(rep.unstable, 1);
        assert_eq!(
            rep.first.as_deref(),
            Some(
                "worker 1 actor 0 seq 4 (one read transaction): read 1 returned tasks=3 events=6 checksum=7, read 3 returned tasks=4 events=8 checksum=7"
            )
        );
    }

    /// A check that judged nothing says so: readers whose transactions never got two reads.
    #[test]
    fn readers_without_two_reads_judge_nothing_and_fail() {
        let rep = check(&[reader(0, vec![read(1, 1)]), reader(1, vec![])]).unwrap();
        assert_eq!((rep.read_txns, rep.judged), (2, 0));
        assert!(rep.failed());
    }
}
