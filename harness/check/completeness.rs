//! Every planned op reports an outcome, except exactly the ops a seeded kill took: with
//! respawn, the op each actor had in flight (the successor skips it); without respawn,
//! everything after each actor's last report (its schedule just ends).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::observe::Observations;
use crate::plan::Plan;

const MAX_EXAMPLES: usize = 10;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Completeness {
    /// Ops that must report: planned, minus the ops kills took.
    pub expected: u64,
    /// Of those, how many never reported.
    pub unreported: u64,
    /// The first unreported ops, `worker W seq S`.
    pub examples: Vec<String>,
}

pub fn check(plan: &Plan, obs: &Observations) -> Completeness {
    let mut c = Completeness::default();
    for wp in &plan.workers {
        let w = wp.worker;
        let kills: Vec<_> = obs.kills.iter().filter(|k| k.worker == w).collect();
        let skipped: BTreeSet<u32> = kills
            .iter()
            .filter(|k| k.respawned)
            .flat_map(|k| k.skipped.iter().copied())
            .collect();
        let ended = kills.last().is_some_and(|k| !k.respawned);
        let reported: BTreeSet<u32> = obs
            .records
            .iter()
            .filter(|r| r.worker == w)
            .map(|r| r.seq)
            .collect();
        let actors: BTreeSet<u32> = wp.ops.iter().map(|op| op.actor).collect();
        for a in actors {
            let ops: Vec<u32> = wp
                .actor_ops(a)
                .map(|op| op.seq)
                .filter(|s| !skipped.contains(s))
                .collect();
            // Without a successor, the actor's schedule ends after its last report.
            let due = if ended {
                ops.iter()
                    .rposition(|s| reported.contains(s))
                    .map_or(0, |i| i + 1)
            } else {
                ops.len()
            };
            c.expected += due as u64;
            for &s in &ops[..due] {
                if !reported.contains(&s) {
                    c.unreported += 1;
                    if c.examples.len() < MAX_EXAMPLES {
                        c.examples.push(format!("worker {w} seq {s}"));
                    }
                }
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::{KillEvent, OpRecord, Outcome};
    use crate::plan::{OpKind, PlannedOp, WorkerPlan};
    use crate::scenario::KillPoint;

    /// One worker, two actors alternating: seqs 0..8, actor = seq % 2.
    fn plan() -> Plan {
        Plan {
            format: String::new(),
            scenario: String::new(),
            seed: 0,
            schedule_hash: String::new(),
            workers: vec![WorkerPlan {
                worker: 0,
                ops: (0..8)
                    .map(|seq| PlannedOp::bare(seq, seq % 2, OpKind::CreateTask))
                    .collect(),
            }],
        }
    }

    fn rec(seq: u32) -> OpRecord {
        serde_json::from_value(serde_json::json!({
            "worker": 0, "actor": seq % 2, "seq": seq, "kind": "create_task",
            "outcome": "committed", "lock_wait_us": 0, "begin_wait_us": 0, "latency_us": 0,
            "t_start_ns": 0, "t_end_ns": 0
        }))
        .unwrap()
    }

    fn kill(seq: u32, respawned: bool, skipped: Vec<u32>) -> KillEvent {
        KillEvent {
            worker: 0,
            actor: seq % 2,
            seq,
            point: KillPoint::MidTransaction,
            pid: 1,
            respawned,
            skipped,
        }
    }

    fn obs(seqs: &[u32], kills: Vec<KillEvent>) -> Observations {
        Observations {
            records: seqs.iter().map(|&s| rec(s)).collect(),
            kills,
            ..Observations::default()
        }
    }

    #[test]
    fn without_kills_every_op_is_due() {
        let c = check(&plan(), &obs(&[0, 1, 2, 3, 4, 5, 6, 7], vec![]));
        assert_eq!((c.expected, c.unreported), (8, 0));
        let c = check(&plan(), &obs(&[0, 1, 2, 3, 5, 6, 7], vec![]));
        assert_eq!((c.expected, c.unreported), (8, 1));
        assert_eq!(c.examples, ["worker 0 seq 4"]);
        assert_eq!(rec(0).outcome, Outcome::Committed);
    }

    /// With respawn, exactly the skipped ops may be missing: one more missing op is caught
    /// (the old check was switched off under kills).
    #[test]
    fn with_respawn_only_the_skipped_ops_may_be_missing() {
        let k = || vec![kill(4, true, vec![3, 4])];
        let c = check(&plan(), &obs(&[0, 1, 2, 5, 6, 7], k()));
        assert_eq!((c.expected, c.unreported), (6, 0));
        let c = check(&plan(), &obs(&[0, 1, 2, 5, 7], k()));
        assert_eq!((c.expected, c.unreported), (6, 1));
        assert_eq!(c.examples, ["worker 0 seq 6"]);
    }

    /// Without respawn each actor's schedule ends at its last report; a gap before it is
    /// still an unreported op.
    #[test]
    fn without_respawn_each_actor_ends_at_its_last_report() {
        let c = check(&plan(), &obs(&[0, 1, 2, 3], vec![kill(4, false, vec![])]));
        assert_eq!((c.expected, c.unreported), (4, 0));
        let c = check(&plan(), &obs(&[0, 2, 3], vec![kill(4, false, vec![])]));
        assert_eq!((c.expected, c.unreported), (4, 1));
        assert_eq!(c.examples, ["worker 0 seq 1"]);
    }

    /// Two workers of the one-worker plan: worker `w`'s records and kills are its own.
    fn two_workers() -> Plan {
        let mut p = plan();
        let mut w1 = p.workers[0].clone();
        w1.worker = 1;
        p.workers.push(w1);
        p
    }

    fn of(worker: u32, mut r: OpRecord) -> OpRecord {
        r.worker = worker;
        r
    }

    /// Issue 27: exactly one op unreported, in one worker, while another worker reported
    /// that seq: the check matches records to their own worker, and names the op.
    #[test]
    fn exactly_one_op_unreported_in_one_worker_is_counted() {
        let all: Vec<u32> = (0..8).collect();
        let mut o = obs(&all, vec![]);
        o.records
            .extend(all.iter().filter(|&&s| s != 5).map(|&s| of(1, rec(s))));
        let c = check(&two_workers(), &o);
        assert_eq!((c.expected, c.unreported), (16, 1));
        assert_eq!(c.examples, ["worker 1 seq 5"]);
        // The other way round.
        let mut o = obs(&[0, 1, 2, 3, 4, 6, 7], vec![]);
        o.records.extend(all.iter().map(|&s| of(1, rec(s))));
        let c = check(&two_workers(), &o);
        assert_eq!((c.expected, c.unreported), (16, 1));
        assert_eq!(c.examples, ["worker 0 seq 5"]);
    }

    /// A kill takes ops from its own worker only: another worker's missing last op is still
    /// unreported, and so is one the kill did not skip.
    #[test]
    fn a_kill_excuses_only_its_own_workers_ops() {
        let all: Vec<u32> = (0..8).collect();
        let mut o = obs(&all[..7], vec![]);
        o.records.extend(all[..4].iter().map(|&s| of(1, rec(s))));
        let mut k = kill(4, false, vec![]);
        k.worker = 1;
        o.kills.push(k);
        let c = check(&two_workers(), &o);
        assert_eq!((c.expected, c.unreported), (12, 1), "{c:?}");
        assert_eq!(c.examples, ["worker 0 seq 7"]);
        // With respawn, the skipped ops of worker 1 are not excused in worker 0.
        let mut o = obs(&[0, 1, 2, 5, 6, 7], vec![]);
        o.records.extend(
            all.iter()
                .filter(|&&s| s != 3 && s != 4)
                .map(|&s| of(1, rec(s))),
        );
        let mut k = kill(4, true, vec![3, 4]);
        k.worker = 1;
        o.kills.push(k);
        let c = check(&two_workers(), &o);
        assert_eq!((c.expected, c.unreported), (14, 2), "{c:?}");
        assert_eq!(c.examples, ["worker 0 seq 4", "worker 0 seq 3"]);
    }

    /// Without respawn, only the *last* kill of a worker ends its schedule: an earlier
    /// respawned kill followed by a final one ends it; a final respawned one does not.
    #[test]
    fn only_the_last_kill_decides_whether_a_schedule_ended() {
        let o = obs(
            &[0, 1, 2, 3],
            vec![kill(1, false, vec![]), kill(4, true, vec![4])],
        );
        let c = check(&plan(), &o);
        assert_eq!((c.expected, c.unreported), (7, 3), "{c:?}");
        let o = obs(
            &[0, 1, 2, 3],
            vec![kill(1, true, vec![]), kill(4, false, vec![])],
        );
        let c = check(&plan(), &o);
        assert_eq!((c.expected, c.unreported), (4, 0), "{c:?}");
    }

    /// At most ten examples are listed, the count stays exact.
    #[test]
    fn examples_are_capped_and_the_count_is_not() {
        let mut p = plan();
        p.workers[0].ops = (0..30)
            .map(|seq| PlannedOp::bare(seq, 0, OpKind::CreateTask))
            .collect();
        let c = check(&p, &obs(&[], vec![]));
        assert_eq!((c.expected, c.unreported), (30, 30));
        assert_eq!(c.examples.len(), MAX_EXAMPLES);
    }
}
