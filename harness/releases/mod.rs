//! Other SQLite releases as a run axis (`--sqlite`, `[sqlite] version`, `[matrix] sqlite`).
//!
//! walburst bundles one SQLite. For any other release it offers ([`version::RELEASES`]),
//! [`prepare`] builds that release as a shared library and walburst once more against it,
//! cached per release ([`cache`]); a release no crate bundles comes from an npm package's
//! amalgamation ([`npm`]: downloaded, integrity and source id checked). A run whose scenario asks for a release this binary does
//! not run is handed whole to that release's binary (`run::delegate`): workers *and* the
//! verification (integrity_check, ledger) then run on the asked release, and the asking
//! process only collects the report. [`origin`] says what a process actually runs; every
//! report records it, and a mismatch is refused. [`worker_env`] puts a prepared library
//! first on an external worker's library path.
//!
//! [`known_bugs`] is the table of SQLite bugs that hit multi-process apps, by release, and
//! [`advise`] reads the SQLite a user's program links and looks it up there.
//!
//! Layering: `version` lives in the scenario layer (`scenario::release`), `origin` in exec
//! (`exec::origin`), the hand-over of a run in `run::delegate`, the `sqlite` command in
//! `cli::sqlite`; this module (cache, prepare, worker_env) imports none of them back.

pub mod advise;
pub mod build_step;
pub mod cache;
pub mod known_bugs;
pub mod npm;
pub mod prepare;
pub mod worker_env;

pub use crate::scenario::release as version;
/// Which releases exist is scenario vocabulary (a scenario names one); what a process runs
/// is exec's (every worker checks it). Both are named here too, where they are used most.
pub use crate::worker::origin;
pub use version::SqliteVersion;
