//! Unit tests of the coordinator below SQL (`[lockstep] points = "shm"`): a step paused at
//! many shm points keeps its meaning, and a shm lock that came back busy makes its actor
//! futile until a slot is let go.
use super::*;
use crate::observe::step::{ShmCall, ShmLockOp, ShmMode, ShmSlot};

fn id(worker: u32) -> ActorId {
    ActorId { worker, actor: 0 }
}

fn lock(slot: ShmSlot, op: ShmLockOp) -> StepAction {
    let shm = ShmCall::Lock {
        slot,
        n: 1,
        op,
        mode: ShmMode::Exclusive,
    };
    StepAction::Resume {
        point: shm.point().into(),
        shm: Some(shm),
    }
}

/// Picks the first runnable actor and remembers what it was offered; skips futile actors,
/// as the seeded explorers do.
struct FirstOffered(std::rc::Rc<std::cell::RefCell<Vec<Vec<ActorId>>>>);

impl Scheduler for FirstOffered {
    fn choose(&mut self, _step: u64, runnable: &[ActorId]) -> Option<ActorId> {
        self.0.borrow_mut().push(runnable.to_vec());
        runnable.first().copied()
    }

    fn skips_futile(&self) -> bool {
        true
    }
}

/// Grants the next step, completes it with `result`, then parks that actor before `next`.
fn step(c: &mut Coordinator, result: StepResult, next: StepAction) -> ActorId {
    let a = c.grant().expect("a step is granted");
    c.on(StepEvent::Did(a, result));
    c.on(StepEvent::Want(a, next));
    a
}

#[test]
fn a_busy_shm_lock_waits_for_a_slot_to_be_let_go_and_a_step_keeps_its_meaning() {
    let offered = std::rc::Rc::default();
    let mut c = Coordinator::new(
        Box::new(FirstOffered(std::rc::Rc::clone(&offered))),
        &[id(0), id(1)],
        1000,
    );
    let write = || lock(ShmSlot::Write, ShmLockOp::Lock);
    c.on(StepEvent::Want(id(0), StepAction::Begin));
    c.on(StepEvent::Want(id(1), StepAction::Begin));
    // Worker 0's BEGIN pauses before its WRITE lock; its resume takes it and pauses at the
    // next call.
    assert_eq!(step(&mut c, StepResult::Paused, write()), id(0));
    assert_eq!(c.paused.get(&id(0)), Some(&StepAction::Begin));
    assert_eq!(
        step(
            &mut c,
            StepResult::Paused,
            lock(ShmSlot::Read(0), ShmLockOp::Lock)
        ),
        id(0)
    );
    assert_eq!(
        c.paused.get(&id(0)),
        Some(&StepAction::Begin),
        "first meaning kept"
    );
    // That READ(0) comes back busy: SQLite sleeps and tries again, worker 0 waits.
    assert_eq!(
        step(
            &mut c,
            StepResult::ShmBusy,
            lock(ShmSlot::Read(0), ShmLockOp::Lock)
        ),
        id(0)
    );
    assert!(c.futile.contains(&id(0)), "a busy shm lock is a wait");
    // Only worker 1 is offered now; its BEGIN pauses, its WRITE lock comes back busy.
    assert_eq!(step(&mut c, StepResult::Paused, write()), id(1));
    assert_eq!(step(&mut c, StepResult::ShmBusy, write()), id(1));
    assert!(c.futile.contains(&id(1)));
    // Both wait: nobody can be ruled out, both are offered (a livelock runs into the budget).
    offered.borrow_mut().clear();
    c.on(StepEvent::Want(
        id(0),
        lock(ShmSlot::Write, ShmLockOp::Unlock),
    ));
    assert_eq!(
        step(
            &mut c,
            StepResult::Paused,
            lock(ShmSlot::Read(0), ShmLockOp::Lock)
        ),
        id(0)
    );
    assert_eq!(offered.borrow()[0], vec![id(0), id(1)]);
    // That resume let WRITE go: worker 1 may try again, and worker 0 moved on.
    assert!(c.futile.is_empty(), "an unlock lets every waiter try again");
    // However often it paused, worker 0's step still means BEGIN.
    assert_eq!(c.grant(), Ok(id(0)));
    c.on(StepEvent::Did(id(0), StepResult::Ok));
    assert!(
        c.holders.contains(&id(0)),
        "the resumed BEGIN took the write lock"
    );
    assert!(!c.paused.contains_key(&id(0)));
    let trace: Vec<String> = c
        .out
        .trace
        .iter()
        .map(|e| format!("{} {}", e.action, e.result))
        .collect();
    assert_eq!(
        trace,
        [
            "begin paused",
            "resume:shm_lock:WRITE:exclusive paused",
            "resume:shm_lock:READ(0):exclusive paused:shm_busy",
            "begin paused",
            "resume:shm_lock:WRITE:exclusive paused:shm_busy",
            "resume:shm_unlock:WRITE:exclusive paused",
            "resume:shm_lock:READ(0):exclusive ok",
        ]
    );
}

