//! walburst: settles by reproducible experiment whether a multi-process SQLite application
//! stays correct and fast under bursts of concurrent writers.
//!
//! The modules follow the data, in the layer order of ARCHITECTURE.md (imports point one
//! way; `tests/house_imports.rs` checks it): [`scenario`] (what to run) -> [`plan`] (seeded
//! schedules, pure) -> [`observe`] (what happened, as data) -> [`protocol`] (the wire
//! between the processes) -> [`workload`] (op kinds' SQL and rows) -> [`runner`] (the
//! parent process) | [`worker`] (the child process) -> [`check`] (verification, ledger,
//! exclusion, verdict) -> [`report`] and [`render`] -> [`releases`] -> [`run`] (one
//! scenario and seed; the typed events it and the commands emit, `run::event`) -> the
//! commands built on it -> [`reporter`] (the one console that renders the events) ->
//! [`cli`] (clap, exit codes; nothing below it knows clap).

// First: its macros (`errln!`, `err!`) are used by every module below.
#[macro_use]
pub mod diag;

pub mod adapter_check;
pub mod check;
pub mod cli;
pub mod compare;
pub mod determinism;
pub mod error;
pub mod exit;
pub mod explore;
pub mod io_sweep;
pub mod nightly;
pub mod observe;
pub mod plan;
pub mod protocol;
pub mod releases;
pub mod render;
pub mod replay;
pub mod report;
pub mod reporter;
pub mod run;
pub mod runner;
pub mod scenario;
pub mod shrink;
pub mod signals;
pub mod worker;
pub mod workload;
