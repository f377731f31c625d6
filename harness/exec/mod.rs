//! Execution: the runner, the worker processes it starts, and what runs inside them
//! (actors, strategies, guards, the kanban workload).

pub mod actor;
pub mod clock;
pub mod connect;
pub mod contract;
pub mod coordinator;
mod event;
pub mod gate;
pub mod guard;
pub mod interrupt;
pub mod kanban;
pub mod lifeline;
pub mod list_append;
pub mod origin;
pub mod procs;
pub mod protocol;
#[cfg(test)]
mod protocol_doc_tests;
mod reader;
pub mod reap;
pub mod runner;
pub mod scheduler;
#[cfg(test)]
mod schema_check;
pub mod sink;
pub mod sqlite;
mod start_error;
pub mod step;
pub mod strategy;
pub mod tamper;
pub mod vfs;
pub mod violation;
pub mod watch;
pub mod worker;
