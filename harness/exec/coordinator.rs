//! The lockstep coordinator's state: who is parked before which step, who holds SQLite's
//! write lock, and the trace with its running hash. Pure: the runner feeds it events from
//! the worker pipes and sends the grants it decides.
//!
//! Invariants (also in PROTOCOL.md, "The coordinator's invariants"):
//! * settled = no step in flight and every live actor parked; only a settled run is granted
//!   a step, so the choice never depends on process speed;
//! * exactly one parked actor is granted, the scheduler's pick; a `did` from an actor that
//!   was not granted is ignored, a second `want` replaces the first;
//! * `begin`+`ok` makes a write-lock holder, a non-blocked `commit`, a `rollback` or a
//!   `close` ends holding; a second simultaneous holder is a breach at that step;
//! * a gone worker's actors leave the run, unless it is respawned: then they stay live and
//!   its successor parks them again.
//! * futile steps are skipped, never invented: an actor whose last step was turned away by
//!   a lock (`busy`, `would_block`) is *futile* and is not offered to a scheduler that
//!   [skips futile actors](Scheduler::skips_futile) until a step happens that could have
//!   released a lock ([`could_release`]). Then every futile actor may try again, so a lock
//!   that was dropped where the coordinator cannot see it (the bare-close probe drops a
//!   process's POSIX locks inside a `guard` step) still lets a waiting `begin` in at that
//!   exact step. A contender let back in that has not tried yet becomes futile again when
//!   another actor's `begin` succeeds first (the lock is taken again, nothing released it
//!   since). If every parked actor is futile, all are offered (a livelock then runs into the
//!   step budget instead of stalling).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::gate::ActorId;
use super::scheduler::Scheduler;
use super::step::{StepAction, StepResult};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceEntry {
    pub step: u64,
    pub worker: u32,
    pub actor: u32,
    pub action: StepAction,
    pub result: StepResult,
}

/// Two actors inside BEGIN IMMEDIATE..COMMIT at once, caught at the step where the second
/// BEGIN succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breach {
    pub step: u64,
    pub actor: ActorId,
    pub holders: Vec<ActorId>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LockstepOutcome {
    pub steps: u64,
    pub trace_hash: String,
    pub breaches: Vec<Breach>,
    /// The step at which a guard first reported corruption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_guard_report_step: Option<u64>,
    /// Why lockstep stopped early (budget, divergence, a stuck step), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    #[serde(skip)]
    pub trace: Vec<TraceEntry>,
}

pub enum StepEvent {
    Want(ActorId, StepAction),
    Did(ActorId, StepResult),
    ActorDone(ActorId),
    WorkerGone(u32),
    /// A killed worker's successor is starting: its actors stay live and will park again.
    Respawned(u32),
}

/// Whether a step could have released a lock another actor waits for. Conservative: every
/// step that ends or might end a transaction or a connection, that runs a guard (the bare
/// probe drops POSIX locks), opens a connection (the init lock is let go right after), or
/// that failed (SQLite may have rolled back), and any statement outside a write transaction
/// (a reader's statement can hold a SHARED lock that blocks a COMMIT until it finishes).
pub fn could_release(action: &StepAction, result: &StepResult, by_holder: bool) -> bool {
    match action {
        _ if matches!(result, StepResult::Error { .. }) => true,
        StepAction::Commit => !result.is_blocked(),
        StepAction::Rollback
        | StepAction::Close
        | StepAction::Guard
        | StepAction::Open
        | StepAction::Schema
        | StepAction::Checkpoint => true,
        StepAction::Statement { .. } => !by_holder,
        StepAction::Begin | StepAction::Flock => false,
    }
}

pub struct Coordinator {
    scheduler: Box<dyn Scheduler>,
    live: BTreeSet<ActorId>,
    parked: BTreeMap<ActorId, StepAction>,
    granted: Option<(ActorId, StepAction)>,
    holders: BTreeSet<ActorId>,
    /// Actors whose last step was turned away by a lock, with nothing released since.
    futile: BTreeSet<ActorId>,
    /// Actors let out of `futile` by a releasing step that have not stepped since.
    /// Invariant: disjoint from `futile`.
    retrying: BTreeSet<ActorId>,
    hasher: Sha256,
    budget: u64,
    pub out: LockstepOutcome,
}

impl Coordinator {
    pub fn new(scheduler: Box<dyn Scheduler>, actors: &[ActorId], budget: u64) -> Self {
        Coordinator {
            scheduler,
            live: actors.iter().copied().collect(),
            parked: BTreeMap::new(),
            granted: None,
            holders: BTreeSet::new(),
            futile: BTreeSet::new(),
            retrying: BTreeSet::new(),
            hasher: Sha256::new(),
            budget,
            out: LockstepOutcome::default(),
        }
    }