/// A COMMIT lets SQLite's WRITE slot go before its step ends (it still lets its read slot
/// go): a BEGIN of another actor that takes the lock in between is no breach.
#[test]
fn a_commit_stops_holding_when_it_lets_the_write_slot_go() {
    let order = [0, 0, 0, 1, 0].map(id).to_vec();
    let mut c = Coordinator::new(
        Box::new(crate::runner::scheduler::ReplayScheduler::new(order)),
        &[id(0), id(1)],
        1000,
    );
    c.on(StepEvent::Want(id(0), StepAction::Begin));
    c.on(StepEvent::Want(id(1), StepAction::Begin));
    assert_eq!(step(&mut c, StepResult::Ok, StepAction::Commit), id(0));
    let unlock_write = lock(ShmSlot::Write, ShmLockOp::Unlock);
    assert_eq!(step(&mut c, StepResult::Paused, unlock_write), id(0));
    assert!(
        c.holders.contains(&id(0)),
        "paused before the unlock: still holds"
    );
    let unlock_read = lock(ShmSlot::Read(1), ShmLockOp::Unlock);
    assert_eq!(step(&mut c, StepResult::Paused, unlock_read), id(0));
    assert!(
        !c.holders.contains(&id(0)),
        "WRITE let go: the transaction ended"
    );
    assert_eq!(step(&mut c, StepResult::Ok, StepAction::Commit), id(1));
    assert_eq!(step(&mut c, StepResult::Ok, StepAction::Close), id(0));
    assert!(c.out.breaches.is_empty(), "{:?}", c.out.breaches);
    assert_eq!(c.holders.iter().copied().collect::<Vec<_>>(), vec![id(1)]);
}

