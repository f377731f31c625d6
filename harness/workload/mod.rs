//! The workloads' room: each op kind's SQL and the rows it leaves, shared by the worker
//! that runs them and the checks that judge them (`check::ledger`, `check::state`).

pub mod kanban;
pub mod list_append;
pub mod list_rewrite;
pub mod mirror;
pub mod reads;

use crate::observe::step::{StepAction, StepResult};

/// How a workload's SQL actions run: each passes through here, so that in lockstep it is one
/// step of the run and in free mode it simply runs. The worker's gate implements it; the
/// workload knows nothing else of the worker.
pub trait Steps {
    /// Runs `f` as the step `action`; `describe` says how it ended, for the coordinator.
    fn step<T>(
        &self,
        action: StepAction,
        f: impl FnOnce() -> T,
        describe: impl Fn(&T) -> StepResult,
    ) -> T;
}

/// Runs every action at once, outside any lockstep: for replays and checks that execute a
/// workload's SQL themselves (the state oracle's reference model).
pub struct Unstepped;

impl Steps for Unstepped {
    fn step<T>(
        &self,
        _action: StepAction,
        f: impl FnOnce() -> T,
        _describe: impl Fn(&T) -> StepResult,
    ) -> T {
        f()
    }
}
