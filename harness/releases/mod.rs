//! Other SQLite releases as a run axis (`--sqlite`, `[sqlite] version`, `[matrix] sqlite`).
//!
//! walburst bundles one SQLite. For any other release it offers ([`version::RELEASES`]),
//! [`prepare`] builds that release as a shared library and walburst once more against it,
//! cached per release ([`cache`]). A run whose scenario asks for a release this binary does
//! not run is handed whole to that release's binary ([`delegate`]): workers *and* the
//! verification (integrity_check, ledger) then run on the asked release, and the asking
//! process only collects the report. [`origin`] says what a process actually runs; every
//! report records it, and a mismatch is refused. [`worker_env`] puts a prepared library
//! first on an external worker's library path.
//!
//! Layering: `version` and `origin` are leaves (the scenario layer names versions);
//! `delegate` sits at the run level.

pub mod cache;
pub mod cli;
pub mod delegate;
pub mod origin;
pub mod prepare;
pub mod version;
pub mod worker_env;

pub use version::SqliteVersion;