#[test]
fn shm_calls_read_back_from_sqlite_arguments_and_name_their_slot() {
    // xShmLock(offset, n, flags): flags UNLOCK 1, LOCK 2, SHARED 4, EXCLUSIVE 8.
    let w = ShmCall::of_lock(0, 1, 2 | 8).unwrap();
    assert_eq!(w.to_string(), "shm_lock:WRITE:exclusive");
    assert!(!w.releases());
    let r = ShmCall::of_lock(3, 1, 1 | 4).unwrap();
    assert_eq!(r.to_string(), "shm_unlock:READ(0):shared");
    assert!(r.releases());
    // The WAL restart takes READ(1)..READ(4) at once.
    let restart = ShmCall::of_lock(4, 4, 2 | 8).unwrap();
    assert_eq!(restart.to_string(), "shm_lock:READ(1..4):exclusive");
    assert_eq!(
        ShmCall::of_lock(1, 1, 2 | 8).unwrap().to_string(),
        "shm_lock:CKPT:exclusive"
    );
    assert_eq!(
        ShmCall::of_lock(2, 1, 2 | 8).unwrap().to_string(),
        "shm_lock:RECOVER:exclusive"
    );
    assert_eq!(ShmCall::of_lock(8, 1, 2 | 8), None, "past READ(4)");
    assert_eq!(
        ShmCall::of_lock(0, 1, 2 | 4 | 8),
        None,
        "shared and exclusive"
    );
    let wire = serde_json::to_string(&StepAction::Resume {
        point: "shm_lock".into(),
        shm: Some(restart),
    })
    .unwrap();
    assert_eq!(
        wire,
        r#"{"kind":"resume","point":"shm_lock","shm":{"call":"lock","slot":"READ(1)","n":4,"op":"lock","mode":"exclusive"}}"#
    );
    let back: StepAction = serde_json::from_str(&wire).unwrap();
    assert_eq!(back.to_string(), "resume:shm_lock:READ(1..4):exclusive");
    // An `[io]` yield point's resume reads as before.
    let old: StepAction = serde_json::from_str(r#"{"kind":"resume","point":"unfetch"}"#).unwrap();
    assert_eq!(old.to_string(), "resume:unfetch");
    assert!(serde_json::from_str::<ShmSlot>(r#""READ(5)""#).is_err());
    assert_eq!(StepResult::ShmBusy.to_string(), "paused:shm_busy");
    assert!(StepResult::ShmBusy.is_paused() && !StepResult::ShmBusy.is_blocked());
}

fn at(call: ShmCall) -> StepAction {
    StepAction::Resume {
        point: call.point().into(),
        shm: Some(call),
    }
}

/// The points without a slot (issue 22 item 1): the WAL-header write, the checkpoint's first
/// backfill write and its `xUnfetch`. Named on the wire and in the trace, read back as
/// written, and none lets a slot go: a waiter stays futile while another actor passes them.
#[test]
fn wal_header_backfill_and_unfetch_are_named_steps_that_release_nothing() {
    for (call, tag, name) in [
        (ShmCall::WalHeader, "wal_header", "wal_header"),
        (ShmCall::Backfill, "backfill", "backfill"),
        (ShmCall::DbUnfetch, "db_unfetch", "db_unfetch"),
    ] {
        assert!(!call.releases(), "{call}");
        assert_eq!(call.to_string(), name);
        let wire = serde_json::to_string(&at(call)).unwrap();
        assert_eq!(
            wire,
            format!(r#"{{"kind":"resume","point":"{name}","shm":{{"call":"{tag}"}}}}"#)
        );
        let back: StepAction = serde_json::from_str(&wire).unwrap();
        assert_eq!(back, at(call));
        assert_eq!(back.to_string(), format!("resume:{name}"));
    }
    // The checkpoint's point is not an `[io]` yield point's resume, which names the op alone.
    assert_ne!(
        at(ShmCall::DbUnfetch).to_string(),
        StepAction::Resume {
            point: "unfetch".into(),
            shm: None
        }
        .to_string()
    );
    // Worker 1 waits for WRITE; worker 0 (the checkpointer) passes its unfetch, backfill
    // and a WAL header without letting anything go: worker 1 stays futile until worker 0's
    // CKPT unlock is performed.
    let order = [1, 1, 0, 0, 0, 0, 0].map(id).to_vec();
    let mut c = Coordinator::new(
        Box::new(crate::runner::scheduler::ReplayScheduler::new(order)),
        &[id(0), id(1)],
        1000,
    );
    c.on(StepEvent::Want(id(0), StepAction::Checkpoint));
    c.on(StepEvent::Want(id(1), StepAction::Begin));
    let write = lock(ShmSlot::Write, ShmLockOp::Lock);
    assert_eq!(step(&mut c, StepResult::Paused, write.clone()), id(1));
    assert_eq!(step(&mut c, StepResult::ShmBusy, write), id(1));
    assert!(c.futile.contains(&id(1)));
    let unlock_ckpt = lock(ShmSlot::Ckpt, ShmLockOp::Unlock);
    for next in [
        at(ShmCall::DbUnfetch),
        at(ShmCall::Backfill),
        at(ShmCall::WalHeader),
        unlock_ckpt,
    ] {
        assert!(c.futile.contains(&id(1)), "nothing let go before {next}");
        assert_eq!(step(&mut c, StepResult::Paused, next), id(0));
    }
    assert!(
        c.futile.contains(&id(1)),
        "the wal_header resume let nothing go"
    );
    assert_eq!(c.grant(), Ok(id(0)));
    c.on(StepEvent::Did(id(0), StepResult::Ok));
    assert!(
        !c.futile.contains(&id(1)),
        "the CKPT unlock lets the waiter try"
    );
    let trace: Vec<String> = c.out.trace.iter().map(|e| e.action.to_string()).collect();
    assert_eq!(
        trace[2..],
        [
            "checkpoint",
            "resume:db_unfetch",
            "resume:backfill",
            "resume:wal_header",
            "resume:shm_unlock:CKPT:exclusive"
        ]
    );
}
