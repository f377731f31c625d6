//! The coordinator driven by random legal event sequences (issue 20 item 14): its invariants
//! (holders within live actors, at most one holder unless a breach is recorded, parked and
//! granted disjoint, futile and retrying disjoint, deferred and holders disjoint) hold after
//! every event and every grant. `Coordinator::check_invariants` `debug_assert!`s them inside;
//! this test asserts them again from outside, so that a release-mode test run checks them too.

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

use super::*;
use crate::runner::scheduler::RandomScheduler;

/// What happens next, as a worker pipe or the runner could make it happen.
#[derive(Debug, Clone)]
enum Move {
    /// The step in flight returns `result`; its actor then parks step `next` or, if `done`,
    /// says `actor_done` (a paused step always parks its `resume`).
    Step { result: u8, next: u8, done: bool },
    /// A `did` from an actor that was not granted: ignored.
    StrayDid(usize),
    /// A parked actor parks another step instead: a second `want` replaces the first.
    Replace(usize, u8),
    /// A worker's process is gone.
    Gone(usize),
    /// A gone worker's successor starts.
    Respawn(usize),
}

fn moves() -> impl Strategy<Value = Move> {
    prop_oneof![
        8 => (any::<u8>(), any::<u8>(), prop::bool::weighted(0.05))
            .prop_map(|(result, next, done)| Move::Step { result, next, done }),
        1 => any::<usize>().prop_map(Move::StrayDid),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(a, n)| Move::Replace(a, n)),
        1 => any::<usize>().prop_map(Move::Gone),
        1 => any::<usize>().prop_map(Move::Respawn),
    ]
}

/// (workers, actors per worker, scheduler seed, moves).
fn runs() -> impl Strategy<Value = (u32, u32, u64, Vec<Move>)> {
    (
        1u32..=3,
        1u32..=3,
        any::<u64>(),
        prop::collection::vec(moves(), 1..200),
    )
}

fn action(n: u8) -> StepAction {
    match n % 15 {
        0 => StepAction::Open,
        1 => StepAction::Schema,
        2 => StepAction::Close,
        3 => StepAction::Flock { lock: None },
        4 => StepAction::flock(LockName::Write),
        5 => StepAction::flock(LockName::Init),
        6 => StepAction::flock(LockName::File("app.lock".into())),
        7 | 8 => StepAction::Begin,
        9 => StepAction::BeginDeferred,
        10 => StepAction::Commit,
        11 => StepAction::Rollback,
        12 => StepAction::statement("select"),
        13 => StepAction::write("insert"),
        _ => StepAction::Guard,
    }
}

fn result(n: u8) -> StepResult {
    match n % 12 {
        0 => StepResult::Busy {
            code: "SQLITE_BUSY".into(),
        },
        1 => StepResult::WouldBlock,
        2 => StepResult::Error {
            code: "SQLITE_IOERR".into(),
        },
        3 => StepResult::Fired,
        4 => StepResult::Paused,
        _ => StepResult::Ok,
    }
}

/// The module doc's invariants, asserted whatever the build.
fn assert_invariants(c: &Coordinator) {
    assert!(
        c.holders.is_subset(&c.live),
        "holder not live: {:?} {:?}",
        c.holders,
        c.live
    );
    assert!(
        c.holders.len() <= 1 || !c.out.breaches.is_empty(),
        "two holders without a breach: {:?}",
        c.holders
    );
    assert!(
        c.granted
            .as_ref()
            .is_none_or(|(g, _)| !c.parked.contains_key(g)),
        "granted and parked"
    );
    assert!(
        c.parked.keys().all(|a| c.live.contains(a)),
        "parked, not live"
    );
    assert!(c.futile.is_disjoint(&c.retrying), "futile and retrying");
    assert!(c.deferred.is_disjoint(&c.holders), "deferred and holding");
    assert!(c.live.is_subset(&c.actors));
}

/// Which states a drive reached: a property over sequences that never reach them proves
/// little.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    holder: bool,
    breach: bool,
    futile: bool,
    retrying: bool,
    deferred: bool,
    respawn: bool,
}

