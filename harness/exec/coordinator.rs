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
//! * a gone worker's actors leave the run, unless it is respawned: then every one of its
//!   actors is live again (also one that had finished: the successor runs every actor, if
//!   only to close its connection) and the successor parks or finishes each.
//! * futile steps are skipped, never invented: an actor whose last step was turned away by
//!   a lock (`busy`, `would_block`) is *futile* and is not offered to a scheduler that
//!   [skips futile actors](Scheduler::skips_futile) until a step happens that could have
//!   released a lock ([`could_release`]). Then every futile actor may try again, so a lock
//!   that was dropped where the coordinator cannot see it (the bare-close probe drops its
//!   process's POSIX locks inside a `guard` step, which counts as releasing whenever that
//!   process holds the write lock) still lets a waiting `begin` in at that exact step. A contender let back in that has not tried yet becomes futile again when
//!   another actor's `begin` succeeds first (the lock is taken again, nothing released it
//!   since). If every parked actor is futile, all are offered (a livelock then runs into the
//!   step budget instead of stalling).
//! * a held flock turns away every attempt on it: a `flock` on a *named* lock L (`"lock"`)
//!   that comes back `would_block`, or `ok`, proves L held from that step until the next
//!   step that could release a lock. Until then every other actor parked before a `flock`
//!   on L is futile too, without spending a step on it: one let back in (`retrying`), one
//!   that has not tried yet, and one that parks there later. Only flocks, which their
//!   holder lets go right after one of its own releasing steps (walburst's worker: the init
//!   lock after `open`/`schema`, the write lock after `commit`, `rollback`, `checkpoint` or
//!   `close`) or by dying: a `begin` turned away proves nothing for the next one (a bare
//!   close drops a process's POSIX locks where the coordinator cannot see it), and a flock
//!   without a name is an unknown lock, never grouped with another.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use super::gate::ActorId;
use super::scheduler::Scheduler;
use super::step::{LockName, StepAction, StepResult};

pub use crate::observe::lockstep::{Breach, LockstepOutcome, TraceEntry};

pub enum StepEvent {
    Want(ActorId, StepAction),
    Did(ActorId, StepResult),
    ActorDone(ActorId),
    WorkerGone(u32),
    /// A killed worker's successor is starting: its actors stay live and will park again.
    Respawned(u32),
}

/// Whether a step could have released a lock another actor waits for. Conservative: every
/// step that ends or might end a transaction or a connection, opens a connection (the init
/// lock is let go right after), or failed (SQLite may have rolled back), and any statement
/// outside a write transaction (a reader's statement can hold a SHARED lock that blocks a
/// COMMIT until it finishes). A guard step counts when its process holds the write lock
/// (`process_holds`): the bare-close probe drops every POSIX lock *its own process* holds on
/// the database, so it can free the lock only there. (Between steps, a connection outside a
/// write transaction holds no lock: its statements are steps of their own.)
pub fn could_release(
    action: &StepAction,
    result: &StepResult,
    by_holder: bool,
    process_holds: bool,
) -> bool {
    match action {
        _ if matches!(result, StepResult::Error { .. }) => true,
        StepAction::Commit => !result.is_blocked(),
        StepAction::Guard => process_holds,
        StepAction::Rollback
        | StepAction::Close
        | StepAction::Open
        | StepAction::Schema
        | StepAction::Checkpoint => true,
        StepAction::Statement { .. } | StepAction::Write { .. } => !by_holder,
        // Its meaning is the paused step's; the coordinator looks that up (`record`).
        StepAction::Resume { .. } => true,
        StepAction::Begin | StepAction::BeginDeferred | StepAction::Flock { .. } => false,
    }
}

/// Why the coordinator cannot grant another step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockstepStop {
    #[error("step budget of {budget} exhausted with {live} actors still running (livelock?)")]
    BudgetExhausted { budget: u64, live: usize },
    #[error("the schedule diverged at step {step}: the recorded actor is not waiting")]
    Diverged { step: u64 },
}

