//! walburst: settles by reproducible experiment whether a multi-process SQLite application
//! stays correct and fast under bursts of concurrent writers.
//!
//! The modules follow the data: [`scenario`] (what to run) -> [`plan`] (seeded schedules,
//! pure) -> [`exec`] (runner, worker processes, strategies, guards) -> [`observe`] (what
//! happened) -> [`check`] (verification, ledger, exclusion, verdict) -> [`report`].
//! [`run`] sequences them for one (scenario, seed).

pub mod adapter_check;
pub mod check;
pub mod cli;
pub mod compare;
pub mod determinism;
pub mod exec;
pub mod exit;
pub mod explore;
pub mod nightly;
pub mod observe;
pub mod plan;
pub mod releases;
pub mod render;
pub mod replay;
pub mod report;
pub mod run;
pub mod scenario;
pub mod shrink;
pub mod signals;
