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
            StepAction::BeginDeferred if result.is_ok() => {
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

    /// A deferred transaction holds nothing until its first write returns OK, as SQLite
    /// takes the lock: two deferred BEGINs and one writer are no breach; a second write
    /// while the first writer holds the lock is one, at that write's step.
    #[test]
    fn a_deferred_begin_holds_the_lock_only_from_its_first_write() {
        let mut c = coord(2, &[0, 1, 0, 1, 0, 1]);
        c.on(StepEvent::Want(id(0), StepAction::BeginDeferred));
        c.on(StepEvent::Want(id(1), StepAction::BeginDeferred));
        step(
            &mut c,
            StepAction::write("INSERT INTO jobs"),
            StepResult::Ok,
        ); // 0 deferred
        step(
            &mut c,
            StepAction::write("INSERT INTO jobs"),
            StepResult::Ok,
        ); // 1 deferred
        assert!(c.out.breaches.is_empty() && c.holders.is_empty());
        step(&mut c, StepAction::Commit, StepResult::Ok); // 0 writes: holds
        assert_eq!(c.holders.iter().copied().collect::<Vec<_>>(), vec![id(0)]);
        let busy = StepResult::Busy {
            code: "SQLITE_BUSY".into(),
        };
        step(&mut c, StepAction::write("INSERT INTO jobs"), busy); // 1 turned away
        assert!(c.out.breaches.is_empty());
        step(&mut c, StepAction::BeginDeferred, StepResult::Ok); // 0 commits
        assert!(c.holders.is_empty());
        step(&mut c, StepAction::Commit, StepResult::Ok); // 1 writes now: fine
        assert!(c.out.breaches.is_empty(), "{:?}", c.out.breaches);
        assert_eq!(c.holders.iter().copied().collect::<Vec<_>>(), vec![id(1)]);
    }

    #[test]
    fn a_write_while_another_holds_the_lock_is_a_breach_at_that_step() {
        let mut c = coord(2, &[0, 1, 1]);
        c.on(StepEvent::Want(id(0), StepAction::Begin));
        c.on(StepEvent::Want(id(1), StepAction::BeginDeferred));
        step(&mut c, StepAction::Commit, StepResult::Ok); // 0 holds
        step(&mut c, StepAction::write("UPDATE t"), StepResult::Ok); // 1 deferred
        step(&mut c, StepAction::Commit, StepResult::Ok); // 1's write got in: breach
        assert_eq!(c.out.breaches.len(), 1);
        assert_eq!(c.out.breaches[0].step, 2);
        // An autocommit write by another actor while one holds is a breach too.
        let mut c = coord(2, &[0, 1]);
        c.on(StepEvent::Want(id(0), StepAction::Begin));
        c.on(StepEvent::Want(id(1), StepAction::write("INSERT")));
        step(&mut c, StepAction::Commit, StepResult::Ok);
        step(&mut c, StepAction::Close, StepResult::Ok);
        assert_eq!(c.out.breaches.len(), 1);
        assert_eq!(c.holders.iter().copied().collect::<Vec<_>>(), vec![id(0)]);
    }

    /// Two actors of ONE worker are two connections: a breach between them is a breach.
    #[test]
    fn a_breach_between_two_actors_of_one_worker_is_a_breach() {
        let a = |actor| ActorId { worker: 0, actor };
        let mut c = Coordinator::new(
            Box::new(ReplayScheduler::new(vec![a(0), a(1)])),
            &[a(0), a(1)],
            100,
        );
        c.on(StepEvent::Want(a(0), StepAction::Begin));
        c.on(StepEvent::Want(a(1), StepAction::Begin));
        let g = c.grant().unwrap();
        c.on(StepEvent::Did(g, StepResult::Ok));
        c.on(StepEvent::Want(g, StepAction::Commit));
        let g = c.grant().unwrap();
        c.on(StepEvent::Did(g, StepResult::Ok));
        assert_eq!(c.out.breaches.len(), 1);
        assert_eq!(c.out.breaches[0].actor, a(1));
        assert_eq!(c.out.breaches[0].holders, vec![a(0)]);
    }

    /// Two actors of one worker: actor 0 finishes, then actor 1's process is killed and
    /// respawned. The successor runs actor 0 too (it closes its early connection), so actor 0
    /// must be live again: otherwise the run finishes without granting that close and the
    /// successor dies waiting for a grant (found with kills after commit, 2 connections).
    #[test]
    fn a_respawn_revives_an_actor_that_had_finished() {
        let a = |actor| ActorId { worker: 0, actor };
        let mut c = Coordinator::new(
            Box::new(ReplayScheduler::new(vec![a(1)])),
            &[a(0), a(1)],
            100,
        );
        c.on(StepEvent::ActorDone(a(0)));
        c.on(StepEvent::Want(a(1), StepAction::Commit));
        c.on(StepEvent::Respawned(0));
        assert!(!c.settled(), "both actors of the successor must park");
        c.on(StepEvent::Want(a(1), StepAction::Open));
        assert!(!c.settled(), "actor 0 is live again");
        c.on(StepEvent::Want(a(0), StepAction::Close));
        assert!(c.settled());
        c.on(StepEvent::ActorDone(a(1)));
        c.on(StepEvent::ActorDone(a(0)));
        assert!(c.finished());
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

    fn futile(c: &Coordinator) -> Vec<u32> {
        c.futile.iter().map(|a| a.worker).collect()
    }

    /// Issue 15: a flock that is turned away, or taken, proves its lock held until a step
    /// that could release it; every waiter on that lock is futile until then, also one let
    /// back in, one that has not tried yet and one that parks later. Waiters on another
    /// lock, on an unnamed lock and on a `begin` keep their turn.
    #[test]
    fn a_held_flock_turns_away_every_waiter_on_that_lock_and_no_other() {
        let (init, write) = (
            StepAction::flock(LockName::Init),
            StepAction::flock(LockName::Write),
        );
        let mut c = coord(6, &[0, 3, 0, 1, 5, 4]);
        for w in 0..3 {
            c.on(StepEvent::Want(id(w), init.clone()));
        }
        c.on(StepEvent::Want(id(3), write.clone()));
        c.on(StepEvent::Want(id(4), StepAction::Flock { lock: None }));
        c.on(StepEvent::Want(id(5), write.clone()));
        // 0 takes the init lock: 1 and 2 have not tried, but their attempts must fail.
        step(&mut c, StepAction::Open, StepResult::Ok);
        assert_eq!(futile(&c), [1, 2]);
        // 3 finds the write lock held: 5 waits on it too; the init waiters stay futile.
        step(&mut c, write.clone(), StepResult::WouldBlock);
        assert_eq!(futile(&c), [1, 2, 3, 5]);
        // 0's open could release a lock: everyone may try again, nothing is known held.
        step(&mut c, StepAction::Schema, StepResult::Ok);
        assert!(c.futile.is_empty());
        assert!(c.held_flocks.is_empty());
        // 1 finds the init lock still held: 2, let back in, is futile again without trying;
        // 3 and 5 (another lock) and 4 (an unnamed one) keep their turn.
        step(&mut c, init.clone(), StepResult::WouldBlock);
        assert_eq!(futile(&c), [1, 2]);
        assert_eq!(
            c.retrying.iter().map(|a| a.worker).collect::<Vec<_>>(),
            [3, 5]
        );
        // 5 takes the write lock, then parks before the init lock: futile at once.
        step(&mut c, init.clone(), StepResult::Ok);
        assert_eq!(futile(&c), [1, 2, 3, 5]);
        // An unnamed flock proves nothing about anyone else's wait.
        step(&mut c, StepAction::Open, StepResult::WouldBlock);
        assert_eq!(futile(&c), [1, 2, 3, 4, 5]);
        assert!(c.futile.is_disjoint(&c.retrying));
    }

    /// Only flocks: a `begin` turned away leaves the other `begin` waiters their turn (the
    /// lock-hazard control needs a waiting `begin` to try at the exact step a bare close
    /// drops the lock), and an errored flock counts as releasing, as before.
    #[test]
    fn a_busy_begin_or_a_failed_flock_groups_nobody() {
        let busy = StepResult::Busy {
            code: "SQLITE_BUSY".into(),
        };
        let mut c = coord(3, &[0, 1]);
        for w in 0..2 {
            c.on(StepEvent::Want(id(w), StepAction::Begin));
        }
        c.on(StepEvent::Want(id(2), StepAction::flock(LockName::Init)));
        step(&mut c, StepAction::Begin, busy);
        assert_eq!(futile(&c), [0]);
        let errno = StepResult::Error {
            code: "WALBURST_FLOCK_ERRNO_5".into(),
        };
        c.on(StepEvent::Want(id(1), StepAction::flock(LockName::Init)));
        step(&mut c, StepAction::Open, errno);
        assert!(c.futile.is_empty());
        assert!(c.held_flocks.is_empty());
    }

    /// A skipping scheduler is never offered a waiter on a lock known held while someone
    /// else can move.
    #[test]
    fn a_skipping_scheduler_grants_the_holder_not_the_waiters() {
        let init = StepAction::flock(LockName::Init);
        let actors: Vec<ActorId> = (0..8).map(id).collect();
        let random = crate::exec::scheduler::RandomScheduler::new(3);
        let mut c = Coordinator::new(Box::new(random), &actors, 100);
        for &a in &actors {
            c.on(StepEvent::Want(a, init.clone()));
        }
        let holder = step(&mut c, StepAction::Open, StepResult::Ok);
        let mut tried = 0;
        for _ in 0..20 {
            if c.futile.len() == 7 {
                let a = c.grant().unwrap();
                assert_eq!(a, holder, "a waiter on the held init lock was granted");
                // A statement outside a transaction could release a lock.
                c.on(StepEvent::Did(a, StepResult::Ok));
                c.on(StepEvent::Want(a, StepAction::statement("pragma")));
                assert!(c.futile.is_empty());
                continue;
            }
            // Everyone may try: the first waiter turned away sends the rest back to futile.
            let a = c.grant().unwrap();
            if a == holder {
                c.on(StepEvent::Did(a, StepResult::Ok));
                c.on(StepEvent::Want(a, StepAction::statement("pragma")));
                continue;
            }
            c.on(StepEvent::Did(a, StepResult::WouldBlock));
            c.on(StepEvent::Want(a, init.clone()));
            assert_eq!(c.futile.len(), 7);
            tried += 1;
        }
        assert!(tried >= 3, "only {tried} waiters tried");
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
