//! `[io.stale_read]` judged for having happened: which of the chosen worker's read-only
//! list-append transactions read through the extra connection (a note), or a failure when
//! none did: then the fault was not exercised and a passing run would have tested nothing.
//! Whether those reads were stale is the isolation checker's to say, not this note's.

use super::failure::{Detector, Failure, FailureCategory, FailureKind};
use super::verdict::{Verdict, VerdictKind};
use crate::observe::{OpRecord, Outcome};
use crate::plan::OpKind;
use crate::plan::list_append::ListMop;
use crate::scenario::Scenario;

/// Adds the note, or the failure, to `v` (nothing without `[io.stale_read]`).
pub fn judge(s: &Scenario, seed: u64, records: &[OpRecord], v: &mut Verdict) {
    let Some(st) = &s.io.stale_read else {
        return;
    };
    let t = crate::plan::list_append::stale_target(st, seed, s.workload.workers);
    // The worker's own rule (worker/stale.rs): a committed list transaction from `from_seq`
    // on whose micro-ops are all reads.
    let mut routed: Vec<(u32, u32)> = records
        .iter()
        .filter(|r| {
            r.kind == OpKind::ListTxn
                && r.worker == t.worker
                && r.seq >= t.from_seq
                && r.outcome == Outcome::Committed
                && !r.list.is_empty()
                && r.list.iter().all(|m| matches!(m, ListMop::Read { .. }))
        })
        .map(|r| (r.seq, r.actor))
        .collect();
    routed.sort_unstable();
    let how = if t.freeze {
        "a wal-index frozen at its connection's first read"
    } else {
        "a read-only connection on the live wal-index (freeze = false)"
    };
    let Some(&(first_seq, first_actor)) = routed.first() else {
        v.failures.push(Failure::new(
            FailureCategory::IoPointNotFired,
            Detector::FaultVfs,
            FailureKind::Missing,
            None,
            format!(
                "io.stale_read never applied: worker {} committed no read-only transaction from seq {} on, so nothing read through {how}: the fault was not exercised",
                t.worker, t.from_seq
            ),
        ));
        if v.verdict == VerdictKind::Pass {
            v.verdict = VerdictKind::Fail;
        }
        return;
    };
    v.notes.push(format!(
        "io.stale_read: worker {} ran {} read-only transactions (seq {first_seq} of actor {first_actor} first; from seq {} on) through {how}",
        t.worker,
        routed.len(),
        t.from_seq
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{ScenarioSource, find_embedded, parse_str};

    fn scenario() -> Scenario {
        let e = find_embedded("list-append-stale-read").expect("shipped");
        parse_str(e.toml, &ScenarioSource::Embedded(e.name.into())).unwrap()
    }

    fn rec(worker: u32, seq: u32, list: Vec<ListMop>) -> OpRecord {
        let mut r: OpRecord = serde_json::from_value(serde_json::json!({
            "worker": worker, "actor": 1, "seq": seq, "kind": OpKind::ListTxn,
            "outcome": Outcome::Committed, "t_start_ns": 0, "t_end_ns": 0,
        }))
        .unwrap();
        r.list = list;
        r
    }

    fn passing() -> Verdict {
        Verdict {
            verdict: VerdictKind::Pass,
            failures: Vec::new(),
            liveness: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn read(key: u64) -> ListMop {
        ListMop::Read {
            key,
            values: Some(vec![]),
        }
    }

    /// The detector's negative control: no routed transaction fails the run by name; one
    /// read-only transaction of the chosen worker from its seq on is a note instead.
    #[test]
    fn a_stale_read_that_never_applied_fails_and_one_that_did_is_noted() {
        let s = scenario();
        let st = s.io.stale_read.unwrap();
        let t = crate::plan::list_append::stale_target(&st, 1, s.workload.workers);
        let other = (t.worker + 1) % s.workload.workers;
        let append = ListMop::Append { key: 0, value: 1 };
        // Another worker's read, the worker's own read before its seq, and an append: none
        // was routed.
        let mut not_routed = vec![
            rec(other, t.from_seq, vec![read(0)]),
            rec(t.worker, t.from_seq, vec![read(0), append]),
        ];
        if t.from_seq > 0 {
            not_routed.push(rec(t.worker, t.from_seq - 1, vec![read(0)]));
        }
        let mut v = passing();
        judge(&s, 1, &not_routed, &mut v);
        assert_eq!(v.verdict, VerdictKind::Fail);
        assert_eq!(v.failures.len(), 1);
        assert_eq!(v.failures[0].category, FailureCategory::IoPointNotFired);
        assert!(
            v.failures[0]
                .message
                .contains("io.stale_read never applied")
        );

        let mut routed = not_routed.clone();
        routed.push(rec(t.worker, t.from_seq + 2, vec![read(0), read(1)]));
        let mut v = passing();
        judge(&s, 1, &routed, &mut v);
        assert!(v.failures.is_empty(), "{:?}", v.failures);
        assert_eq!(v.verdict, VerdictKind::Pass);
        let note = format!(
            "io.stale_read: worker {} ran 1 read-only transactions (seq {} of actor 1 first",
            t.worker,
            t.from_seq + 2
        );
        assert!(v.notes[0].starts_with(&note), "{:?}", v.notes);
    }
}
