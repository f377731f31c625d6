//! What each check judged, out of what it should have judged. A check that judged nothing
//! is not a check that passed: an external worker that omits `t_begin_ok_ns` on every record
//! leaves the write-exclusion check with nothing to compare, and "overlaps 0" would vouch
//! for a lock nobody measured. Judging zero of a non-zero population fails the run unless
//! the scenario declares that check not judged (`expect.not_judged`).

use serde::{Deserialize, Serialize};

use crate::observe::{OpRecord, Outcome};
pub use crate::scenario::JudgedCheck;

/// How far one check reached. Invariant: `judged <= population`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub check: JudgedCheck,
    /// Ops the check judged.
    pub judged: u64,
    /// Ops it should have judged.
    pub population: u64,
}

impl Coverage {
    /// It should have judged something and judged nothing.
    pub fn judged_nothing(&self) -> bool {
        self.population > 0 && self.judged == 0
    }
}

/// The coverage of each measured check over these records. `order` only where the
/// built-in ledger checks commit order (an app ledger has no commit-order check).
pub fn measure(records: &[OpRecord], order: bool) -> Vec<Coverage> {
    let committed_writes: Vec<&OpRecord> = records
        .iter()
        .filter(|r| r.outcome == Outcome::Committed && r.kind.is_write())
        .collect();
    let count = |f: &dyn Fn(&OpRecord) -> bool| committed_writes.iter().filter(|r| f(r)).count();
    let population = committed_writes.len() as u64;
    let mut out = vec![Coverage {
        check: JudgedCheck::Exclusion,
        judged: count(&|r| r.t_begin_ok_ns.is_some() && r.t_commit_issued_ns.is_some()) as u64,
        population,
    }];
    if order {
        out.push(Coverage {
            check: JudgedCheck::Order,
            judged: count(&|r| r.event_id.is_some()) as u64,
            population,
        });
    }
    for c in &out {
        debug_assert!(c.judged <= c.population, "{c:?}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: u32, outcome: Outcome, interval: bool, event: bool) -> OpRecord {
        let mut r: OpRecord = serde_json::from_value(serde_json::json!({
            "worker": 0, "actor": 0, "seq": seq, "kind": "create_task",
            "outcome": outcome, "t_start_ns": 1, "t_end_ns": 9,
        }))
        .unwrap();
        if interval {
            r.t_begin_ok_ns = Some(2);
            r.t_commit_issued_ns = Some(3);
        }
        r.event_id = event.then_some(seq as i64);
        r
    }

    #[test]
    fn records_without_intervals_leave_exclusion_judging_nothing() {
        let recs = [
            rec(0, Outcome::Committed, false, true),
            rec(1, Outcome::Committed, false, true),
            rec(2, Outcome::Failed, true, false),
        ];
        let c = measure(&recs, true);
        assert_eq!(
            c[0],
            Coverage {
                check: JudgedCheck::Exclusion,
                judged: 0,
                population: 2
            }
        );
        assert!(c[0].judged_nothing());
        assert_eq!((c[1].judged, c[1].population), (2, 2));
        assert!(!c[1].judged_nothing());
    }

    #[test]
    fn nothing_committed_is_nothing_to_judge() {
        let c = measure(&[rec(0, Outcome::RolledBack, false, false)], false);
        assert_eq!(c.len(), 1);
        assert!(!c[0].judged_nothing());
    }

    #[test]
    fn one_judged_op_is_not_nothing() {
        let recs = [
            rec(0, Outcome::Committed, true, false),
            rec(1, Outcome::Committed, false, false),
        ];
        let c = measure(&recs, false);
        assert_eq!((c[0].judged, c[0].population), (1, 2));
        assert!(!c[0].judged_nothing());
    }
}