pub struct Coordinator {
    scheduler: Box<dyn Scheduler>,
    /// Every actor of the run, live or not (a respawn makes a worker's actors live again).
    actors: BTreeSet<ActorId>,
    live: BTreeSet<ActorId>,
    parked: BTreeMap<ActorId, StepAction>,
    granted: Option<(ActorId, StepAction)>,
    holders: BTreeSet<ActorId>,
    /// Actors inside a deferred transaction that has not written yet: they hold no write
    /// lock until a `write` step returns OK. Invariant: disjoint from `holders`.
    deferred: BTreeSet<ActorId>,
    /// Actors whose last step was turned away by a lock, with nothing released since.
    futile: BTreeSet<ActorId>,
    /// Actors let out of `futile` by a releasing step that have not stepped since.
    /// Invariant: disjoint from `futile`.
    retrying: BTreeSet<ActorId>,
    /// Steps paused inside SQLite at a `yield` point, by actor: their `resume` step's result
    /// is theirs, and their meaning is applied then.
    paused: BTreeMap<ActorId, StepAction>,
    /// Named flocks a step proved held, with nothing released since.
    held_flocks: BTreeSet<LockName>,
    hasher: Sha256,
    budget: u64,
    pub out: LockstepOutcome,
}

impl Coordinator {
    pub fn new(scheduler: Box<dyn Scheduler>, actors: &[ActorId], budget: u64) -> Self {
        Coordinator {
            scheduler,
            actors: actors.iter().copied().collect(),
            live: actors.iter().copied().collect(),
            parked: BTreeMap::new(),
            granted: None,
            holders: BTreeSet::new(),
            deferred: BTreeSet::new(),
            paused: BTreeMap::new(),
            futile: BTreeSet::new(),
            retrying: BTreeSet::new(),
            held_flocks: BTreeSet::new(),
            hasher: Sha256::new(),
            budget,
            out: LockstepOutcome::default(),
        }
    }

    pub fn on(&mut self, ev: StepEvent) {
        self.apply(ev);
        self.check_invariants();
    }

    /// The module doc's invariants, asserted after every event and grant (debug builds).
    fn check_invariants(&self) {
        debug_assert!(
            self.holders.is_subset(&self.live),
            "a write-lock holder that is not live: holders {:?}, live {:?}",
            self.holders,
            self.live
        );
        debug_assert!(
            self.holders.len() <= 1 || !self.out.breaches.is_empty(),
            "two holders of the write lock without a recorded breach: {:?}",
            self.holders
        );
        debug_assert!(
            self.granted
                .as_ref()
                .is_none_or(|(g, _)| !self.parked.contains_key(g)),
            "the granted actor is also parked"
        );
        debug_assert!(self.parked.keys().all(|a| self.live.contains(a)));
        debug_assert!(self.futile.is_disjoint(&self.retrying));
        debug_assert!(self.deferred.is_disjoint(&self.holders));
        debug_assert!(self.live.is_subset(&self.actors));
    }

    fn apply(&mut self, ev: StepEvent) {
        match ev {
            StepEvent::Want(a, action) => {
                if let StepAction::Flock { lock: Some(l) } = &action
                    && self.held_flocks.contains(l)
                {
                    // Its attempt would be turned away: nothing released the lock since.
                    self.retrying.remove(&a);
                    self.futile.insert(a);
                }
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
                // A finished actor parks no step (one it parked before is withdrawn).
                self.parked.remove(&a);
                // Its connections closed on the way out, outside any step: it holds
                // nothing any more.
                self.holders.remove(&a);
                self.deferred.remove(&a);
                self.release_all();
            }
            StepEvent::Respawned(w) => {
                self.release_all();
                // The successor runs every actor of the worker: one that had finished before
                // the kill is live again until it says `actor_done` (a step it wants, such as
                // closing an early connection, must be granted like any other, never raced).
                let mine = self.actors.iter().filter(|a| a.worker == w);
                self.live.extend(mine);
                self.parked.retain(|a, _| a.worker != w);
                self.holders.retain(|a| a.worker != w);
                self.deferred.retain(|a| a.worker != w);
                self.paused.retain(|a, _| a.worker != w);
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
                self.deferred.retain(|a| a.worker != w);
                self.paused.retain(|a, _| a.worker != w);
                if self.granted.as_ref().is_some_and(|(a, _)| a.worker == w) {
                    self.granted = None;
                }
            }
        }
    }

    /// Every futile actor may try again.
    fn release_all(&mut self) {
        self.retrying.append(&mut self.futile);
        self.held_flocks.clear();
    }

