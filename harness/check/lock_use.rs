//! Which ops demonstrably took the strategy's global write lock (`<db>.lock`): the evidence
//! that `expect.sidecar = "auto"` needs before it requires the sidecar. A flock strategy
//! whose ops never reach the lock (only checkpoints with `lock_checkpoints = false`, say)
//! never creates the file, and must not fail for it.

use std::collections::BTreeSet;

use crate::observe::{Observations, OpRecord, Outcome};
use crate::plan::{OpKind, Plan};
use crate::scenario::{KillPoint, LockScope, Strategy, WriteLock};

/// Whether an op of `kind` takes the global write lock under the strategy.
pub fn takes_lock(st: &Strategy, kind: OpKind) -> bool {
    match (st.write_lock, st.write_lock_scope) {
        (WriteLock::None, _) => false,
        // Taken when the writer connection opens, before any op runs on it.
        (WriteLock::Flock, LockScope::Connection) => true,
        // Around each write transaction; around checkpoints only when asked.
        (WriteLock::Flock, LockScope::Transaction) => kind.is_write() || st.lock_checkpoints,
    }
}

/// Whether an op's record shows it got past taking the lock: it committed, rolled back, is
/// ambiguous, ran (a checkpoint), or at least got BEGIN IMMEDIATE. A failed op without
/// BEGIN may have failed before the lock (opening its connection) and proves nothing.
fn got_past_lock(r: &OpRecord) -> bool {
    r.outcome != Outcome::Failed || r.t_begin_ok_ns.is_some()
}

/// Whether a seeded kill at `point` lands after the killed op took its lock: every op-level
/// point but a hang (an op that never starts) lies after the lock is taken. An I/O fault or
/// power loss can land at any write (opening the connection included) and proves nothing.
fn past_lock(point: KillPoint) -> bool {
    match point {
        KillPoint::MidTransaction
        | KillPoint::AfterCommit
        | KillPoint::Checkpoint
        | KillPoint::Close => true,
        KillPoint::Hang
        | KillPoint::Panic
        | KillPoint::None
        | KillPoint::Io
        | KillPoint::PowerLoss => false,
    }
}

