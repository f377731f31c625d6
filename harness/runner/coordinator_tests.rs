//! Unit tests of `runner::coordinator` (its app-lock rules: `coordinator_app_lock_tests.rs`).
use super::*;
use crate::runner::scheduler::ReplayScheduler;

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
    let random = crate::runner::scheduler::RandomScheduler::new(3);
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

/// Two actors of one worker process holding the write lock at once is a breach like any
/// other: the coordinator keys holders by actor, never by worker (every older fixture had
/// one actor per worker, so a coordinator that forgave a breach inside one process
/// passed them all).
#[test]
fn two_actors_of_one_worker_holding_at_once_is_a_breach() {
    let a = |actor| ActorId { worker: 0, actor };
    let mut c = Coordinator::new(
        Box::new(ReplayScheduler::new(vec![a(0), a(1)])),
        &[a(0), a(1)],
        100,
    );
    c.on(StepEvent::Want(a(0), StepAction::Begin));
    c.on(StepEvent::Want(a(1), StepAction::Begin));
    step(&mut c, StepAction::Commit, StepResult::Ok);
    assert!(c.out.breaches.is_empty());
    step(&mut c, StepAction::Commit, StepResult::Ok);
    assert_eq!(
        c.out.breaches,
        [Breach {
            step: 1,
            actor: a(1),
            holders: vec![a(0)],
        }]
    );
}

/// Holding ends with a commit that was not turned away (an error too), a rollback or a
/// close, and only for that actor: the next `begin` is then no breach. A busy `begin`
/// never makes a holder.
#[test]
fn holding_ends_with_commit_rollback_or_close_and_a_busy_begin_holds_nothing() {
    let busy = StepResult::Busy {
        code: "SQLITE_BUSY".into(),
    };
    let error = StepResult::Error {
        code: "SQLITE_IOERR".into(),
    };
    for (end, result) in [
        (StepAction::Commit, StepResult::Ok),
        (StepAction::Commit, error),
        (StepAction::Rollback, StepResult::Ok),
        (StepAction::Close, StepResult::Ok),
    ] {
        let mut c = coord(2, &[1, 0, 0, 1]);
        c.on(StepEvent::Want(id(0), StepAction::Begin));
        c.on(StepEvent::Want(id(1), StepAction::Begin));
        step(&mut c, StepAction::Begin, busy.clone()); // 1 is turned away
        step(&mut c, end.clone(), StepResult::Ok); // 0 holds
        step(&mut c, StepAction::Open, result.clone()); // 0 ends holding
        step(&mut c, StepAction::Commit, StepResult::Ok); // 1 holds, alone
        assert!(c.out.breaches.is_empty(), "{end} {result}: {:?}", c.out);
        assert_eq!(c.holders.iter().copied().collect::<Vec<_>>(), [id(1)]);
    }
}

/// A gone worker holds nothing: the next `begin` is no breach.
#[test]
fn a_gone_worker_holds_no_lock() {
    let mut c = coord(2, &[0, 1]);
    c.on(StepEvent::Want(id(0), StepAction::Begin));
    c.on(StepEvent::Want(id(1), StepAction::Begin));
    step(&mut c, StepAction::Commit, StepResult::Ok);
    c.on(StepEvent::WorkerGone(0));
    assert!(c.settled());
    step(&mut c, StepAction::Commit, StepResult::Ok);
    assert!(c.out.breaches.is_empty());
}

/// The first guard report is remembered at its step; later ones do not move it.
#[test]
fn the_first_guard_report_is_kept_at_its_step() {
    let mut c = coord(1, &[0, 0, 0]);
    c.on(StepEvent::Want(id(0), StepAction::Guard));
    step(&mut c, StepAction::Guard, StepResult::Ok);
    assert_eq!(c.out.first_guard_report_step, None);
    step(&mut c, StepAction::Guard, StepResult::Fired);
    step(&mut c, StepAction::Commit, StepResult::Fired);
    assert_eq!(c.out.first_guard_report_step, Some(1));
}

/// A COMMIT that went through could release the write lock: every futile actor may try
/// again. One turned away (busy) released nothing. (Mutant `delete !` in
/// `could_release`'s commit arm survived the fast tests.)
#[test]
fn a_commit_that_went_through_lets_futile_actors_try_again() {
    let busy = StepResult::Busy {
        code: "SQLITE_BUSY".into(),
    };
    let mut c = coord(2, &[0, 1, 0, 0]);
    c.on(StepEvent::Want(id(0), StepAction::Begin));
    c.on(StepEvent::Want(id(1), StepAction::Begin));
    step(&mut c, StepAction::Commit, StepResult::Ok); // 0 holds
    step(&mut c, StepAction::Begin, busy.clone()); // 1 is turned away: futile
    assert_eq!(futile(&c), [1]);
    step(&mut c, StepAction::Commit, busy); // 0's COMMIT is turned away: nothing released
    assert_eq!(futile(&c), [0, 1]);
    step(&mut c, StepAction::Close, StepResult::Ok); // 0's COMMIT goes through
    assert!(c.futile.is_empty(), "{:?}", c.futile);
    assert_eq!(c.retrying.iter().map(|a| a.worker).collect::<Vec<_>>(), [1]);
    assert!(could_release(
        &StepAction::Commit,
        &StepResult::Ok,
        true,
        true
    ));
    assert!(!could_release(
        &StepAction::Commit,
        &StepResult::WouldBlock,
        true,
        true
    ));
}

