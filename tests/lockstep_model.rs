//! The lockstep model without processes: the coordinator's breach logic (pure state, fed
//! events directly) and golden values pinning the seeded schedulers' first choices, so a
//! change in `rand`'s algorithms (its `random_range` is not value-stable across versions)
//! cannot silently change every recorded lockstep trace.

use walburst::observe::ActorId;
use walburst::observe::step::{LockName, StepAction, StepResult};
use walburst::runner::coordinator::{Coordinator, StepEvent};
use walburst::runner::scheduler::{PctScheduler, RandomScheduler, ReplayScheduler, Scheduler};

fn id(worker: u32) -> ActorId {
    ActorId { worker, actor: 0 }
}

// The only places that spell step actions and results: if their type changes from strings
// to enums, these two helpers change with it.
fn want(a: ActorId, action: &str) -> StepEvent {
    StepEvent::Want(
        a,
        match action {
            "open" => StepAction::Open,
            "begin" => StepAction::Begin,
            "commit" => StepAction::Commit,
            "rollback" => StepAction::Rollback,
            "close" => StepAction::Close,
            "guard" => StepAction::Guard,
            "flock" => StepAction::Flock { lock: None },
            "flock:init" => StepAction::flock(LockName::Init),
            "checkpoint" => StepAction::Checkpoint,
            label => StepAction::statement(label),
        },
    )
}
fn did(a: ActorId, result: &str) -> StepEvent {
    StepEvent::Did(a, result_of(result))
}
fn result_of(result: &str) -> StepResult {
    match result {
        "ok" => StepResult::Ok,
        "fired" => StepResult::Fired,
        "would-block" => StepResult::WouldBlock,
        code if code.starts_with("SQLITE_BUSY") || code.starts_with("SQLITE_LOCKED") => {
            StepResult::Busy { code: code.into() }
        }
        code => StepResult::Error { code: code.into() },
    }
}

/// A coordinator that replays `order` (one actor per step).
fn coordinator(actors: &[ActorId], order: &[ActorId]) -> Coordinator {
    Coordinator::new(Box::new(ReplayScheduler::new(order.to_vec())), actors, 1000)
}

/// Grants the next step to `a` (which must be the scheduled one) and reports `result`.
fn step(c: &mut Coordinator, a: ActorId, action: &str, result: &str) {
    c.on(want(a, action));
    assert!(c.settled() || c.in_flight().is_none());
    assert_eq!(c.grant(), Ok(a));
    c.on(did(a, result));
}

/// Parks every other actor too, so the coordinator is settled and may grant.
fn park_others(c: &mut Coordinator, others: &[(ActorId, &str)]) {
    for (a, action) in others {
        c.on(want(*a, action));
    }
}

#[test]
fn a_begin_while_another_holds_the_lock_is_a_breach_at_that_step() {
    let (a, b) = (id(0), id(1));
    let mut c = coordinator(&[a, b], &[a, b, a, b]);
    park_others(&mut c, &[(b, "begin")]);
    step(&mut c, a, "begin", "ok");
    // b's BEGIN succeeds while a holds the lock: breach at step 1, holder a.
    assert_eq!(c.grant(), Ok(b));
    c.on(did(b, "ok"));
    assert_eq!(c.out.breaches.len(), 1);
    assert_eq!(c.out.breaches[0].step, 1);
    assert_eq!(c.out.breaches[0].actor, b);
    assert_eq!(c.out.breaches[0].holders, vec![a]);
}

#[test]
fn commit_rollback_and_close_release_the_lock() {
    for release in ["commit", "rollback", "close"] {
        let (a, b) = (id(0), id(1));
        let mut c = coordinator(&[a, b], &[a, a, b]);
        park_others(&mut c, &[(b, "begin")]);
        step(&mut c, a, "begin", "ok");
        step(&mut c, a, release, "ok");
        assert_eq!(c.grant(), Ok(b));
        c.on(did(b, "ok"));
        assert!(c.out.breaches.is_empty(), "{release}: {:?}", c.out.breaches);
    }
}