    pub fn on(&mut self, ev: StepEvent) {
        match ev {
            StepEvent::Want(a, action) => {
                self.parked.insert(a, action);
            }
            StepEvent::Did(a, result) => {
                let Some((g, action)) = self.granted.take_if(|(g, _)| *g == a) else {
                    return;
                };
                self.record(g, action, result);
            }
            StepEvent::ActorDone(a) => {
                self.live.remove(&a);
                // Its connections closed on the way out, outside any step.
                self.release_all();
            }
            StepEvent::Respawned(w) => {
                self.release_all();
                self.parked.retain(|a, _| a.worker != w);
                self.holders.retain(|a| a.worker != w);
                if self.granted.as_ref().is_some_and(|(a, _)| a.worker == w) {
                    self.granted = None;
                }
            }
            StepEvent::WorkerGone(w) => {
                // A process that died with live actors held its locks until then (the run
                // waits for this event before it is settled again). One whose actors had all
                // finished releases nothing new, and its exit arrives at no fixed step: it
                // must not change the coordinator's choices.
                if self.live.iter().any(|a| a.worker == w) {
                    self.release_all();
                }
                self.live.retain(|a| a.worker != w);
                self.parked.retain(|a, _| a.worker != w);
                self.holders.retain(|a| a.worker != w);
                if self.granted.as_ref().is_some_and(|(a, _)| a.worker == w) {
                    self.granted = None;
                }
            }
        }
    }

    /// Every futile actor may try again.
    fn release_all(&mut self) {
        self.retrying.append(&mut self.futile);
    }

    /// Keeps `futile` and `retrying` up to date after `a`'s step (see the module doc).
    fn track_futility(&mut self, a: ActorId, action: &StepAction, result: &StepResult) {
        let by_holder = self.holders.contains(&a);
        self.retrying.remove(&a);
        if result.is_blocked() {
            self.futile.insert(a);
        } else {
            self.futile.remove(&a);
        }
        if could_release(action, result, by_holder) {
            self.release_all();
        } else if *action == StepAction::Begin && result.is_ok() {
            // The write lock is taken again: a `begin` that has not retried since the last
            // release would meet it, as it did before.
            let again: Vec<ActorId> = self
                .retrying
                .iter()
                .copied()
                .filter(|r| self.parked.get(r) == Some(&StepAction::Begin))
                .collect();
            for r in again {
                self.retrying.remove(&r);
                self.futile.insert(r);
            }
        }
        debug_assert!(self.futile.is_disjoint(&self.retrying));
    }

    fn record(&mut self, a: ActorId, action: StepAction, result: StepResult) {
        let step = self.out.steps;
        self.track_futility(a, &action, &result);
        match action {
            StepAction::Begin if result.is_ok() => {
                if !self.holders.is_empty() && !self.holders.contains(&a) {
                    self.out.breaches.push(Breach {
                        step,
                        actor: a,
                        holders: self.holders.iter().copied().collect(),
                    });
                }
                self.holders.insert(a);
            }
            // Any COMMIT that was not turned away ends the transaction (an error leaves it
            // open only when the actor then rolls back, which also ends it).
            StepAction::Commit if !result.is_blocked() => {
                self.holders.remove(&a);
            }
            StepAction::Rollback | StepAction::Close => {
                self.holders.remove(&a);
            }
            StepAction::Guard if result == StepResult::Fired => {
                self.out.first_guard_report_step.get_or_insert(step);
            }
            _ => {}
        }
        self.scheduler.on_result(a, &action, &result);
        let line = format!("{step} {} {} {action} {result}\n", a.worker, a.actor);
        self.hasher.update(line.as_bytes());
        self.out.trace.push(TraceEntry {
            step,
            worker: a.worker,
            actor: a.actor,
            action,
            result,
        });
        self.out.steps += 1;
    }

    /// Every live actor is parked (or gone) and no step is in flight.
    pub fn settled(&self) -> bool {
        self.granted.is_none() && self.live.iter().all(|a| self.parked.contains_key(a))
    }

    pub fn finished(&self) -> bool {
        self.live.is_empty()
    }

    /// Picks the next step once settled; `Err` says why lockstep must stop.
    pub fn grant(&mut self) -> Result<ActorId, String> {
        if self.out.steps >= self.budget {
            return Err(format!(
                "step budget of {} exhausted with {} actors still running (livelock?)",
                self.budget,
                self.live.len()
            ));
        }
        let mut runnable: Vec<ActorId> = self.parked.keys().copied().collect();
        if self.scheduler.skips_futile() {
            let useful: Vec<ActorId> = runnable
                .iter()
                .copied()
                .filter(|a| !self.futile.contains(a))
                .collect();
            if !useful.is_empty() {
                runnable = useful;
            }
        }
        let Some(a) = self.scheduler.choose(self.out.steps, &runnable) else {
            return Err(format!(
                "the schedule diverged at step {}: the recorded actor is not waiting",
                self.out.steps
            ));
        };
        let action = self.parked.remove(&a).expect("chosen from parked");
        self.granted = Some((a, action));
        Ok(a)
    }

