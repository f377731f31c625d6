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
//! * below SQL (`[lockstep] points = "shm"`): see `coordinator_shm.rs`.
//! * an app's in-process lock (`app_lock`, e.g. a Python `threading.Lock` the adapter
//!   tracks) can only be held by an actor of the same worker process, which lets it go only
//!   while it runs, between two of its steps (every other actor is parked then, so the lock's
//!   state at each choice is a function of the schedule). An actor turned away from one
//!   (`would_block`) waits for its process: it is futile (in `app_waiting`) until a step of
//!   another actor of its process completes, and so is every other actor of that process
//!   parked before an `app_lock` on the same name; steps of other processes change nothing
//!   for it (no O(n^2) retries while another process commits). Its holder's step may be
//!   any kind (even its own `app_lock` that came back `ok`: its body may end at once), but
//!   not a `would_block` attempt (the adapter tries again without running app code) nor a
//!   `paused` one (its thread is inside SQLite). An `app_lock` is never a breach and
//!   releases no SQLite lock. A `want` may also say which app locks its actor holds
//!   (`WantHolding`): a skipping scheduler is then not offered another actor of that
//!   process parked before one of them at all (it must be turned away), so no attempt is.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use super::scheduler::Scheduler;
use crate::observe::ActorId;
use crate::observe::step::{AppLockName, LockName, StepAction, StepResult};

use crate::observe::lockstep::{Breach, LockstepOutcome, TraceEntry};

