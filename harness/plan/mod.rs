//! Plan: (scenario, seed) -> one op schedule per worker. Pure: no I/O, no clock, no
//! processes, so it is tested on its own and every worker can rebuild its share of it.

pub mod list_append;
mod seeds;

pub use seeds::{digest_hex, sha256_hex, stream};

use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::scenario::Scenario;

/// Bumped whenever the drawing algorithm changes, so old plans are never mistaken for new.
pub const PLAN_FORMAT: &str = "walburst-plan/1";

/// Logical time of the first op (2026-01-01T00:00:00Z); row timestamps come from the plan,
/// never from the wall clock, so content is the same in every run of a seed.
pub const PLAN_EPOCH_MS: i64 = 1_767_225_600_000;
/// Logical milliseconds between two ops of one worker.
pub const PLAN_TICK_MS: i64 = 1_000;
/// A gc deletes heartbeat events older than this many logical milliseconds.
pub const GC_AGE_MS: i64 = 20 * PLAN_TICK_MS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    CreateTask,
    ClaimTask,
    Heartbeat,
    AddComment,
    CompleteTask,
    GcEvents,
    Checkpoint,
    /// One list-append transaction (the `list-append` profile; not in the kanban mix).
    ListTxn,
    /// One read transaction of the reader role (`workload.readers`; not in the mix): it
    /// reads the board several times inside one snapshot and writes nothing.
    ReadSnapshot,
}

impl OpKind {
    /// The order of [`crate::scenario::OpMix::weights`].
    pub const ALL: [OpKind; 7] = [
        OpKind::CreateTask,
        OpKind::ClaimTask,
        OpKind::Heartbeat,
        OpKind::AddComment,
        OpKind::CompleteTask,
        OpKind::GcEvents,
        OpKind::Checkpoint,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OpKind::CreateTask => "create_task",
            OpKind::ClaimTask => "claim_task",
            OpKind::Heartbeat => "heartbeat",
            OpKind::AddComment => "add_comment",
            OpKind::CompleteTask => "complete_task",
            OpKind::GcEvents => "gc_events",
            OpKind::Checkpoint => "checkpoint",
            OpKind::ListTxn => "list_txn",
            OpKind::ReadSnapshot => "read_snapshot",
        }
    }

    /// Whether the op is a write transaction that leaves a ledger row when it commits.
    pub fn is_write(self) -> bool {
        !matches!(self, OpKind::Checkpoint | OpKind::ReadSnapshot)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedOp {
    /// Position in the worker's schedule; with the worker index, the op's identity.
    pub seq: u32,
    /// Which of the worker's connections runs it.
    pub actor: u32,
    pub kind: OpKind,
    /// Pause before the op.
    pub think_us: u32,
    /// Bytes of payload the op writes (task body, comment, result).
    pub payload_len: u32,
    /// Logical timestamp written into rows.
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerPlan {
    pub worker: u32,
    pub ops: Vec<PlannedOp>,
}

impl PlannedOp {
    /// A bare op for tests of the checks: no think time, no payload, logical time 0.
    #[cfg(test)]
    pub fn bare(seq: u32, actor: u32, kind: OpKind) -> PlannedOp {
        PlannedOp {
            seq,
            actor,
            kind,
            think_us: 0,
            payload_len: 0,
            at_ms: 0,
        }
    }
}

impl WorkerPlan {
    /// The ops one actor runs, in order.
    pub fn actor_ops(&self, actor: u32) -> impl Iterator<Item = &PlannedOp> {
        self.ops.iter().filter(move |op| op.actor == actor)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub format: String,
    pub scenario: String,
    pub seed: u64,
    /// `sha256:` of the compact JSON of `{"seed":..,"workers":[..]}`; see `reports/README.md`.
    pub schedule_hash: String,
    pub workers: Vec<WorkerPlan>,
}

#[derive(Serialize)]
struct Hashed<'a> {
    seed: u64,
    workers: &'a [WorkerPlan],
}

/// Draws the schedule of every worker; worker `w` uses only its own stream, so one worker's
/// plan does not change when the worker count does.
pub fn build(scenario: &Scenario, seed: u64) -> Plan {
    let workers: Vec<WorkerPlan> = (0..scenario.workload.workers)
        .map(|w| worker_plan(scenario, seed, w))
        .collect();
    let schedule_hash = schedule_hash(seed, &workers);
    Plan {
        format: PLAN_FORMAT.to_string(),
        scenario: scenario.name.clone(),
        seed,
        schedule_hash,
        workers,
    }
}

pub fn schedule_hash(seed: u64, workers: &[WorkerPlan]) -> String {
    let bytes = serde_json::to_vec(&Hashed { seed, workers }).expect("plan serializes");
    sha256_hex(&bytes)
}

/// One worker's schedule, without building the others'.
pub fn worker_plan(scenario: &Scenario, seed: u64, worker: u32) -> WorkerPlan {
    let w = &scenario.workload;
    let mut rng = stream(seed, "schedule", u64::from(worker), 0);
    let weights = w.mix.weights();
    let total: u32 = weights.iter().sum();
    let ops = (0..w.ops_per_worker)
        .map(|seq| {
            let mut pick = rng.random_range(0..total);
            let mut kind = OpKind::CreateTask;
            for (k, &weight) in OpKind::ALL.iter().zip(weights.iter()) {
                if pick < weight {
                    kind = *k;
                    break;
                }
                pick -= weight;
            }
            // The checkpointer role overrides the kind only after the same draws, so the role
            // changes nothing else of the schedule (think times, payload sizes).
            if worker < w.checkpointers {
                kind = OpKind::Checkpoint;
            } else if worker < w.checkpointers + w.readers {
                kind = OpKind::ReadSnapshot;
            }
            let think_us = rng.random_range(w.think_time_us[0]..=w.think_time_us[1]);
            let payload_len = rng.random_range(w.payload_bytes[0]..=w.payload_bytes[1]);
            // The same draws in every profile; list-append's transactions are all one kind.
            if w.profile == crate::scenario::Profile::ListAppend {
                kind = OpKind::ListTxn;
            }
            PlannedOp {
                seq,
                actor: seq % w.connections_per_worker,
                kind,
                think_us,
                payload_len,
                at_ms: PLAN_EPOCH_MS + i64::from(seq) * PLAN_TICK_MS + i64::from(worker),
            }
        })
        .collect();
    WorkerPlan { worker, ops }
}

/// The payload an op writes: printable, incompressible, a function of (seed, worker, seq)
/// alone, so the ledger can recompute it and compare contents.
pub fn payload(seed: u64, worker: u32, seq: u32, len: u32) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = stream(seed, "payload", u64::from(worker), u64::from(seq));
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..64usize)] as char)
        .collect()
}