    /// The step now in flight, for watchdog messages.
    pub fn in_flight(&self) -> Option<&(ActorId, StepAction)> {
        self.granted.as_ref()
    }

    pub fn finish(mut self, stopped: Option<String>) -> LockstepOutcome {
        self.out.trace_hash = crate::plan::digest_hex(&self.hasher.finalize_reset());
        self.out.stopped = stopped;
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::scheduler::ReplayScheduler;

    fn id(worker: u32) -> ActorId {
        ActorId { worker, actor: 0 }
    }

    /// A coordinator of `n` one-actor workers whose scheduler grants `order`.
    fn coord(n: u32, order: &[u32]) -> Coordinator {
        let actors: Vec<ActorId> = (0..n).map(id).collect();
        let choices = order.iter().map(|&w| id(w)).collect();
        Coordinator::new(Box::new(ReplayScheduler::new(choices)), &actors, 100)
    }

    /// Grants the next step, completes it with `result`, then parks that actor before `next`.
    fn step(c: &mut Coordinator, next: StepAction, result: StepResult) -> ActorId {
        let a = c.grant().expect("a step is granted");
        assert_eq!(c.in_flight().map(|(g, _)| *g), Some(a));
        assert!(!c.settled(), "a step in flight is not settled");
        c.on(StepEvent::Did(a, result));
        c.on(StepEvent::Want(a, next));
        a
    }

    #[test]
    fn settled_only_when_every_live_actor_is_parked_and_nothing_is_in_flight() {
        let mut c = coord(2, &[0, 1]);
        assert!(!c.settled(), "nobody parked yet");
        c.on(StepEvent::Want(id(0), StepAction::Open));
        assert!(!c.settled(), "worker 1 has not parked");
        c.on(StepEvent::Want(id(1), StepAction::Open));
        assert!(c.settled());
        assert_eq!(c.grant(), Ok(id(0)));
        assert!(!c.settled());
        // A did from an actor that was not granted is ignored.
        c.on(StepEvent::Did(id(1), StepResult::Ok));
        assert!(!c.settled());
        c.on(StepEvent::Did(id(0), StepResult::Ok));
        assert!(!c.settled(), "worker 0 must park again (or finish)");
        c.on(StepEvent::ActorDone(id(0)));
        assert!(c.settled());
        assert!(!c.finished());
        assert_eq!(c.out.steps, 1);
    }

    #[test]
    fn a_second_begin_while_another_holds_the_lock_is_a_breach_at_that_step() {
        let mut c = coord(2, &[0, 1, 0, 1]);
        c.on(StepEvent::Want(id(0), StepAction::Begin));
        c.on(StepEvent::Want(id(1), StepAction::Begin));
        step(&mut c, StepAction::Commit, StepResult::Ok); // 0 holds
        step(&mut c, StepAction::Commit, StepResult::Ok); // 1 holds too: breach
        assert_eq!(c.out.breaches.len(), 1);
        assert_eq!(c.out.breaches[0].step, 1);
        assert_eq!(c.out.breaches[0].holders, vec![id(0)]);
        let busy = StepResult::Busy {
            code: "SQLITE_BUSY".into(),
        };
        step(&mut c, StepAction::Begin, busy); // 0's COMMIT turned away: still holds
        step(&mut c, StepAction::Begin, StepResult::Ok); // 1 commits
        assert_eq!(c.holders.iter().copied().collect::<Vec<_>>(), vec![id(0)]);
    }

    #[test]
    fn a_respawned_worker_stays_live_and_a_gone_one_leaves() {
        let mut c = coord(2, &[0]);
        c.on(StepEvent::Want(id(0), StepAction::Begin));
        c.on(StepEvent::Want(id(1), StepAction::Begin));
        step(&mut c, StepAction::Commit, StepResult::Ok);
        c.on(StepEvent::Respawned(0));
        assert!(c.holders.is_empty(), "a dead process holds no lock");
        assert!(
            !c.settled(),
            "the successor must park worker 0's actor again"
        );
        c.on(StepEvent::Want(id(0), StepAction::Open));
        assert!(c.settled());
        c.on(StepEvent::WorkerGone(1));
        assert!(c.settled());
        c.on(StepEvent::ActorDone(id(0)));
        assert!(c.finished());
    }

    #[test]
    fn the_trace_hash_covers_the_typed_steps() {
        let run = |result: StepResult| {
            let mut c = coord(1, &[0]);
            c.on(StepEvent::Want(id(0), StepAction::statement("insert")));
            step(&mut c, StepAction::Commit, result);
            c.finish(None).trace_hash
        };
        assert_eq!(run(StepResult::Ok), run(StepResult::Ok));
        assert_ne!(
            run(StepResult::Ok),
            run(StepResult::Error {
                code: "SQLITE_IOERR".into()
            })
        );
    }
}
