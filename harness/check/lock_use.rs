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
}