/// A BUSY COMMIT keeps the transaction open; a BUSY BEGIN takes no lock.
#[test]
fn blocked_steps_neither_release_nor_take_the_lock() {
    let (a, b) = (id(0), id(1));
    let mut c = coordinator(&[a, b], &[a, b, a, b]);
    park_others(&mut c, &[(b, "begin")]);
    step(&mut c, a, "begin", "ok");
    // b is turned away: no lock, no breach.
    assert_eq!(c.grant(), Ok(b));
    c.on(did(b, "SQLITE_BUSY"));
    assert!(c.out.breaches.is_empty());
    // a's COMMIT is turned away: still the holder, so b's next successful BEGIN breaches.
    park_others(&mut c, &[(b, "begin")]);
    step(&mut c, a, "commit", "SQLITE_BUSY");
    assert_eq!(c.grant(), Ok(b));
    c.on(did(b, "ok"));
    assert_eq!(c.out.breaches.len(), 1);
    assert_eq!(c.out.breaches[0].step, 3);
}

/// The same actor beginning again (a retry inside its own transaction) is no breach, and a
/// worker that is gone releases whatever its actors held.
#[test]
fn own_lock_and_gone_workers_are_no_breach() {
    let (a, b) = (id(0), id(1));
    let mut c = coordinator(&[a, b], &[a, a, b]);
    park_others(&mut c, &[(b, "begin")]);
    step(&mut c, a, "begin", "ok");
    step(&mut c, a, "begin", "ok");
    assert!(c.out.breaches.is_empty());
    c.on(StepEvent::WorkerGone(0));
    assert_eq!(c.grant(), Ok(b));
    c.on(did(b, "ok"));
    assert!(c.out.breaches.is_empty());
}

/// The step budget stops lockstep with a message naming it.
#[test]
fn the_step_budget_stops_lockstep() {
    let (a, b) = (id(0), id(1));
    let mut c = Coordinator::new(Box::new(RandomScheduler::new(1)), &[a, b], 2);
    for _ in 0..2 {
        park_others(&mut c, &[(a, "begin"), (b, "begin")]);
        let g = c.grant().unwrap();
        c.on(did(g, "SQLITE_BUSY"));
    }
    park_others(&mut c, &[(a, "begin"), (b, "begin")]);
    let err = c.grant().unwrap_err();
    assert_eq!(
        err,
        walburst::runner::coordinator::LockstepStop::BudgetExhausted { budget: 2, live: 2 }
    );
    assert!(
        err.to_string().contains("step budget of 2 exhausted"),
        "{err}"
    );
}

/// Issue 15: `n` first connects under the init lock, modelled step by step with a real lock
/// state: each actor tries the init lock (one attempt per step), opens while holding it (the
/// open could release a lock, as far as the coordinator knows), lets it go, then closes.
/// Every attempt after a releasing step used to be offered to every waiter, each turned
/// away: O(n^2) steps. Since a turned-away (or taken) flock sends every other waiter on the
/// same lock back to futile, the run stays linear in `n`.
#[test]
fn first_connects_under_the_init_lock_take_linear_steps() {
    let n = 64;
    let all = actors(n);
    let mut c = Coordinator::new(Box::new(RandomScheduler::new(5)), &all, 100_000);
    let mut stage = vec![0u8; n as usize];
    let mut init_held_by: Option<ActorId> = None;
    for &a in &all {
        c.on(want(a, "flock:init"));
    }
    while !c.finished() {
        assert!(c.settled());
        let a = c.grant().expect("no livelock");
        let s = &mut stage[a.worker as usize];
        let (result, next) = match *s {
            0 if init_held_by.is_some() => ("would-block", Some("flock:init")),
            0 => {
                init_held_by = Some(a);
                *s = 1;
                ("ok", Some("open"))
            }
            1 => {
                // The init lock is let go right after the open, before the next step.
                init_held_by = None;
                *s = 2;
                ("ok", Some("close"))
            }
            _ => ("ok", None),
        };
        c.on(did(a, result));
        match next {
            Some(action) => c.on(want(a, action)),
            None => c.on(StepEvent::ActorDone(a)),
        }
    }
    let steps = c.out.steps;
    // 3 useful steps per actor, and at most one attempt turned away per releasing step.
    assert!(
        steps <= 5 * u64::from(n),
        "{steps} steps for {n} first connects"
    );
    assert!(steps >= 3 * u64::from(n));
}

