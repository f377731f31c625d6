//! The coordinator's rules for app locks (issue 20): waiters wait for their own process.

use super::*;

/// Issue 20: an actor turned away from an app lock (an in-process `threading.Lock`) waits
/// for its own process: steps of other processes leave it futile (no O(n^2) retries while
/// they commit), so does another attempt turned away; any other step of an actor of its
/// process lets it try again. A sibling parked before the same lock is futile at once,
/// one parking later too; a waiter on another name or in another process keeps its turn.
#[test]
fn an_actor_turned_away_from_an_app_lock_waits_for_a_step_of_its_own_process() {
    let a = |worker, actor| ActorId { worker, actor };
    let l = StepAction::app_lock("app.DB_LOCK");
    let other = StepAction::app_lock("app.OTHER");
    // Worker 0: actors 0 (the holder), 1, 2 (waiters on L), 3 (waits on another name);
    // worker 1: actor 0, a writer, and actor 1, parked before L of *its* process.
    let order = [
        a(0, 1),
        a(1, 0),
        a(1, 0),
        a(0, 3),
        a(0, 2),
        a(0, 0),
        a(0, 2),
        a(0, 1),
    ];
    let actors = [a(0, 0), a(0, 1), a(0, 2), a(0, 3), a(1, 0), a(1, 1)];
    let mut c = Coordinator::new(Box::new(ReplayScheduler::new(order.to_vec())), &actors, 100);
    c.on(StepEvent::Want(a(0, 0), StepAction::Open));
    c.on(StepEvent::Want(a(0, 1), l.clone()));
    c.on(StepEvent::Want(a(0, 2), l.clone()));
    c.on(StepEvent::Want(a(0, 3), other.clone()));
    c.on(StepEvent::Want(a(1, 0), StepAction::Begin));
    c.on(StepEvent::Want(a(1, 1), l.clone()));
    let waiting = |c: &Coordinator| c.app_waiting.iter().copied().collect::<Vec<_>>();
    // 0/1 finds L held (by 0/0, which took it before its `open`): 0/2 waits with it.
    step(&mut c, l.clone(), StepResult::WouldBlock);
    assert_eq!(waiting(&c), [a(0, 1), a(0, 2)]);
    assert!(c.futile.is_empty(), "not futile for SQLite's sake");
    // Another process's commit releases SQLite's lock, not worker 0's app lock.
    step(&mut c, StepAction::Commit, StepResult::Ok);
    step(&mut c, StepAction::Close, StepResult::Ok);
    assert_eq!(waiting(&c), [a(0, 1), a(0, 2)]);
    // A skipping scheduler would not offer them while someone else can move.
    let runnable: Vec<ActorId> = c
        .parked
        .keys()
        .copied()
        .filter(|r| !c.futile.contains(r) && !c.app_waiting.contains(r))
        .collect();
    assert_eq!(runnable, [a(0, 0), a(0, 3), a(1, 0), a(1, 1)]);
    // 0/3 takes the other lock: a step of worker 0, so L's waiters may try again.
    step(&mut c, StepAction::Begin, StepResult::Ok);
    assert!(c.app_waiting.is_empty() && c.held_app_locks.is_empty());
    // 0/2 tries, still turned away: 0/1 is futile again without trying.
    step(&mut c, l.clone(), StepResult::WouldBlock);
    assert_eq!(waiting(&c), [a(0, 1), a(0, 2)]);
    // The holder's `open`: it ran, and may have let L go.
    step(&mut c, StepAction::Close, StepResult::Ok);
    assert!(c.app_waiting.is_empty());
    // 0/2 takes L: nothing is known held (its body may end before its next step) ...
    step(&mut c, StepAction::statement("insert"), StepResult::Ok);
    assert!(c.app_waiting.is_empty() && c.held_app_locks.is_empty());
    // ... and 0/1 turned away again waits; one parking later on L waits at once, one
    // parking on another kind of step does not.
    step(&mut c, l.clone(), StepResult::WouldBlock);
    c.on(StepEvent::Want(a(0, 0), l.clone()));
    assert_eq!(waiting(&c), [a(0, 0), a(0, 1)]);
    c.on(StepEvent::Want(a(0, 0), StepAction::Open));
    assert_eq!(waiting(&c), [a(0, 1)]);
    // An app lock is never a breach and takes no write lock.
    assert!(c.out.breaches.is_empty());
    assert!(c.holders.is_empty());
    assert!(
        c.out
            .trace
            .iter()
            .any(|e| e.action.to_string() == "app_lock:app.DB_LOCK")
    );
}

/// The waiters' process finishing an actor, or dying, ends their wait; when every parked
/// actor waits, all are offered (a real deadlock runs into the step budget, never stalls).
#[test]
fn an_app_lock_wait_ends_with_its_process_and_never_stalls_the_run() {
    let a = |actor| ActorId { worker: 0, actor };
    let l = StepAction::app_lock("L");
    let mut c = Coordinator::new(
        Box::new(ReplayScheduler::new(vec![a(1), a(1)])),
        &[a(0), a(1)],
        100,
    );
    c.on(StepEvent::Want(a(0), StepAction::Commit));
    c.on(StepEvent::Want(a(1), l.clone()));
    step(&mut c, l.clone(), StepResult::WouldBlock);
    assert_eq!(c.app_waiting.iter().copied().collect::<Vec<_>>(), [a(1)]);
    c.on(StepEvent::ActorDone(a(0)));
    assert!(c.app_waiting.is_empty());
    // Alone and turned away: still granted (offered all), not a stall.
    step(&mut c, l.clone(), StepResult::WouldBlock);
    assert_eq!(c.grant(), Err(LockstepStop::Diverged { step: 2 }));
    let mut c = coord(2, &[0]);
    let b = ActorId {
        worker: 0,
        actor: 0,
    };
    c.on(StepEvent::Want(b, l.clone()));
    c.on(StepEvent::Want(id(1), StepAction::Begin));
    step(&mut c, l, StepResult::WouldBlock);
    c.on(StepEvent::WorkerGone(0));
    assert!(c.app_waiting.is_empty() && c.held_app_locks.is_empty());
}

