//! The coordinator below SQL (`[lockstep] points = "shm"`): what a step that paused at a
//! shm point says about who waits for whom.
//!
//! A step pauses at every shm call of the database; its actor parks a `resume` naming the
//! call. A resume whose shm lock came back busy pauses at SQLite's retry as `shm_busy`: the
//! actor is futile (its retries are sleeps and the same BUSY) until a resume lets a slot go
//! (`shm_unlock`) or any other step could release a lock. A paused actor may hold slots but
//! never blocks anyone: the unix VFS answers BUSY instead of waiting, and every paused actor
//! is parked and grantable, so a run of waiters only costs steps, bounded by SQLite's own
//! retry limits (`busy_timeout` is 0 in lockstep; `walTryBeginRead` gives up after 100
//! tries with `SQLITE_PROTOCOL`) and by the step budget.

use super::Coordinator;
use crate::observe::ActorId;
use crate::observe::step::{ShmCall, ShmLockOp, ShmSlot, StepAction, StepResult};

impl Coordinator {
    /// Futility below SQL (`points = "shm"`): a step that paused right after its shm lock
    /// came back busy waits for another actor to let a slot go (SQLite only sleeps and
    /// tries again); one that paused after any other call moved on. A resume that let a
    /// slot go may let every waiter through.
    /// Other pauses (`[io]` yield points, a step's first pause) leave futility as it was.
    pub(super) fn track_shm(&mut self, a: ActorId, traced: &StepAction, result: &StepResult) {
        let shm = match traced {
            StepAction::Resume {
                shm: Some(call), ..
            } => Some(*call),
            _ => None,
        };
        if shm.is_none() && *result != StepResult::ShmBusy {
            return;
        }
        self.retrying.remove(&a);
        // Shm points are the built-in worker's, which tracks no app locks; keep the sets
        // disjoint all the same.
        self.app_waiting.remove(&a);
        if *result == StepResult::ShmBusy {
            self.futile.insert(a);
        } else {
            self.futile.remove(&a);
        }
        if shm.is_some_and(|c| c.releases()) {
            self.release_all();
        }
        // SQLite's write lock, in WAL mode, is the WRITE slot: letting it go ends the write
        // transaction there, inside the step (a COMMIT goes on to let its read slot go). From
        // here another actor's BEGIN may take it, and that is no breach.
        if let Some(ShmCall::Lock {
            slot: ShmSlot::Write,
            op: ShmLockOp::Unlock,
            ..
        }) = shm
        {
            self.holders.remove(&a);
        }
    }
}
