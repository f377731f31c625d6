//! The gate every SQL-level action of an actor passes through. In free mode it just runs
//! the action. In lockstep it parks the actor until the coordinator grants it the step, runs
//! the action, and reports the result, so that exactly one actor of the whole run acts at a
//! time and the interleaving is the scheduler's alone.

use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::sync::{Mutex, mpsc};

use super::sink::RecordSink;
use crate::observe::step::{ShmCall, StepAction, StepResult};
use crate::protocol::{RunnerMsg, WorkerMsg};

use crate::observe::ActorId;

/// A worker's link to the coordinator: grants arrive on stdin and are routed per actor.
pub struct LockstepLink {
    grants: Vec<Mutex<Receiver<()>>>,
}

impl LockstepLink {
    /// Starts the thread that reads `grant` messages from stdin.
    pub fn start(actors: u32) -> Arc<LockstepLink> {
        let (senders, receivers): (Vec<_>, Vec<_>) =
            (0..actors).map(|_| mpsc::channel::<()>()).unzip();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                let Ok(RunnerMsg::Grant { actor }) = serde_json::from_str(&line) else {
                    continue;
                };
                let a = actor as usize;
                if senders.get(a).is_none_or(|s| s.send(()).is_err()) {
                    continue;
                }
            }
            // The coordinator closed the pipe: every parked actor wakes to an error and ends.
        });
        Arc::new(LockstepLink {
            grants: receivers.into_iter().map(Mutex::new).collect(),
        })
    }
}

/// Raised inside an actor when the coordinator went away mid-run.
#[derive(Debug)]
pub struct Abandoned;

#[derive(Clone)]
pub struct Gate<'a> {
    id: ActorId,
    lockstep: Option<(Arc<LockstepLink>, &'a RecordSink)>,
}

impl<'a> Gate<'a> {
    pub fn free(id: ActorId) -> Gate<'static> {
        Gate { id, lockstep: None }
    }

    pub fn lockstep(id: ActorId, link: Arc<LockstepLink>, sink: &'a RecordSink) -> Gate<'a> {
        Gate {
            id,
            lockstep: Some((link, sink)),
        }
    }

    pub fn is_lockstep(&self) -> bool {
        self.lockstep.is_some()
    }

    /// Runs `action` as one step; `describe` types its result for the coordinator.
    pub fn step<T>(
        &self,
        action: StepAction,
        f: impl FnOnce() -> T,
        describe: impl Fn(&T) -> StepResult,
    ) -> T {
        let Some((link, sink)) = &self.lockstep else {
            return f();
        };
        sink.send(
            &WorkerMsg::Want {
                worker: self.id.worker,
                actor: self.id.actor,
                action,
                holding: Vec::new(),
            },
            true,
        );
        let granted = link.grants[self.id.actor as usize]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .recv();
        if granted.is_err() {
            // The coordinator is gone; nothing this process does matters any more.
            std::process::exit(6);
        }
        // While the step runs, a `yield` point inside SQLite may pause it (`pause_here`).
        IN_STEP.with(|s| *s.borrow_mut() = Some((self.id, Arc::clone(link))));
        SHM_BUSY.set(false);
        let out = f();
        IN_STEP.with(|s| *s.borrow_mut() = None);
        // A busy shm lock SQLite gave up on shows in the step's own result.
        SHM_BUSY.set(false);
        sink.send(
            &WorkerMsg::Did {
                worker: self.id.worker,
                actor: self.id.actor,
                result: describe(&out),
            },
            true,
        );
        out
    }

    /// Tells the coordinator this actor has no more steps.
    pub fn finish(&self) {
        if let Some((_, sink)) = &self.lockstep {
            sink.send(
                &WorkerMsg::ActorDone {
                    worker: self.id.worker,
                    actor: self.id.actor,
                },
                true,
            );
        }
    }
}

thread_local! {
    /// The lockstep step this thread is running, while it runs (set by [`Gate::step`]).
    static IN_STEP: std::cell::RefCell<Option<(ActorId, Arc<LockstepLink>)>> =
        const { std::cell::RefCell::new(None) };
    /// The last shm lock this thread's step performed came back busy (see `pause_at`).
    static SHM_BUSY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A `yield` point inside SQLite (`[io]`, the fault VFS): in lockstep, reports the running
/// step `paused`, parks a `resume` step at `point` and waits for its grant, so the seeded
/// scheduler runs other actors in between; the caller then performs the call and the step
/// goes on (its `did` answers the resume). `false` when this thread runs no lockstep step
/// (free mode): nothing happens.
pub fn pause_here(point: &str) -> bool {
    pause_at(point.to_string(), None)
}

/// A shm point (`[lockstep] points = "shm"`): as [`pause_here`], the resume naming `call`.
pub fn pause_at_shm(call: ShmCall) -> bool {
    pause_at(call.point().to_string(), Some(call))
}

/// Whether this thread runs a lockstep step now (a pause would park it).
pub fn in_step() -> bool {
    IN_STEP.with(|s| s.borrow().is_some())
}

/// The shm lock call the current step's last `resume` performed came back `SQLITE_BUSY`:
/// the next pause says so (`shm_busy`), so the coordinator knows the actor waits.
pub fn shm_lock_was_busy() {
    SHM_BUSY.set(true);
}

fn pause_at(point: String, shm: Option<ShmCall>) -> bool {
    let Some((id, link)) = IN_STEP.with(|s| s.borrow().clone()) else {
        return false;
    };
    let sink = RecordSink::global();
    let result = if SHM_BUSY.replace(false) {
        StepResult::ShmBusy
    } else {
        StepResult::Paused
    };
    sink.send(
        &WorkerMsg::Did {
            worker: id.worker,
            actor: id.actor,
            result,
        },
        true,
    );
    sink.send(
        &WorkerMsg::Want {
            worker: id.worker,
            actor: id.actor,
            action: StepAction::Resume { point, shm },
            holding: Vec::new(),
        },
        true,
    );
    let granted = link.grants[id.actor as usize]
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .recv();
    if granted.is_err() {
        std::process::exit(6);
    }
    true
}

/// Types a rusqlite result for the trace: `ok`, or `busy`/`error` with the extended code.
pub fn sql_result<T>(r: &rusqlite::Result<T>) -> StepResult {
    StepResult::of_sql(r)
}

impl crate::workload::Steps for Gate<'_> {
    fn step<T>(
        &self,
        action: StepAction,
        f: impl FnOnce() -> T,
        describe: impl Fn(&T) -> StepResult,
    ) -> T {
        Gate::step(self, action, f, describe)
    }
}