/// The distinct ops, `(worker, seq)`, that held the global write lock: by their records, or
/// (for the ops a seeded kill took, which never report) by where the kill landed.
pub fn holders(st: &Strategy, plan: &Plan, obs: &Observations) -> BTreeSet<(u32, u32)> {
    let reported = obs
        .records
        .iter()
        .filter(|r| takes_lock(st, r.kind) && got_past_lock(r))
        .map(|r| (r.worker, r.seq));
    let kind_of = |w: u32, seq: u32| {
        plan.workers
            .iter()
            .find(|wp| wp.worker == w)
            .and_then(|wp| wp.ops.iter().find(|op| op.seq == seq))
            .map(|op| op.kind)
    };
    let killed = obs
        .kills
        .iter()
        .filter(|k| past_lock(k.point))
        .filter(|k| kind_of(k.worker, k.seq).is_some_and(|kind| takes_lock(st, kind)))
        .map(|k| (k.worker, k.seq));
    reported.chain(killed).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flock(scope: LockScope, lock_checkpoints: bool) -> Strategy {
        Strategy {
            write_lock: WriteLock::Flock,
            write_lock_scope: scope,
            lock_checkpoints,
            ..Strategy::default()
        }
    }

    #[test]
    fn which_ops_take_the_lock_under_each_strategy() {
        let none = Strategy::default();
        assert!(!takes_lock(&none, OpKind::CreateTask));
        let tx = flock(LockScope::Transaction, false);
        assert!(takes_lock(&tx, OpKind::CreateTask));
        assert!(!takes_lock(&tx, OpKind::Checkpoint));
        let tx_ckpt = flock(LockScope::Transaction, true);
        assert!(takes_lock(&tx_ckpt, OpKind::Checkpoint));
        let conn = flock(LockScope::Connection, false);
        assert!(takes_lock(&conn, OpKind::Checkpoint));
    }

    fn plan() -> Plan {
        use crate::plan::{PlannedOp, WorkerPlan};
        let ops = |kinds: [OpKind; 4]| {
            kinds
                .into_iter()
                .zip(0u32..)
                .map(|(kind, seq)| PlannedOp {
                    seq,
                    actor: 0,
                    kind,
                    think_us: 0,
                    payload_len: 8,
                    at_ms: 0,
                })
                .collect()
        };
        use OpKind::{AddComment, Checkpoint, CreateTask};
        Plan {
            format: String::new(),
            scenario: "t".into(),
            seed: 1,
            schedule_hash: String::new(),
            workers: vec![
                WorkerPlan {
                    worker: 0,
                    ops: ops([CreateTask, Checkpoint, CreateTask, AddComment]),
                },
                WorkerPlan {
                    worker: 1,
                    ops: ops([CreateTask, Checkpoint, CreateTask, Checkpoint]),
                },
            ],
        }
    }

    fn rec(worker: u32, seq: u32, kind: OpKind, outcome: Outcome, begun: bool) -> OpRecord {
        let mut r: OpRecord = serde_json::from_value(serde_json::json!({
            "worker": worker, "actor": 0, "seq": seq, "kind": kind,
            "outcome": outcome, "t_start_ns": 0, "t_end_ns": 0
        }))
        .unwrap();
        r.t_begin_ok_ns = begun.then_some(1);
        r
    }

    fn kill(worker: u32, seq: u32, point: KillPoint) -> crate::observe::KillEvent {
        crate::observe::KillEvent {
            worker,
            actor: 0,
            seq,
            point,
            pid: 100 + worker,
            respawned: false,
            skipped: Vec::new(),
        }
    }

    /// Which ops held the lock: a control for `holders`, `got_past_lock` and `past_lock`
    /// (mutation testing: only `takes_lock` had a fast test). An op counts when its record
    /// shows it got past the lock (any outcome but a failure without BEGIN) or a seeded
    /// kill landed inside it, and only when its kind takes the lock: the kind of a killed
    /// op is the plan's, looked up by its own worker and seq.
    #[test]
    fn holders_are_the_ops_that_got_past_the_lock() {
        use OpKind::{AddComment, Checkpoint, CreateTask};
        let tx = flock(LockScope::Transaction, false);
        let obs = Observations {
            records: vec![
                rec(0, 0, CreateTask, Outcome::Committed, true),
                rec(0, 1, Checkpoint, Outcome::Done, false),
                // Failed before BEGIN: may never have reached the lock.
                rec(0, 2, CreateTask, Outcome::Failed, false),
                // Failed after BEGIN: it held the lock.
                rec(0, 3, AddComment, Outcome::Failed, true),
                rec(1, 0, CreateTask, Outcome::RolledBack, false),
                rec(1, 1, CreateTask, Outcome::Ambiguous, false),
            ],
            kills: vec![
                kill(1, 2, KillPoint::MidTransaction),
                // A checkpoint (worker 0's seq 3 is a write): not under this strategy.
                kill(1, 3, KillPoint::MidTransaction),
                // Not in the plan.
                kill(7, 0, KillPoint::AfterCommit),
                kill(0, 9, KillPoint::AfterCommit),
            ],
            ..Observations::default()
        };
        let got: Vec<_> = holders(&tx, &plan(), &obs).into_iter().collect();
        assert_eq!(got, [(0, 0), (0, 3), (1, 0), (1, 1), (1, 2)]);
        // A connection-scoped lock is held by checkpoints too; no lock, by nothing.
        let conn = flock(LockScope::Connection, false);
        let got: Vec<_> = holders(&conn, &plan(), &obs).into_iter().collect();
        assert_eq!(
            got,
            [(0, 0), (0, 1), (0, 3), (1, 0), (1, 1), (1, 2), (1, 3)]
        );
        assert!(holders(&Strategy::default(), &plan(), &obs).is_empty());

        // Each kill point alone, on a write: only the points past the lock count.
        let points = [
            (KillPoint::MidTransaction, true),
            (KillPoint::AfterCommit, true),
            (KillPoint::Checkpoint, true),
            (KillPoint::Close, true),
            (KillPoint::Hang, false),
            (KillPoint::Panic, false),
            (KillPoint::None, false),
            (KillPoint::Io, false),
            (KillPoint::PowerLoss, false),
        ];
        for (point, held) in points {
            let obs = Observations {
                kills: vec![kill(0, 2, point)],
                ..Observations::default()
            };
            let got: Vec<_> = holders(&tx, &plan(), &obs).into_iter().collect();
            let want: &[(u32, u32)] = if held { &[(0, 2)] } else { &[] };
            assert_eq!(got, want, "{point:?}");
        }
    }
}
