//! A process's end or respawn touches exactly that process's actors (mutation-testing
//! controls, MUTANTS.md): what another worker parked, holds or had finished stands.
use super::*;
use crate::runner::scheduler::ReplayScheduler;

fn a(worker: u32, actor: u32) -> ActorId {
    ActorId { worker, actor }
}

/// Workers 0 and 1 with two actors each, granted in `order`.
fn two_by_two(order: Vec<ActorId>) -> Coordinator {
    let actors = [a(0, 0), a(0, 1), a(1, 0), a(1, 1)];
    Coordinator::new(Box::new(ReplayScheduler::new(order)), &actors, 100)
}

/// A respawn revives the finished actors of *its* worker, never another worker's.
#[test]
fn a_respawn_revives_only_its_own_workers_finished_actors() {
    let mut c = two_by_two(vec![]);
    c.on(StepEvent::ActorDone(a(0, 1)));
    c.on(StepEvent::ActorDone(a(1, 1)));
    c.on(StepEvent::Want(a(0, 0), StepAction::Begin));
    c.on(StepEvent::Want(a(1, 0), StepAction::Begin));
    c.on(StepEvent::Respawned(0));
    let live: Vec<ActorId> = c.live.iter().copied().collect();
    assert_eq!(live, [a(0, 0), a(0, 1), a(1, 0)]);
    // Worker 1's parked actor is untouched; the successor parks both of worker 0's.
    assert_eq!(c.parked.keys().copied().collect::<Vec<_>>(), [a(1, 0)]);
}

/// A gone worker's parked steps, write-lock holding, deferred transactions and paused steps
/// end; another worker's stay.
#[test]
fn a_gone_worker_takes_only_its_own_parked_steps_holdings_and_transactions() {
    let order = vec![a(1, 0), a(1, 1), a(0, 0), a(0, 1)];
    let mut c = two_by_two(order);
    for x in [a(0, 0), a(0, 1), a(1, 0), a(1, 1)] {
        let first = if x.actor == 0 {
            StepAction::Begin
        } else {
            StepAction::BeginDeferred
        };
        c.on(StepEvent::Want(x, first));
    }
    let grant = |c: &mut Coordinator, x: ActorId, result: StepResult, next: StepAction| {
        assert_eq!(c.grant(), Ok(x));
        c.on(StepEvent::Did(x, result));
        c.on(StepEvent::Want(x, next));
    };
    // Worker 1: actor 0 takes the write lock and pauses inside its commit; actor 1 is in a
    // deferred transaction. Worker 0: actor 0 pauses inside its begin; actor 1 is deferred.
    grant(&mut c, a(1, 0), StepResult::Ok, StepAction::Commit);
    grant(&mut c, a(1, 1), StepResult::Ok, StepAction::Commit);
    assert_eq!(c.grant(), Ok(a(0, 0)));
    c.on(StepEvent::Did(a(0, 0), StepResult::Paused));
    c.on(StepEvent::Want(
        a(0, 0),
        StepAction::Resume {
            point: "unfetch".into(),
            shm: None,
        },
    ));
    grant(&mut c, a(0, 1), StepResult::Ok, StepAction::Commit);
    assert!(c.paused.contains_key(&a(0, 0)));
    c.on(StepEvent::Want(a(1, 0), StepAction::Commit));
    let ids = |s: &BTreeSet<ActorId>| s.iter().copied().collect::<Vec<_>>();
    assert_eq!(ids(&c.holders), [a(1, 0)]);
    assert_eq!(ids(&c.deferred), [a(0, 1), a(1, 1)]);
    c.on(StepEvent::WorkerGone(0));
    assert_eq!(
        c.parked.keys().copied().collect::<Vec<_>>(),
        [a(1, 0), a(1, 1)]
    );
    assert_eq!(ids(&c.holders), [a(1, 0)]);
    assert_eq!(ids(&c.deferred), [a(1, 1)]);
    assert!(c.paused.is_empty(), "the paused step died with its process");
    c.on(StepEvent::WorkerGone(1));
    assert!(c.parked.is_empty() && c.holders.is_empty() && c.deferred.is_empty());
}

/// A process whose actors had all finished releases nothing when it exits (its exit comes
/// at no fixed step and must not change the schedule); one that dies with live actors may
/// have held locks: every futile actor tries again.
#[test]
fn only_a_worker_gone_with_live_actors_lets_futile_actors_try_again() {
    let mut c = two_by_two(vec![a(1, 0)]);
    c.on(StepEvent::ActorDone(a(0, 0)));
    c.on(StepEvent::ActorDone(a(0, 1)));
    c.on(StepEvent::Want(a(1, 0), StepAction::Begin));
    c.on(StepEvent::Want(a(1, 1), StepAction::Begin));
    assert_eq!(c.grant(), Ok(a(1, 0)));
    c.on(StepEvent::Did(
        a(1, 0),
        StepResult::Busy {
            code: "SQLITE_BUSY".into(),
        },
    ));
    c.on(StepEvent::Want(a(1, 0), StepAction::Begin));
    assert!(c.futile.contains(&a(1, 0)));
    c.on(StepEvent::WorkerGone(0));
    assert!(
        c.futile.contains(&a(1, 0)),
        "a finished process released nothing"
    );
    let mut c = two_by_two(vec![a(1, 0)]);
    for x in [a(0, 0), a(0, 1), a(1, 0), a(1, 1)] {
        c.on(StepEvent::Want(x, StepAction::Begin));
    }
    assert_eq!(c.grant(), Ok(a(1, 0)));
    c.on(StepEvent::Did(
        a(1, 0),
        StepResult::Busy {
            code: "SQLITE_BUSY".into(),
        },
    ));
    c.on(StepEvent::Want(a(1, 0), StepAction::Begin));
    c.on(StepEvent::WorkerGone(0));
    assert!(
        c.futile.is_empty(),
        "a process that died live may have held the lock"
    );
}

/// A step that pauses inside SQLite is paused, whatever came before it: also a `resume`
/// with no paused step to resume (a successor process, or an adapter that lies, may park
/// one first). Until it completes the run is not quiescent (no invariant is read then).
#[test]
fn a_resume_that_pauses_with_nothing_to_resume_still_counts_as_paused() {
    let mut c = two_by_two(vec![a(0, 0)]);
    let resume = StepAction::Resume {
        point: "unfetch".into(),
        shm: None,
    };
    c.on(StepEvent::ActorDone(a(0, 1)));
    c.on(StepEvent::ActorDone(a(1, 0)));
    c.on(StepEvent::ActorDone(a(1, 1)));
    c.on(StepEvent::Want(a(0, 0), resume.clone()));
    assert!(c.quiescent());
    assert_eq!(c.grant(), Ok(a(0, 0)));
    c.on(StepEvent::Did(a(0, 0), StepResult::Paused));
    c.on(StepEvent::Want(a(0, 0), resume));
    assert!(c.settled());
    assert!(!c.quiescent(), "an actor is paused inside SQLite");
}
