//! The typed lockstep steps live with the other observations (`observe::step`); exec names
//! them here too, where gate, coordinator and schedulers use them.

pub use crate::observe::step::{AppLockName, LockName, StepAction, StepResult};