/// Drives a coordinator through `moves`, each made legal where it would not be (a `did`
/// only for the step in flight, a `want` only from a live actor, a respawn only of a gone
/// worker), asserting the invariants after every event and grant.
fn drive(workers: u32, per: u32, seed: u64, moves: &[Move]) -> Seen {
    let actors: Vec<ActorId> = (0..workers)
        .flat_map(|worker| (0..per).map(move |actor| ActorId { worker, actor }))
        .collect();
    let mut c = Coordinator::new(Box::new(RandomScheduler::new(seed)), &actors, 1_000);
    let mut seen = Seen::default();
    let mut gone = BTreeSet::new();
    let on = |c: &mut Coordinator, ev: StepEvent, seen: &mut Seen| {
        c.on(ev);
        assert_invariants(c);
        seen.holder |= !c.holders.is_empty();
        seen.breach |= !c.out.breaches.is_empty();
        seen.futile |= !c.futile.is_empty();
        seen.retrying |= !c.retrying.is_empty();
        seen.deferred |= !c.deferred.is_empty();
    };
    for m in moves {
        // Live actors with nothing parked and nothing in flight park a step (everyone at
        // the start; a respawned worker's actors).
        let idle: Vec<ActorId> = c
            .live
            .iter()
            .filter(|a| !c.parked.contains_key(a))
            .filter(|a| c.granted.as_ref().is_none_or(|(g, _)| g != *a))
            .copied()
            .collect();
        for a in idle {
            let next = if c.paused.contains_key(&a) {
                StepAction::Resume {
                    point: "unfetch".into(),
                    shm: None,
                }
            } else {
                StepAction::Open
            };
            on(&mut c, StepEvent::Want(a, next), &mut seen);
        }
        if c.finished() {
            break;
        }
        if c.settled() {
            if c.grant().is_err() {
                break;
            }
            assert_invariants(&c);
        }
        let pick = |i: usize| actors[i % actors.len()];
        match m {
            Move::Step {
                result: r,
                next,
                done,
            } => {
                let Some((g, _)) = c.granted.clone() else {
                    continue;
                };
                let r = result(*r);
                let paused = r == StepResult::Paused;
                on(&mut c, StepEvent::Did(g, r), &mut seen);
                let ev = if paused {
                    StepEvent::Want(
                        g,
                        StepAction::Resume {
                            point: "unfetch".into(),
                            shm: None,
                        },
                    )
                } else if *done {
                    StepEvent::ActorDone(g)
                } else {
                    StepEvent::Want(g, action(*next))
                };
                on(&mut c, ev, &mut seen);
            }
            Move::StrayDid(i) => {
                let a = pick(*i);
                if c.granted.as_ref().is_none_or(|(g, _)| *g != a) {
                    on(&mut c, StepEvent::Did(a, StepResult::Ok), &mut seen);
                }
            }
            Move::Replace(i, next) => {
                let a = pick(*i);
                let resuming = matches!(c.parked.get(&a), Some(StepAction::Resume { .. }));
                if c.parked.contains_key(&a) && !resuming {
                    on(&mut c, StepEvent::Want(a, action(*next)), &mut seen);
                }
            }
            Move::Gone(i) => {
                let w = pick(*i).worker;
                gone.insert(w);
                on(&mut c, StepEvent::WorkerGone(w), &mut seen);
            }
            Move::Respawn(i) => {
                let w = pick(*i).worker;
                if gone.remove(&w) {
                    seen.respawn = true;
                    on(&mut c, StepEvent::Respawned(w), &mut seen);
                }
            }
        }
    }
    seen
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_invariants_hold_under_any_legal_sequence((workers, per, seed, moves) in runs()) {
        drive(workers, per, seed, &moves);
    }
}

/// The generator reaches the states the invariants are about (a breach, futile and retrying
/// actors, a deferred transaction, a respawn): over the first 64 sequences of a fixed
/// runner, each is seen at least once.
#[test]
fn the_sequences_reach_every_state_the_invariants_concern() {
    let mut runner = TestRunner::deterministic();
    let mut all = Seen::default();
    for _ in 0..64 {
        let (workers, per, seed, moves) = runs().new_tree(&mut runner).unwrap().current();
        let s = drive(workers, per, seed, &moves);
        all.holder |= s.holder;
        all.breach |= s.breach;
        all.futile |= s.futile;
        all.retrying |= s.retrying;
        all.deferred |= s.deferred;
        all.respawn |= s.respawn;
    }
    assert!(
        all.holder && all.breach && all.futile && all.retrying && all.deferred && all.respawn,
        "{all:?}"
    );
}

/// The assertions can fail: a second holder without a recorded breach, and a holder that is
/// not live, are each caught.
#[test]
fn a_broken_coordinator_fails_the_invariants() {
    let a = |worker| ActorId { worker, actor: 0 };
    let fresh = || Coordinator::new(Box::new(RandomScheduler::new(1)), &[a(0), a(1)], 10);
    let fails = |c: Coordinator| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| assert_invariants(&c))).is_err()
    };
    assert!(!fails(fresh()));
    let mut two = fresh();
    two.holders.extend([a(0), a(1)]);
    assert!(fails(two), "two holders without a breach passed");
    let mut dead = fresh();
    dead.holders.insert(a(1));
    dead.live.remove(&a(1));
    assert!(fails(dead), "a holder that is not live passed");
    let mut both = fresh();
    both.futile.insert(a(0));
    both.retrying.insert(a(0));
    assert!(fails(both), "futile and retrying at once passed");
}

/// Found by the property above: an actor holding the write lock whose `begin_deferred`
/// came back OK (SQLite refuses a BEGIN inside a transaction, but a worker may say so) was
/// made deferred while still a holder, breaking `deferred` and `holders` being disjoint (a
/// panic of the runner in debug builds). It keeps holding and is not deferred.
#[test]
fn a_holders_deferred_begin_keeps_it_holding() {
    let a = ActorId {
        worker: 0,
        actor: 0,
    };
    let mut c = Coordinator::new(Box::new(RandomScheduler::new(1)), &[a], 10);
    c.on(StepEvent::Want(a, StepAction::Begin));
    for next in [StepAction::BeginDeferred, StepAction::write("insert")] {
        c.grant().unwrap();
        c.on(StepEvent::Did(a, StepResult::Ok));
        c.on(StepEvent::Want(a, next));
        assert_invariants(&c);
        assert!(c.holders.contains(&a) && c.deferred.is_empty());
    }
    c.grant().unwrap();
    c.on(StepEvent::Did(a, StepResult::Ok));
    assert!(
        c.holders.contains(&a),
        "its write is inside the transaction it holds"
    );
    assert!(c.out.breaches.is_empty());
}