/// An actor that parks saying it holds an app lock (`want`'s `holding`) still holds it
/// when the next step is chosen: a skipping scheduler is not offered another actor of
/// its worker parked before that lock (no attempt is turned away), but is offered one of
/// another worker, or before another lock. When every parked actor is such a waiter, all
/// are offered: a wrong hint delays, it never stalls.
#[test]
fn a_declared_app_lock_holder_keeps_its_siblings_waiters_off_the_schedule() {
    let a = |worker, actor| ActorId { worker, actor };
    let l = StepAction::app_lock("app.L");
    let name = |n: &str| AppLockName::try_from(n.to_owned()).unwrap();
    let actors = [a(0, 0), a(0, 1), a(0, 2), a(1, 0)];
    let random = crate::runner::scheduler::RandomScheduler::new(1);
    let mut c = Coordinator::new(Box::new(random), &actors, 100);
    c.on(StepEvent::WantHolding(
        a(0, 0),
        StepAction::Open,
        vec![name("app.L")],
    ));
    c.on(StepEvent::Want(a(0, 1), l.clone()));
    c.on(StepEvent::Want(a(0, 2), StepAction::app_lock("app.M")));
    c.on(StepEvent::Want(a(1, 0), l.clone()));
    for _ in 0..20 {
        let g = c.grant().unwrap();
        assert_ne!(
            g,
            a(0, 1),
            "a waiter on a lock its sibling holds was offered"
        );
        c.on(StepEvent::Did(g, StepResult::Ok));
        let again = if g == a(0, 0) {
            StepEvent::WantHolding(g, StepAction::Open, vec![name("app.L")])
        } else {
            StepEvent::Want(g, c_action(g, &l))
        };
        c.on(again);
    }
    // The holder parks holding nothing: its sibling may go.
    c.on(StepEvent::ActorDone(a(0, 2)));
    c.on(StepEvent::ActorDone(a(1, 0)));
    assert!(c.declared.contains_key(&a(0, 0)));
    let g = c.grant().unwrap();
    c.on(StepEvent::Did(g, StepResult::Ok));
    c.on(StepEvent::Want(a(0, 0), StepAction::Close));
    assert!(c.declared.is_empty());
    let mut offered = BTreeSet::new();
    for _ in 0..20 {
        let g = c.grant().unwrap();
        offered.insert(g);
        c.on(StepEvent::Did(g, StepResult::Ok));
        c.on(StepEvent::Want(g, c_action(g, &l)));
    }
    assert!(offered.contains(&a(0, 1)), "{offered:?}");
    // A wrong hint (both say they hold L): every parked actor waits, all are offered.
    let mut c = Coordinator::new(
        Box::new(crate::runner::scheduler::RandomScheduler::new(2)),
        &[a(0, 0), a(0, 1)],
        100,
    );
    for actor in 0..2 {
        c.on(StepEvent::WantHolding(
            a(0, actor),
            l.clone(),
            vec![name("app.L")],
        ));
    }
    assert!(
        c.grant().is_ok(),
        "every parked actor waits: all are offered"
    );
    // A gone worker declares nothing.
    c.on(StepEvent::WorkerGone(0));
    assert!(c.declared.is_empty());
}

/// What an actor of the test above parks before next: the same as before.
fn c_action(a: ActorId, l: &StepAction) -> StepAction {
    match (a.worker, a.actor) {
        (0, 2) => StepAction::app_lock("app.M"),
        _ => l.clone(),
    }
}

/// `held_by_sibling` (mutation-testing controls, MUTANTS.md): only a declared holder of
/// *that* lock, in *its own* process, and not the waiter itself, keeps a waiter off.
#[test]
fn only_a_sibling_declaring_that_very_lock_holds_it() {
    let a = |worker, actor| ActorId { worker, actor };
    let name = |n: &str| AppLockName::try_from(n.to_owned()).unwrap();
    let l = StepAction::app_lock("app.L");
    let actors = [a(0, 0), a(0, 1), a(1, 0)];
    let fresh = || {
        Coordinator::new(
            Box::new(crate::runner::scheduler::RandomScheduler::new(1)),
            &actors,
            100,
        )
    };
    // A sibling that declares another lock: not held.
    let mut c = fresh();
    c.on(StepEvent::WantHolding(
        a(0, 0),
        StepAction::Open,
        vec![name("app.M")],
    ));
    c.on(StepEvent::Want(a(0, 1), l.clone()));
    assert!(!c.held_by_sibling(a(0, 1)));
    // Another process declaring a lock of the same name (its own, in its own process): not held.
    let mut c = fresh();
    c.on(StepEvent::WantHolding(
        a(1, 0),
        StepAction::Open,
        vec![name("app.L")],
    ));
    c.on(StepEvent::Want(a(0, 1), l.clone()));
    assert!(!c.held_by_sibling(a(0, 1)));
    // The waiter's own declaration is no sibling's.
    let mut c = fresh();
    c.on(StepEvent::WantHolding(
        a(0, 1),
        l.clone(),
        vec![name("app.L")],
    ));
    assert!(!c.held_by_sibling(a(0, 1)));
    // A sibling declaring that lock: held.
    c.on(StepEvent::WantHolding(
        a(0, 0),
        StepAction::Open,
        vec![name("app.L")],
    ));
    assert!(c.held_by_sibling(a(0, 1)));
}