/// The id of the task a `create_task` op inserts.
pub fn task_id(worker: u32, seq: u32) -> String {
    format!("t-{worker:03}-{seq:06}")
}

/// A stable name for a worker, written into `claimed_by`/`author` columns.
pub fn worker_name(worker: u32) -> String {
    format!("w{worker:03}")
}

/// A seeded SIGKILL: worker `worker` dies at `point` of its op `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Kill {
    pub worker: u32,
    pub seq: u32,
    pub point: crate::scenario::KillPoint,
}

/// Draws the scenario's kills: distinct (worker, op) pairs from their own stream, each on an
/// op where the point makes sense (a checkpoint op for `checkpoint`, a write otherwise).
pub fn kills(scenario: &Scenario, seed: u64) -> Vec<Kill> {
    use crate::scenario::KillPoint;
    let f = &scenario.faults;
    if f.kill == KillPoint::None || f.kills == 0 {
        return Vec::new();
    }
    let fits = |op: &PlannedOp| match f.kill {
        KillPoint::Checkpoint => op.kind == OpKind::Checkpoint,
        KillPoint::Close | KillPoint::Hang | KillPoint::Panic => true,
        _ => op.kind.is_write(),
    };
    let mut candidates: Vec<(u32, u32)> = (0..scenario.workload.workers)
        .flat_map(|w| {
            worker_plan(scenario, seed, w)
                .ops
                .into_iter()
                .filter(fits)
                .map(move |op| (w, op.seq))
        })
        .collect();
    let mut rng = stream(seed, "faults", 0, 0);
    let mut out = Vec::new();
    while out.len() < f.kills as usize && !candidates.is_empty() {
        let (worker, seq) = candidates.swap_remove(rng.random_range(0..candidates.len()));
        out.push(Kill {
            worker,
            seq,
            point: f.kill,
        });
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Overrides, load};

    /// The checkpointer role: workers below `checkpointers` draw only checkpoints, and
    /// everything else of every schedule (the writers' whole plans, the checkpointers' think
    /// times and payload sizes) is what it was without the role.
    #[test]
    fn checkpointers_only_checkpoint_and_change_nothing_else() {
        let (mut s, _) = load("kanban-mix", &Overrides::default()).unwrap();
        s.workload.workers = 4;
        let before = build(&s, 7);
        s.workload.checkpointers = 2;
        let after = build(&s, 7);
        for (b, a) in before.workers.iter().zip(&after.workers) {
            if a.worker < 2 {
                assert!(a.ops.iter().all(|op| op.kind == OpKind::Checkpoint));
                let same = |op: &PlannedOp| (op.seq, op.actor, op.think_us, op.payload_len);
                assert!(b.ops.iter().map(same).eq(a.ops.iter().map(same)));
            } else {
                assert_eq!(a, b, "a writer's schedule changed");
            }
        }
        // kanban-mix's writers draw few checkpoints: the role is what makes the difference.
        assert!(
            before.workers[0]
                .ops
                .iter()
                .any(|op| op.kind != OpKind::Checkpoint)
        );
        assert_ne!(before.schedule_hash, after.schedule_hash);
    }
}