/// Issue 20: `n` actors of one worker process take an app lock (an in-process
/// `threading.Lock`) held across two steps, while 8 one-actor workers write all along. A
/// waiter turned away is let back in only by a step of its own process, so each of the
/// holder's steps costs at most one attempt turned away, and the others' writes none:
/// linear in `n`. (Letting waiters in at every step that could release a SQLite lock, as
/// for a `busy`, turns every write of the other workers into a round of futile attempts.)
/// When the holder says it holds the lock as it parks (`want`'s `holding`), none is.
#[test]
fn actors_of_one_process_under_an_app_lock_take_linear_steps() {
    let n = 32;
    let (turned_away, useful) = under_an_app_lock(n, false);
    assert_eq!(useful, 4 * u64::from(n));
    assert!(
        turned_away <= useful,
        "{turned_away} attempts turned away for {useful} useful steps of the app's process"
    );
    assert_eq!(under_an_app_lock(n, true), (0, 4 * u64::from(n)));
}

/// The run of the test above: (attempts turned away, useful steps) of the app's process.
/// `declare`: the holder parks saying it holds the lock.
fn under_an_app_lock(n: u32, declare: bool) -> (u64, u64) {
    use walburst::observe::step::AppLockName;
    let app = (0..n).map(|actor| ActorId { worker: 0, actor });
    let others: Vec<ActorId> = (1..=8).map(id).collect();
    let all: Vec<ActorId> = app.chain(others.iter().copied()).collect();
    let lock = StepAction::app_lock("app.OPEN_LOCK");
    let mut c = Coordinator::new(Box::new(RandomScheduler::new(9)), &all, 100_000);
    let name = AppLockName::try_from("app.OPEN_LOCK".to_string()).unwrap();
    let mut stage: std::collections::BTreeMap<ActorId, u32> = all.iter().map(|a| (*a, 0)).collect();
    let mut held_by: Option<ActorId> = None;
    for &a in &all {
        c.on(if a.worker == 0 {
            StepEvent::Want(a, lock.clone())
        } else {
            StepEvent::Want(a, StepAction::write("INSERT INTO t"))
        });
    }
    let (mut turned_away, mut app_steps) = (0u64, 0u64);
    while !c.finished() {
        assert!(c.settled());
        let a = c.grant().expect("no livelock");
        let s = stage.get_mut(&a).unwrap();
        let (result, next) = if a.worker == 0 {
            app_steps += 1;
            match *s {
                0 if held_by.is_some() => {
                    turned_away += 1;
                    (StepResult::WouldBlock, Some(lock.clone()))
                }
                0 => {
                    held_by = Some(a);
                    *s = 1;
                    (StepResult::Ok, Some(StepAction::Open))
                }
                1 => {
                    *s = 2;
                    (StepResult::Ok, Some(StepAction::statement("CREATE TABLE")))
                }
                2 => {
                    // The lock is let go right after this step, before the next one.
                    held_by = None;
                    *s = 3;
                    (StepResult::Ok, Some(StepAction::Close))
                }
                _ => (StepResult::Ok, None),
            }
        } else {
            // Other processes: 32 autocommit writes each (each could release SQLite's
            // lock: every futile actor of the run may try again after it).
            *s += 1;
            let next = (*s < 32).then(|| StepAction::write("INSERT INTO t"));
            (StepResult::Ok, next)
        };
        c.on(StepEvent::Did(a, result));
        match next {
            Some(action) if declare && held_by == Some(a) => {
                c.on(StepEvent::WantHolding(a, action, vec![name.clone()]))
            }
            Some(action) => c.on(StepEvent::Want(a, action)),
            None => c.on(StepEvent::ActorDone(a)),
        }
    }
    assert!(c.out.breaches.is_empty());
    (turned_away, app_steps - turned_away)
}