    /// A step proved the flock `lock` held: every actor parked before an attempt on it is
    /// futile until something could release it.
    fn flock_held(&mut self, lock: &LockName) {
        self.held_flocks.insert(lock.clone());
        for (r, want) in &self.parked {
            if matches!(want, StepAction::Flock { lock: Some(l) } if l == lock) {
                self.retrying.remove(r);
                self.futile.insert(*r);
            }
        }
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
        let process_holds = self.holders.iter().any(|h| h.worker == a.worker);
        if could_release(action, result, by_holder, process_holds) {
            self.release_all();
        } else if self.acquires(a, action, result) {
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
        } else if let StepAction::Flock { lock: Some(l) } = action
            && matches!(result, StepResult::Ok | StepResult::WouldBlock)
        {
            self.flock_held(l);
        }
        debug_assert!(self.futile.is_disjoint(&self.retrying));
    }

    /// Whether `a`'s step takes SQLite's write lock as SQLite takes it: an immediate `begin`
    /// that returned OK, or a `write` that returned OK outside a transaction that already
    /// holds it (the first write of a deferred transaction; an autocommit write, which
    /// holds it for the step alone). A deferred `begin` takes nothing.
    fn acquires(&self, a: ActorId, action: &StepAction, result: &StepResult) -> bool {
        result.is_ok()
            && match action {
                StepAction::Begin => true,
                StepAction::Write { .. } => !self.holders.contains(&a),
                _ => false,
            }
    }

    fn record(&mut self, a: ActorId, traced: StepAction, result: StepResult) {
        let step = self.out.steps;
        if result == StepResult::Paused {
            // Inside SQLite, mid-call: nothing about the locks is known yet.
            self.paused.insert(a, traced.clone());
            self.trace(step, a, traced, result);
            return;
        }
        // A resumed step means what the paused one meant.
        let action = match &traced {
            StepAction::Resume { .. } => self.paused.remove(&a).unwrap_or_else(|| traced.clone()),
            _ => traced.clone(),
        };
        let acquires = self.acquires(a, &action, &result);
        self.track_futility(a, &action, &result);
        if acquires && !self.holders.is_empty() && !self.holders.contains(&a) {
            self.out.breaches.push(Breach {
                step,
                actor: a,
                holders: self.holders.iter().copied().collect(),
            });
        }
        match action {
            StepAction::Begin if result.is_ok() => {
                self.deferred.remove(&a);
                self.holders.insert(a);
            }
            // A holder's `begin_deferred` (SQLite refuses a BEGIN inside a transaction; an
            // adapter may still report it OK) takes nothing and gives nothing back: it keeps
            // holding, and a deferred transaction is one that does not hold yet.
            StepAction::BeginDeferred if result.is_ok() && !self.holders.contains(&a) => {
                self.deferred.insert(a);
            }
            // The first write of a deferred transaction keeps the lock until it ends; an
            // autocommit write released it when the step returned.
            StepAction::Write { .. } if acquires && self.deferred.remove(&a) => {
                self.holders.insert(a);
            }
            // Any COMMIT that was not turned away ends the transaction (an error leaves it
            // open only when the actor then rolls back, which also ends it).
            StepAction::Commit if !result.is_blocked() => {
                self.holders.remove(&a);
                self.deferred.remove(&a);
            }
            StepAction::Rollback | StepAction::Close => {
                self.holders.remove(&a);
                self.deferred.remove(&a);
            }
            StepAction::Guard if result == StepResult::Fired => {
                self.out.first_guard_report_step.get_or_insert(step);
            }
            _ => {}
        }
        self.trace(step, a, traced, result);
    }

    /// Appends the step to the trace and its hash.
    fn trace(&mut self, step: u64, a: ActorId, action: StepAction, result: StepResult) {
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
    pub fn grant(&mut self) -> Result<ActorId, LockstepStop> {
        if self.out.steps >= self.budget {
            return Err(LockstepStop::BudgetExhausted {
                budget: self.budget,
                live: self.live.len(),
            });
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
            return Err(LockstepStop::Diverged {
                step: self.out.steps,
            });
        };
        let action = self.parked.remove(&a).expect("chosen from parked");
        self.granted = Some((a, action));
        self.check_invariants();
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
#[path = "coordinator_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "coordinator_props_tests.rs"]
mod props_tests;