/// A guard step counts as releasing only in the process that holds the write lock (the
/// bare-close probe drops that process's POSIX locks): another process's guard step lets
/// nobody in. (Mutant `h.worker != a.worker` in `track_futility` survived the fast tests.)
#[test]
fn only_the_holding_processs_guard_step_releases() {
    let busy = StepResult::Busy {
        code: "SQLITE_BUSY".into(),
    };
    let mut c = coord(3, &[0, 1, 2, 0]);
    c.on(StepEvent::Want(id(0), StepAction::Begin));
    c.on(StepEvent::Want(id(1), StepAction::Begin));
    c.on(StepEvent::Want(id(2), StepAction::Guard));
    step(&mut c, StepAction::Guard, StepResult::Ok); // 0 holds
    step(&mut c, StepAction::Begin, busy); // 1 is turned away: futile
    step(&mut c, StepAction::Close, StepResult::Ok); // 2's guard: it holds nothing
    assert_eq!(futile(&c), [1]);
    step(&mut c, StepAction::Commit, StepResult::Ok); // 0's guard: it holds the lock
    assert!(c.futile.is_empty(), "{:?}", c.futile);
}

/// When a `begin` takes the write lock again, only the actors let back in that wait
/// before a `begin` become futile again: one let back in before another step keeps its
/// turn. (Mutant `!=` in `track_futility`'s `again` filter survived the fast tests.)
#[test]
fn a_begin_that_takes_the_lock_again_sends_back_only_begin_waiters() {
    let busy = StepResult::Busy {
        code: "SQLITE_BUSY".into(),
    };
    let mut c = coord(3, &[1, 2, 0]);
    c.on(StepEvent::Want(id(0), StepAction::Begin));
    c.on(StepEvent::Want(id(1), StepAction::Begin));
    c.on(StepEvent::Want(id(2), StepAction::statement("select")));
    step(&mut c, StepAction::Begin, busy.clone()); // 1 turned away: futile
    // 2's statement outside a transaction is turned away too, and could release a lock:
    // both may try again.
    step(&mut c, StepAction::statement("select"), busy);
    assert!(c.futile.is_empty());
    assert_eq!(
        c.retrying.iter().map(|a| a.worker).collect::<Vec<_>>(),
        [1, 2]
    );
    step(&mut c, StepAction::Commit, StepResult::Ok); // 0 takes the write lock
    assert_eq!(futile(&c), [1]);
    assert_eq!(c.retrying.iter().map(|a| a.worker).collect::<Vec<_>>(), [2]);
}

#[path = "coordinator_app_lock_tests.rs"]
mod app_locks;

/// Quiescent (where the runner reads the app's invariants): settled and nobody inside a
/// transaction: not while a step is in flight, nor while an actor holds the write lock or
/// is inside a deferred transaction that has not written yet.
#[test]
fn quiescent_only_when_settled_and_nobody_is_inside_a_transaction() {
    let mut c = coord(2, &[0, 1, 1, 0]);
    c.on(StepEvent::Want(id(0), StepAction::Begin));
    assert!(!c.quiescent(), "worker 1 has not parked");
    c.on(StepEvent::Want(id(1), StepAction::BeginDeferred));
    assert!(c.quiescent());
    let a = c.grant().unwrap();
    assert!(!c.quiescent(), "a step in flight");
    c.on(StepEvent::Did(a, StepResult::Ok));
    c.on(StepEvent::Want(a, StepAction::Commit));
    assert!(
        c.settled() && !c.quiescent(),
        "worker 0 holds the write lock"
    );
    // Worker 1 opens a deferred transaction: it holds nothing yet, but is inside one.
    step(&mut c, StepAction::Commit, StepResult::Ok);
    assert!(c.settled() && !c.quiescent());
    step(&mut c, StepAction::Open, StepResult::Ok); // 1 commits
    assert!(c.settled() && !c.quiescent(), "worker 0 still holds");
    step(&mut c, StepAction::Open, StepResult::Ok); // 0 commits
    assert!(c.quiescent());
    // A deferred transaction alone (no lock held yet) is inside a transaction too.
    let mut d = coord(1, &[0, 0]);
    d.on(StepEvent::Want(id(0), StepAction::BeginDeferred));
    step(&mut d, StepAction::Commit, StepResult::Ok);
    assert!(
        d.settled() && !d.quiescent(),
        "inside a deferred transaction"
    );
    step(&mut d, StepAction::Open, StepResult::Ok);
    assert!(d.quiescent());
}