fn actors(n: u32) -> Vec<ActorId> {
    (0..n).map(id).collect()
}

fn choices(s: &mut dyn Scheduler, runnable: &[ActorId], n: u64) -> Vec<u32> {
    (0..n)
        .map(|step| s.choose(step, runnable).unwrap().worker)
        .collect()
}

/// Golden: the first 32 choices of the random scheduler for seed 7 over 5 actors. If this
/// changes, every recorded lockstep trace and trace_hash changes with it: pin `rand` /
/// `rand_chacha` back, or make the change deliberately and say so in the changelog.
#[test]
fn random_scheduler_choices_are_pinned() {
    let mut s = RandomScheduler::new(7);
    let got = choices(&mut s, &actors(5), 32);
    assert_eq!(
        got, GOLDEN_RANDOM,
        "random scheduler choices changed: {got:?}"
    );
}

/// Golden: PCT for seed 7, 5 actors, depth 3 over 100 expected steps; the highest priority
/// runs until a change point or a blocked step demotes it.
#[test]
fn pct_scheduler_choices_are_pinned() {
    let a = actors(5);
    let mut s = PctScheduler::new(7, &a, 3, 100);
    let mut got = Vec::new();
    for step in 0..100u64 {
        let pick = s.choose(step, &a).unwrap();
        got.push(pick.worker);
        // Every 7th step meets BUSY, to pin the demotion path too.
        if step % 7 == 6 {
            s.on_result(pick, &StepAction::Begin, &result_of("SQLITE_BUSY"));
        }
    }
    assert_eq!(got, GOLDEN_PCT, "PCT scheduler choices changed: {got:?}");
}

const GOLDEN_RANDOM: [u32; 32] = [
    4, 1, 4, 1, 2, 3, 4, 3, 3, 2, 3, 1, 1, 2, 1, 3, 1, 1, 3, 1, 3, 3, 4, 0, 0, 2, 2, 1, 3, 1, 0, 3,
];
const GOLDEN_PCT: [u32; 100] = [
    4, 4, 4, 4, 4, 4, 4, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 0, 0, 0, 0,
    0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 0, 0, 0, 4,
    4, 4, 4, 4, 4, 4, 2, 2, 2, 2, 2, 2, 2, 1, 3, 3, 3, 3, 3, 3, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4,
    4, 4, 2, 2,
];

/// The trace hashes result codes, never message text: a guard error is `error` whatever its
/// message says.
#[test]
fn guard_errors_enter_the_trace_as_a_code_only() {
    use walburst::scenario::GuardKind;
    use walburst::worker::actor::guard_result;
    use walburst::worker::guard::GuardError;
    let a = guard_result(&Err(GuardError::Pragma {
        guard: GuardKind::PageCount,
        pragma: "page_count",
        error: rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some("database is locked".into()),
        ),
    }));
    let b = guard_result(&Err(GuardError::File {
        guard: GuardKind::HeaderProbe,
        doing: "open",
        path: "/tmp/x/kanban.db".into(),
        error: std::io::Error::other("disk I/O error"),
    }));
    assert_eq!(a.to_string(), "error:WALBURST_GUARD");
    assert_eq!(a, b);
    assert_eq!(guard_result(&Ok(None)).to_string(), "ok");
}
