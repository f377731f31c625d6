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

/// A gone worker's parked steps and its write-lock holding end; another worker's stay.
#[test]
fn a_gone_worker_takes_only_its_own_parked_steps_and_holdings() {
    let mut c = two_by_two(vec![a(1, 0)]);
    for x in [a(0, 0), a(0, 1), a(1, 0), a(1, 1)] {
        c.on(StepEvent::Want(x, StepAction::Begin));
    }
    // Worker 1's actor 0 takes the write lock and parks before its commit.
    assert_eq!(c.grant(), Ok(a(1, 0)));
    c.on(StepEvent::Did(a(1, 0), StepResult::Ok));
    c.on(StepEvent::Want(a(1, 0), StepAction::Commit));
    assert!(c.holders.contains(&a(1, 0)));
    c.on(StepEvent::WorkerGone(0));
    assert_eq!(
        c.parked.keys().copied().collect::<Vec<_>>(),
        [a(1, 0), a(1, 1)]
    );
    assert_eq!(c.holders.iter().copied().collect::<Vec<_>>(), [a(1, 0)]);
    c.on(StepEvent::WorkerGone(1));
    assert!(c.parked.is_empty() && c.holders.is_empty());
}