pub enum StepEvent {
    Want(ActorId, StepAction),
    /// A `want` that says which app locks the actor holds as it parks (a hint: see
    /// `Coordinator::declared`).
    WantHolding(ActorId, StepAction, Vec<AppLockName>),
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
        // An in-process lock is nobody's SQLite or file lock (its waiters are released by
        // their own process's steps: `Coordinator::release_app_locks`).
        StepAction::Begin
        | StepAction::BeginDeferred
        | StepAction::Flock { .. }
        | StepAction::AppLock { .. } => false,
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
    /// Actors turned away from an app lock (or parked before one known held), with no step
    /// of another actor of their process since. Invariant: disjoint from `futile` and
    /// `retrying`, and live.
    app_waiting: BTreeSet<ActorId>,
    /// App locks a `would_block` proved held, by (worker, name), with no step of another
    /// actor of that worker since.
    held_app_locks: BTreeSet<(u32, AppLockName)>,
    /// The app locks each parked actor said it holds as it parked (`want`'s `holding`).
    /// Once settled nobody runs, so a declared lock is still held when the next step is
    /// chosen: an attempt on it by another actor of that worker would be turned away, and
    /// a skipping scheduler is not offered it. A hint: a wrong one only delays waiters
    /// (when every parked actor is futile all are offered); without one, `app_waiting`
    /// still keeps waiters from retrying more than once per step of their process.
    declared: BTreeMap<ActorId, BTreeSet<AppLockName>>,
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
            app_waiting: BTreeSet::new(),
            held_app_locks: BTreeSet::new(),
            declared: BTreeMap::new(),
            hasher: Sha256::new(),
            budget,
            out: LockstepOutcome::default(),
        }
    }

    pub fn on(&mut self, ev: StepEvent) {
        self.apply(ev);
        self.check_invariants();
    }

    fn apply(&mut self, ev: StepEvent) {
        match ev {
            StepEvent::WantHolding(a, action, holding) => {
                self.declared.remove(&a);
                if self.live.contains(&a) && !holding.is_empty() {
                    self.declared.insert(a, holding.into_iter().collect());
                }
                self.want(a, action);
            }
            StepEvent::Want(a, action) => {
                self.declared.remove(&a);
                self.want(a, action);
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
                // It may have let an app lock go on its way out.
                self.release_app_locks(a.worker);
                self.declared.remove(&a);
            }
            StepEvent::Respawned(w) => {
                self.release_all();
                // The successor runs every actor of the worker: one that had finished before
                // the kill is live again until it says `actor_done` (a step it wants, such as
                // closing an early connection, must be granted like any other, never raced).
                let mine = self.actors.iter().filter(|a| a.worker == w);
                self.live.extend(mine);
                self.forget_process(w);
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
                self.forget_process(w);
            }
        }
    }

    /// Worker `w`'s process is gone: nothing it parked, held, paused or was granted stands,
    /// and its in-process (app) locks died with it.
    fn forget_process(&mut self, w: u32) {
        self.parked.retain(|a, _| a.worker != w);
        self.holders.retain(|a| a.worker != w);
        self.deferred.retain(|a| a.worker != w);
        self.paused.retain(|a, _| a.worker != w);
        self.release_app_locks(w);
        self.declared.retain(|a, _| a.worker != w);
        if self.granted.as_ref().is_some_and(|(a, _)| a.worker == w) {
            self.granted = None;
        }
    }

    /// `a` parks before `action`.
    fn want(&mut self, a: ActorId, action: StepAction) {
        if !matches!(action, StepAction::AppLock { .. }) {
            // It no longer waits for an app lock (an adapter may give up on one).
            self.app_waiting.remove(&a);
        }
        if let StepAction::Flock { lock: Some(l) } = &action
            && self.held_flocks.contains(l)
        {
            // Its attempt would be turned away: nothing released the lock since.
            self.retrying.remove(&a);
            self.futile.insert(a);
        }
        if let StepAction::AppLock { lock } = &action
            && self.held_app_locks.contains(&(a.worker, lock.clone()))
        {
            // Held by a parked actor of its process, which has not run since.
            self.wait_for_process(a);
        }
        self.parked.insert(a, action);
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

    /// `a` waits for a step of another actor of its own process (an app lock is held there).
    fn wait_for_process(&mut self, a: ActorId) {
        self.futile.remove(&a);
        self.retrying.remove(&a);
        self.app_waiting.insert(a);
    }

    /// A step proved the app lock `lock` of `worker` held: every actor of that worker parked
    /// before an attempt on it is futile until another actor of the worker steps.
    fn app_lock_held(&mut self, worker: u32, lock: &AppLockName) {
        self.held_app_locks.insert((worker, lock.clone()));
        let waiters: Vec<ActorId> = self
            .parked
            .iter()
            .filter(|(r, want)| {
                r.worker == worker && matches!(want, StepAction::AppLock { lock: l } if l == lock)
            })
            .map(|(r, _)| *r)
            .collect();
        for r in waiters {
            self.wait_for_process(r);
        }
    }

    /// Whether `a` is parked before an app lock that another actor of its worker said it
    /// holds as it parked (see `declared`).
    fn held_by_sibling(&self, a: ActorId) -> bool {
        let Some(StepAction::AppLock { lock }) = self.parked.get(&a) else {
            return false;
        };
        self.declared
            .iter()
            .any(|(h, locks)| h.worker == a.worker && *h != a && locks.contains(lock))
    }

    /// An actor of `worker` ran: whatever app lock it held, it may have let go.
    fn release_app_locks(&mut self, worker: u32) {
        self.held_app_locks.retain(|(w, _)| *w != worker);
        self.app_waiting.retain(|r| r.worker != worker);
    }

    /// Keeps `futile`, `retrying` and `app_waiting` up to date after `a`'s step (see the
    /// module doc).
    fn track_futility(&mut self, a: ActorId, action: &StepAction, result: &StepResult) {
        let by_holder = self.holders.contains(&a);
        self.retrying.remove(&a);
        match action {
            // Turned away by its own process: it waits for that process, not for a release
            // anywhere else. It ran no app code, so it let nothing go.
            StepAction::AppLock { lock } if *result == StepResult::WouldBlock => {
                self.app_lock_held(a.worker, lock);
                self.wait_for_process(a);
            }
            _ => {
                self.app_waiting.remove(&a);
                // Whatever ran after this step may let an app lock of its process go.
                self.release_app_locks(a.worker);
                if result.is_blocked() {
                    self.futile.insert(a);
                } else {
                    self.futile.remove(&a);
                }
            }
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
        if result.is_paused() {
            // Inside SQLite, mid-call: nothing about the write lock is known yet. A step
            // paused again at a later point (`points = "shm"`) keeps its first meaning.
            if !matches!(traced, StepAction::Resume { .. }) || !self.paused.contains_key(&a) {
                self.paused.insert(a, traced.clone());
            }
            self.track_shm(a, &traced, &result);
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

    /// Settled, and no actor is inside a transaction (holding the write lock, in a deferred
    /// one, or paused inside SQLite): the database's committed state is all there is, and
    /// nobody runs until the next grant. The app's invariants are read here.
    pub fn quiescent(&self) -> bool {
        self.settled()
            && self.holders.is_empty()
            && self.deferred.is_empty()
            && self.paused.is_empty()
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
                .filter(|a| {
                    !self.futile.contains(a)
                        && !self.app_waiting.contains(a)
                        && !self.held_by_sibling(*a)
                })
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

    /// Live actors that have neither parked a step nor one in flight: what an unsettled run
    /// waits for.
    pub fn unparked(&self) -> Vec<ActorId> {
        self.live
            .iter()
            .copied()
            .filter(|a| {
                !self.parked.contains_key(a) && self.granted.as_ref().is_none_or(|(g, _)| g != a)
            })
            .collect()
    }

    /// Another actor of `a`'s worker that is parked, and the step it is parked before.
    pub fn parked_sibling(&self, a: ActorId) -> Option<(ActorId, &StepAction)> {
        self.parked
            .iter()
            .find(|(s, _)| s.worker == a.worker && **s != a)
            .map(|(s, want)| (*s, want))
    }

    /// The last step `a` completed, for watchdog messages.
    pub fn last_step_of(&self, a: ActorId) -> Option<&TraceEntry> {
        self.out
            .trace
            .iter()
            .rev()
            .find(|e| e.worker == a.worker && e.actor == a.actor)
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

#[cfg(test)]
#[path = "coordinator_process_tests.rs"]
mod process_tests;

#[path = "coordinator_shm.rs"]
mod shm;

#[path = "coordinator_invariants.rs"]
mod invariants;

#[cfg(test)]
#[path = "coordinator_shm_tests.rs"]
mod shm_tests;
